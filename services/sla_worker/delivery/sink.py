"""The embedded mode's local sink as a channel adapter: what `make run` has no SMS gateway or
SMTP server for is "delivered" to a file (`shared.local_sink`), so a newcomer can read the
acknowledgement and follow the survey link (at /dev/sink). A scheduled report's mail keeps its
attachments (the workbook and the chart page) beside the file, listed and downloadable there."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.sla_worker.delivery.email import Attachment
from services.sla_worker.delivery.outcome import DeliveryOutcome, describe
from shared.local_sink import SunkMessage, write_message


@dataclass(frozen=True, slots=True)
class LocalSink:
    directory: Path

    async def send(
        self,
        *,
        channel: str,
        to: str,
        subject: str | None,
        text: str,
        message_id: str,
        attachments: Sequence[Attachment] = (),
    ) -> DeliveryOutcome:
        message = SunkMessage(datetime.now(UTC), channel, to, subject, text, message_id)
        files = [(name, content) for name, content, _ in attachments]
        try:
            await asyncio.to_thread(write_message, self.directory, message, files)
        except OSError as exc:
            return DeliveryOutcome.retry(f"local sink: {describe(exc)}")
        except ValueError as exc:  # not one of our message ids: nothing to retry
            return DeliveryOutcome.refused(f"local sink: {exc}")
        return DeliveryOutcome.delivered()
