"""Logs without personal data or credentials (个人信息不入日志), for both services.

What fails can carry what it was working on: a validation error quotes its input (a phone
number), a relay's reply echoes an address, a URL path holds whatever a client put there (an API
key). `RedactPersonalData` masks a record's message, exception text and stack in place before
any handler formats it; attach it to the loggers and handlers a process owns.

Masking by pattern cannot recognise a name or a message text, so code that may hold those logs
an exception's type and stack, never its message.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

MASK = "<redacted>"
_EDGE = "(?<![0-9A-Za-z])", "(?![0-9A-Za-z])"  # not inside a longer word or number
PERSONAL_DATA: tuple[re.Pattern[str], ...] = (
    # Email addresses (ASCII: what relays and gateways echo).
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    # International numbers as E.164, however spaced.
    re.compile(r"\+\d[\d -]{5,17}\d"),
    # Chinese mobiles, with or without 86 / 0086, as 13912345678, 139 1234 5678, 139-1234-5678.
    re.compile(_EDGE[0] + r"(?:(?:00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}" + _EDGE[1]),
    # Landlines with their area code: 010-12345678, 0755 1234567.
    re.compile(r"(?<![0-9A-Za-z-])0\d{2,3}[ -]?\d{7,8}" + _EDGE[1]),
)


def mask(text: str, patterns: Iterable[re.Pattern[str]] = PERSONAL_DATA) -> str:
    for pattern in patterns:
        text = pattern.sub(MASK, text)
    return text


class RedactPersonalData(logging.Filter):
    """Masks a record in place (all handlers then see the masked text) and never drops it.
    `extra`: more patterns than personal data (a service's credential formats)."""

    def __init__(self, extra: Iterable[re.Pattern[str]] = ()) -> None:
        super().__init__()
        self.patterns = (*PERSONAL_DATA, *extra)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage(), self.patterns)
        record.args = None
        if record.exc_info is not None:
            # Formatters would render the exception (and its message) again from exc_info.
            if record.exc_info[0] is not None:
                text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                record.exc_text = mask(text, self.patterns)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text, self.patterns)
        if record.stack_info:
            record.stack_info = mask(record.stack_info, self.patterns)
        return True


def protect(
    redact: RedactPersonalData, loggers: Iterable[logging.Logger], *, handlers_of: logging.Logger
) -> None:
    """Attach `redact` to `loggers` (records logged on them) and to the handlers of
    `handlers_of` (every record that reaches them, whoever logged it); once each."""
    targets: list[logging.Filterer] = [*loggers, *handlers_of.handlers]
    for target in targets:
        if not any(isinstance(f, RedactPersonalData) for f in target.filters):
            target.addFilter(redact)
