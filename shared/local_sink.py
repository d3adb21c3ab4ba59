"""The embedded mode's local sink (本地收件箱): customers' SMS and mail, when `make run` has no
gateway for their channel, are appended to `KESU_LOCAL_SINK_DIR/messages.jsonl` (one JSON object
a line) instead of waiting as `not_configured`, and staff read them at `/dev/sink`. A message's
attachments (a scheduled report's workbook and chart page) are kept beside the file, under
`attachments/<message id>/`, and listed in its line. The worker writes
(`services/sla_worker/delivery/sink.py`), the API reads: the format lives here once. Never on in
a deployment: only `make run` (services/devstack) sets the directory."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FILE_NAME = "messages.jsonl"
ATTACHMENTS = "attachments"
# Message ids are ours (UUIDs); anything else names no directory of the sink.
_MESSAGE_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class SunkMessage:
    at: datetime
    channel: str  # sms / email
    to: str
    subject: str | None
    body: str
    message_id: str
    attachments: tuple[str, ...] = ()  # file names under attachments/<message id>/

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.astimezone(SHANGHAI).isoformat(),
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "message_id": self.message_id,
            "attachments": list(self.attachments),
        }


def file_name(name: str) -> str:
    """An attachment's name as a plain file name of the sink's directory (no separators, no
    leading dot); the Chinese is kept."""
    plain = re.sub(r"[/\\\x00-\x1f]", "_", name).lstrip(".")
    return plain[:200] or "attachment"


def write_message(
    directory: Path, message: SunkMessage, files: Sequence[tuple[str, bytes]] = ()
) -> SunkMessage:
    """Keep the attachments, then append the message listing them (one write of one line:
    whole lines even with several workers); returns the message as written. A message sent
    again (a retry) writes its files again, whole."""
    if not _MESSAGE_ID.match(message.message_id):
        raise ValueError(f"not a message id: {message.message_id!r}")
    directory.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    if files:
        folder = directory / ATTACHMENTS / message.message_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files:
            names.append(file_name(name))
            temporary = folder / f".{names[-1]}.part"
            temporary.write_bytes(content)
            temporary.replace(folder / names[-1])
    message = SunkMessage(
        message.at,
        message.channel,
        message.to,
        message.subject,
        message.body,
        message.message_id,
        tuple(names),
    )
    line = (json.dumps(message.as_json(), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(directory / FILE_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return message


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
                attachments=tuple(data.get("attachments", ())),
            )
        )
    return messages


def attachment_path(directory: Path, message_id: str, name: str) -> Path | None:
    """The kept file `name` of message `message_id`, or None: only a name found in that
    message's own folder, so no request reaches outside it."""
    if not _MESSAGE_ID.match(message_id):
        return None
    folder = directory / ATTACHMENTS / message_id
    try:
        kept = {entry.name for entry in folder.iterdir() if not entry.name.startswith(".")}
    except OSError:
        return None
    return folder / name if name in kept else None
