"""The result of one delivery attempt (投递结果), shared by every transport, and what it means
for the row that was sent (`settlement_for`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.db.outbox import Settlement
from shared.domain.retry import MAX_ATTEMPTS, next_attempt_at

_MAX_ERROR_CHARS = 300
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]{1,200}")


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"  # accepted by the receiver (2xx / SMTP 250)
    RETRY = "retry"  # may succeed later: schedule the next attempt (shared.domain.retry)
    GONE = "gone"  # webhook 410: the caller disables the subscription
    REFUSED = "refused"  # our SSRF policy refused the target; nothing was sent
    FAILED = "failed"  # permanent for this message (bad address, rejected content, bad secret)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What the delivery log records. `error` is for people and never holds a secret."""

    status: DeliveryStatus
    http_status: int | None = None
    retry_after: timedelta | None = None
    error: str | None = None

    @classmethod
    def delivered(cls, http_status: int | None = None) -> DeliveryOutcome:
        return cls(DeliveryStatus.DELIVERED, http_status)

    @classmethod
    def retry(
        cls, error: str, *, http_status: int | None = None, retry_after: timedelta | None = None
    ) -> DeliveryOutcome:
        return cls(DeliveryStatus.RETRY, http_status, retry_after, _clip(error))

    @classmethod
    def gone(cls, http_status: int) -> DeliveryOutcome:
        return cls(DeliveryStatus.GONE, http_status, error="receiver answered 410 Gone")

    @classmethod
    def refused(cls, error: str) -> DeliveryOutcome:
        return cls(DeliveryStatus.REFUSED, error=_clip(error))

    @classmethod
    def failed(cls, error: str, *, http_status: int | None = None) -> DeliveryOutcome:
        return cls(DeliveryStatus.FAILED, http_status, error=_clip(error))


def settlement_for(outcome: DeliveryOutcome, *, attempts_before: int, now: datetime) -> Settlement:
    """Delivered; retried on the back-off schedule (Retry-After honoured within bounds); or
    dead-lettered (死信) when the schedule is spent or the failure is permanent (410 Gone, a
    refused SSRF target, a rejected address or message)."""
    code = outcome.http_status
    if outcome.status is DeliveryStatus.DELIVERED:
        return Settlement("delivered", status_code=code)
    if outcome.status is DeliveryStatus.RETRY:
        when = next_attempt_at(attempts_before + 1, now, outcome.retry_after)
        if when is None:
            error = f"gave up after {MAX_ATTEMPTS} attempts; last: {outcome.error}"
            return Settlement("dead", error=error, status_code=code)
        return Settlement("pending", next_attempt_at=when, error=outcome.error, status_code=code)
    return Settlement("dead", error=outcome.error, status_code=code)


def _clip(text: str) -> str:
    # Receivers and libraries can put anything in an error; the log row stays bounded.
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def describe(exc: BaseException) -> str:
    """`TypeName: message` for the log; library messages here hold no URLs or credentials."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def is_header_token(value: str) -> bool:
    """Whether an id can travel in an HTTP header as is (printable ASCII, no spaces).

    Checked before sending: a bad id would otherwise fail inside the HTTP library on every
    attempt and be retried for two days instead of failing once.
    """
    return _HEADER_TOKEN.fullmatch(value) is not None
