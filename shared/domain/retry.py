"""Outbox retry schedule (通知重试计划).

A notification is attempted at once; after the n-th failed attempt it waits
``RETRY_SCHEDULE[n - 1]``. When the schedule is exhausted (8 attempts over about 41 hours, the
Standard Webhooks / Svix shape) the message is dead-lettered (死信) for a person to replay.

Retry-After (a receiver asking us to back off) is honoured within bounds:

* never sooner than the schedule's step: a ``Retry-After: 0`` must not turn the outbox into a
  tight loop against a struggling receiver, and the budget of attempts keeps its span;
* never later than ``MAX_RETRY_AFTER`` (24 h, the schedule's longest step): a hostile or
  mistaken ``Retry-After: 999999999`` must not park a message for years; we rather try again,
  spend an attempt and eventually dead-letter it where an operator sees it.

Pure and deterministic: `now` is an argument, and no jitter is added (a caller that fans out
many messages to one receiver can add its own).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
MAX_RETRY_AFTER = timedelta(hours=24)
_RETRY_AFTER_PARSE_LIMIT = 10**9  # seconds, about 31 years


def next_attempt_at(
    attempts_made: int, now: datetime, retry_after: timedelta | None = None
) -> datetime | None:
    """When to try again after `attempts_made` attempts; None means dead-letter (死信).

    `attempts_made` = 0 (nothing tried yet) is due at `now`. `retry_after` is the receiver's
    Retry-After, bounded as the module docstring explains.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if attempts_made < 0:
        raise ValueError("attempts_made must be >= 0")
    if attempts_made == 0:
        return now
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    step = RETRY_SCHEDULE[attempts_made - 1]
    delay = step if retry_after is None else max(step, min(retry_after, MAX_RETRY_AFTER))
    return now + delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Parse an HTTP ``Retry-After`` (delay-seconds or HTTP-date, RFC 9110 §10.2.3).

    Returns None when absent or unparseable (the schedule then applies); a date in the past
    gives a zero delay, which `next_attempt_at` raises to the schedule's step.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # Clamped so an absurd value cannot overflow timedelta; the cap applies later anyway.
        return timedelta(seconds=min(int(text), _RETRY_AFTER_PARSE_LIMIT))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))
