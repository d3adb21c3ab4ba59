"""The result of one delivery attempt (投递结果), shared by every transport."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

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
