"""Report periods (Asia/Shanghai weeks Monday–Sunday and calendar months), the arithmetic the
reports use, and when a scheduled report is due (SPEC §6: 09:00 on the first working day, after
long holidays too, on the 2026 State Council schedule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar_data import default_calendar
from shared.domain.reports import (
    Period,
    PeriodUnit,
    WorkingClock,
    due_periods,
    pareto,
    release_at,
)


def test_a_week_runs_monday_to_sunday_in_shanghai_time() -> None:
    week = Period.week_of(date(2026, 11, 25))
    assert (week.first, week.last) == (date(2026, 11, 23), date(2026, 11, 29))
    # Monday 00:00 +08:00 is Sunday 16:00 UTC.
    assert week.start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert week.previous().first == date(2026, 11, 16)
    assert [p.first for p in week.back(3)] == [
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
    ]


def test_a_month_is_a_calendar_month() -> None:
    february = Period.month_of(date(2028, 2, 10))
    assert (february.first, february.last) == (date(2028, 2, 1), date(2028, 2, 29))
    assert Period.month_of(date(2026, 1, 31)).previous().first == date(2025, 12, 1)
    assert february.label == "2028年2月"


def test_pareto_ranks_with_share_and_cumulative_share() -> None:
    """Seed 004 §7: the main causes first."""
    assert pareto([("b", 1), ("a", 3), ("c", 1)]) == [
        ("a", 3, 0.6, 0.6),
        ("b", 1, 0.2, 0.8),
        ("c", 1, 0.2, 1.0),
    ]


def test_weekly_report_due_at_nine_on_the_first_working_day_after_national_day() -> None:
    calendar = default_calendar()
    # Week 28 Sep – 4 Oct 2026: 国庆 runs 1–7 October, so the next week's first working day is
    # Thursday 8 October.
    week = Period.week_of(date(2026, 9, 30))
    assert release_at(week, calendar) == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # 09:00 +08
    # An ordinary week: Monday 09:00.
    assert release_at(Period.week_of(date(2026, 11, 25)), calendar) == datetime(
        2026, 11, 30, 1, 0, tzinfo=UTC
    )
    # The September monthly report is due with it.
    september = Period.month_of(date(2026, 9, 1))
    assert release_at(september, calendar) == datetime(2026, 10, 8, 1, 0, tzinfo=UTC)


def test_spring_festival_week_with_no_working_day_releases_both_weeks_after_it() -> None:
    """Week 16–22 February 2026 has no working day (春节); the reports of 9–15 and 16–22
    February are both due on Tuesday 24 February at 09:00."""
    calendar = default_calendar()
    before = datetime(2026, 2, 24, 0, 59, tzinfo=UTC)
    after = datetime(2026, 2, 24, 1, 0, tzinfo=UTC)
    assert due_periods(PeriodUnit.WEEK, before, calendar) == []
    due = due_periods(PeriodUnit.WEEK, after, calendar)
    assert [p.first for p in due] == [date(2026, 2, 9), date(2026, 2, 16)]
    # Before the holiday ended, the week of 9 February was not due yet.
    assert release_at(Period.week_of(date(2026, 2, 10)), calendar) == after


def test_only_the_latest_released_week_is_due() -> None:
    calendar = default_calendar()
    monday = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 30 November, 09:00 +08
    assert due_periods(PeriodUnit.WEEK, monday, calendar) == [Period.week_of(date(2026, 11, 23))]
    assert due_periods(PeriodUnit.WEEK, datetime(2026, 11, 30, 0, 59, tzinfo=UTC), calendar) == [
        Period.week_of(date(2026, 11, 16))
    ]
    # The monthly report of November on Tuesday 1 December 09:00.
    assert due_periods(PeriodUnit.MONTH, datetime(2026, 12, 1, 1, 0, tzinfo=UTC), calendar) == [
        Period.month_of(date(2026, 11, 1))
    ]


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=365 * 86_400 * 10**6),
    hours=st.integers(min_value=0, max_value=24 * 40),
    minutes=st.integers(min_value=0, max_value=59),
)
def test_working_clock_agrees_with_the_calendar(offset: int, hours: int, minutes: int) -> None:
    """Handling time counted by the clock equals the calendar's working time (调休 and 国庆
    included), to the microsecond."""
    calendar = default_calendar()
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=offset)
    end = start + timedelta(hours=hours, minutes=minutes)
    clock = WorkingClock(calendar, date(2025, 12, 31), date(2027, 2, 20))
    expected = calendar.working_time_between(start, end).total_seconds()
    assert clock.position(end) - clock.position(start) == pytest.approx(expected, abs=1e-6)
