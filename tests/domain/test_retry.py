"""Outbox retry schedule (通知重试计划) and Retry-After handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.retry import (
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER,
    RETRY_SCHEDULE,
    next_attempt_at,
    parse_retry_after,
)

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_schedule_is_the_documented_one() -> None:
    assert [d.total_seconds() for d in RETRY_SCHEDULE] == [
        5,
        5 * 60,
        30 * 60,
        2 * 3600,
        5 * 3600,
        10 * 3600,
        24 * 3600,
    ]
    assert MAX_ATTEMPTS == 8


def test_first_attempt_is_immediate() -> None:
    assert next_attempt_at(0, NOW, None) == NOW


@pytest.mark.parametrize(("attempts", "delay"), list(enumerate(RETRY_SCHEDULE, start=1)))
def test_each_failure_waits_its_step(attempts: int, delay: timedelta) -> None:
    assert next_attempt_at(attempts, NOW, None) == NOW + delay


def test_after_the_last_step_the_message_is_dead_lettered() -> None:
    assert next_attempt_at(len(RETRY_SCHEDULE), NOW, None) is not None
    assert next_attempt_at(len(RETRY_SCHEDULE) + 1, NOW, None) is None
    assert next_attempt_at(100, NOW, timedelta(seconds=1)) is None


def test_retry_after_longer_than_the_step_is_honoured() -> None:
    assert next_attempt_at(1, NOW, timedelta(seconds=90)) == NOW + timedelta(seconds=90)


def test_retry_after_shorter_than_the_step_is_raised_to_the_step() -> None:
    assert next_attempt_at(3, NOW, timedelta(0)) == NOW + timedelta(minutes=30)


def test_retry_after_is_capped_at_24_hours() -> None:
    assert next_attempt_at(1, NOW, timedelta(days=365)) == NOW + MAX_RETRY_AFTER


def test_naive_now_and_negative_attempts_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_attempt_at(1, datetime(2026, 11, 20, 9, 30), None)  # noqa: DTZ001
    with pytest.raises(ValueError, match=">= 0"):
        next_attempt_at(-1, NOW, None)


@given(
    attempts=st.integers(min_value=1, max_value=len(RETRY_SCHEDULE)),
    retry_after=st.one_of(st.none(), st.timedeltas(min_value=timedelta(0))),
)
def test_delay_stays_between_step_and_cap(attempts: int, retry_after: timedelta | None) -> None:
    due = next_attempt_at(attempts, NOW, retry_after)
    assert due is not None
    step = RETRY_SCHEDULE[attempts - 1]
    assert step <= due - NOW <= max(step, MAX_RETRY_AFTER)
    if retry_after is not None and step <= retry_after <= MAX_RETRY_AFTER:
        assert due - NOW == retry_after


@given(st.integers(min_value=1, max_value=len(RETRY_SCHEDULE) - 1))
def test_schedule_never_shrinks(attempts: int) -> None:
    first = next_attempt_at(attempts, NOW, None)
    second = next_attempt_at(attempts + 1, NOW, None)
    assert first is not None
    assert second is not None
    assert first < second


def test_result_keeps_the_callers_zone() -> None:
    shanghai = timezone(timedelta(hours=8))
    local_now = NOW.astimezone(shanghai)
    due = next_attempt_at(1, local_now, None)
    assert due == NOW + timedelta(seconds=5)
    assert due is not None
    assert due.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Fri, 20 Nov 2026 09:32:00 GMT", timedelta(minutes=2)),
        ("Fri, 20 Nov 2026 09:00:00 GMT", timedelta(0)),  # in the past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("²", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_absurd_retry_after_does_not_overflow() -> None:
    parsed = parse_retry_after("9" * 40, NOW)
    assert parsed is not None
    assert next_attempt_at(2, NOW, parsed) == NOW + MAX_RETRY_AFTER
