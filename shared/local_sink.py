"""The embedded mode's local sink (本地收件箱): customers' SMS and mail, when `make run` has no
gateway for their channel, are appended to `KESU_LOCAL_SINK_DIR/messages.jsonl` (one JSON object
a line) instead of waiting as `not_configured`, and staff read them at `/dev/sink`. The worker
writes (`services/sla_worker/delivery/sink.py`), the API reads: the format lives here once.
Never on in a deployment: only `make run` (services/devstack) sets the directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FILE_NAME = "messages.jsonl"


@dataclass(frozen=True, slots=True)
class SunkMessage:
    at: datetime
    channel: str  # sms / email
    to: str
    subject: str | None
    body: str
    message_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.astimezone(SHANGHAI).isoformat(),
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "message_id": self.message_id,
        }


def write_message(directory: Path, message: SunkMessage) -> None:
    """Append one message (one write of one line: whole lines even with several workers)."""
    directory.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(message.as_json(), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(directory / FILE_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_messages(directory: Path, *, limit: int = 200) -> list[SunkMessage]:
    """The latest `limit` messages, newest first."""
    path = directory / FILE_NAME
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    messages = []
    for line in reversed(lines):
        data = json.loads(line)
        messages.append(
            SunkMessage(
                at=datetime.fromisoformat(data["at"]),
                channel=data["channel"],
                to=data["to"],
                subject=data["subject"],
                body=data["body"],
                message_id=data["message_id"],
            )
        )
    return messages
