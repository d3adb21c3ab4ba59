"""Worker logs without personal data (个人信息不入日志).

The worker handles customers' phone numbers and email addresses at send time, and what fails
there can carry them: a relay's reply echoes the address, a library error names the number.
Every record of the worker's own loggers (`worker_logger`) and, in the worker process, every
record that reaches a handler (`protect_handlers`, for arq's and shared code's loggers) has its
message, exception text and stack masked before any handler formats it.

Masking by pattern cannot recognise a name or a message text, so code that may hold those (the
send path) logs an exception's type and stack, never its message (`stack_of`).
"""

from __future__ import annotations

import logging
import re
import traceback

MASK = "<redacted>"
_EDGE = "(?<![0-9A-Za-z])", "(?![0-9A-Za-z])"  # not inside a longer word or number
_PATTERNS = (
    # Email addresses (ASCII: what relays and gateways echo).
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    # International numbers as E.164, however spaced.
    re.compile(r"\+\d[\d -]{5,17}\d"),
    # Chinese mobiles, with or without 86 / 0086, as 13912345678, 139 1234 5678, 139-1234-5678.
    re.compile(_EDGE[0] + r"(?:(?:00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}" + _EDGE[1]),
    # Landlines with their area code: 010-12345678, 0755 1234567.
    re.compile(r"(?<![0-9A-Za-z-])0\d{2,3}[ -]?\d{7,8}" + _EDGE[1]),
)


def mask(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class RedactPersonalData(logging.Filter):
    """Masks a record in place (all handlers then see the masked text) and never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info is not None:
            # Formatters would render the exception (and its message) again from exc_info.
            if record.exc_info[0] is not None:
                text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                record.exc_text = mask(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_FILTER = RedactPersonalData()


def worker_logger(name: str) -> logging.Logger:
    """The logger `name` with masking attached (once: loggers are process-wide)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def protect_handlers(logger: logging.Logger | None = None) -> None:
    """Mask whatever reaches the handlers of `logger` (the root logger: every record of the
    process that propagates, arq's included)."""
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def stack_of(exc: BaseException) -> str:
    """Where `exc` was raised (files, lines, code), without its message."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip("\n")
