"""Deadline arithmetic on real dates (SPEC §4).

Expected values come from the State Council schedules, not from the code: 2025 春节
1-28..2-04 off, make-up days (调休上班) Sun 1-26 and Sat 2-08; 2025 国庆/中秋 10-01..10-08 off,
make-up Sun 9-28 and Sat 10-11; 2026 国庆 10-01..10-07 off, make-up Sun 9-20 and Sat 10-10.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.calendar_data import default_calendar
from shared.domain.calendar import BusinessCalendar, DayOverride, DayType, Due
from shared.domain.enums import DurationUnit

SH = ZoneInfo("Asia/Shanghai")
WD = DurationUnit.WORKING_DAYS
BH = DurationUnit.BUSINESS_HOURS
H = DurationUnit.HOURS


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return default_calendar()


@pytest.fixture(scope="module")
def lunch_cal() -> BusinessCalendar:
    """The seeded calendar with a 12:00–13:00 lunch break."""
    seeded = default_calendar()
    return BusinessCalendar(
        overrides=seeded.overrides,
        known_from=seeded.known_from,
        known_until=seeded.known_until,
        lunch_start=time(12),
        lunch_end=time(13),
    )


# -- days ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 1, 26), True),  # Sunday, 春节 make-up day
        (date(2025, 1, 28), False),  # Tuesday, 除夕
        (date(2025, 2, 4), False),  # Tuesday, last day of 春节
        (date(2025, 2, 5), True),
        (date(2025, 2, 8), True),  # Saturday, 春节 make-up day
        (date(2025, 9, 28), True),  # Sunday, 国庆 make-up day
        (date(2025, 10, 8), False),  # Wednesday, last day of 国庆/中秋
        (date(2025, 10, 11), True),  # Saturday, 国庆 make-up day
        (date(2025, 10, 12), False),  # an ordinary Sunday
        (date(2026, 9, 20), True),  # Sunday, 国庆 make-up day
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, 国庆 make-up day
    ],
)
def test_working_days_follow_the_published_schedule(
    cal: BusinessCalendar, day: date, working: bool
) -> None:
    assert cal.is_working_day(day) is working
    assert cal.is_provisional_day(day) is False


def test_working_moments_are_half_open_and_skip_lunch(lunch_cal: BusinessCalendar) -> None:
    assert lunch_cal.is_working_moment(sh(2025, 3, 3, 9))
    assert not lunch_cal.is_working_moment(sh(2025, 3, 3, 8, 59, 59))
    assert not lunch_cal.is_working_moment(sh(2025, 3, 3, 18))
    assert lunch_cal.is_working_moment(sh(2025, 3, 3, 11, 59))
    assert not lunch_cal.is_working_moment(sh(2025, 3, 3, 12, 30))
    assert lunch_cal.is_working_moment(sh(2025, 3, 3, 13))
    assert lunch_cal.is_working_moment(sh(2025, 2, 8, 10))  # make-up Saturday
    assert not lunch_cal.is_working_moment(sh(2025, 10, 2, 10))  # 国庆
    # 02:00 UTC is 10:00 in Shanghai.
    assert lunch_cal.is_working_moment(datetime(2025, 3, 3, 2, tzinfo=UTC))


# -- working days (N个工作日) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # The example: the National Day week is skipped.
        (sh(2026, 9, 30, 14), 1, sh(2026, 10, 8, 18)),
        (sh(2026, 9, 30, 14), 2, sh(2026, 10, 9, 18)),
        (sh(2026, 9, 30, 14), 3, sh(2026, 10, 10, 18)),  # make-up Saturday counts
        (sh(2026, 9, 30, 14), 4, sh(2026, 10, 12, 18)),
        # Friday before 春节 2025: the make-up Sunday is the first working day.
        (sh(2025, 1, 24, 15), 1, sh(2025, 1, 26, 18)),
        (sh(2025, 1, 24, 15), 2, sh(2025, 1, 27, 18)),
        (sh(2025, 1, 24, 15), 3, sh(2025, 2, 5, 18)),
        # Events on a Saturday: counting starts on Monday ...
        (sh(2025, 3, 8, 10), 1, sh(2025, 3, 10, 18)),
        # ... or on the make-up day when one comes first,
        (sh(2025, 1, 25, 10), 1, sh(2025, 1, 26, 18)),
        (sh(2025, 9, 27, 10), 1, sh(2025, 9, 28, 18)),
        # ... or after the holiday when the Saturday is inside one.
        (sh(2025, 10, 4, 10), 1, sh(2025, 10, 9, 18)),
        # An event on a make-up Saturday: that day is the event's day, not counted.
        (sh(2025, 2, 8, 10), 1, sh(2025, 2, 10, 18)),
        # After hours and before hours: the event's day is not counted either way.
        (sh(2025, 3, 3, 19, 30), 1, sh(2025, 3, 4, 18)),
        (sh(2025, 3, 3, 7), 1, sh(2025, 3, 4, 18)),
        (sh(2025, 3, 3, 7), 5, sh(2025, 3, 10, 18)),
        # Resolution level 3 (15 working days) across 国庆 2025: Sep 28 (make-up Sunday),
        # 29, 30, Oct 9, 10, 11 (make-up Saturday), then Oct 13–17 and Oct 20–23.
        (sh(2025, 9, 26, 11), 15, sh(2025, 10, 23, 18)),
    ],
)
def test_working_days_end_at_close_of_the_nth_working_day(
    cal: BusinessCalendar, start: datetime, n: int, due: datetime
) -> None:
    result = cal.add(start, n, WD)
    assert result == Due(due.astimezone(UTC), False)
    assert result.at.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (sh(2025, 3, 3, 7), sh(2025, 3, 3, 18)),  # before opening: today
        (sh(2025, 3, 3, 18), sh(2025, 3, 3, 18)),  # at closing: still today
        (sh(2025, 3, 3, 18, 0, 1), sh(2025, 3, 4, 18)),  # after closing: next working day
        (sh(2025, 3, 8, 10), sh(2025, 3, 10, 18)),  # Saturday: Monday
        (sh(2025, 10, 1, 10), sh(2025, 10, 9, 18)),  # holiday: the first day after it
    ],
)
def test_zero_working_days_means_by_the_end_of_the_current_working_day(
    cal: BusinessCalendar, start: datetime, due: datetime
) -> None:
    assert cal.add(start, 0, WD).at == due


def test_the_input_time_zone_does_not_matter(cal: BusinessCalendar) -> None:
    start = sh(2026, 9, 30, 23, 30)  # still 9-30 in Shanghai, 15:30 UTC
    expected = sh(2026, 10, 8, 18).astimezone(UTC)
    for same_instant in (start, start.astimezone(UTC), start.astimezone(ZoneInfo("Europe/Paris"))):
        assert cal.add(same_instant, 1, WD).at == expected
    # 2026-10-07 17:00 UTC (a holiday there) is 10-08 01:00 in Shanghai, a working day that
    # is the event's day and so is not counted.
    assert cal.add(datetime(2026, 10, 7, 17, tzinfo=UTC), 1, WD).at == sh(2026, 10, 9, 18)


# -- business hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (sh(2025, 3, 3, 9), 9, sh(2025, 3, 3, 18)),  # a full day ends at 18:00, not 09:00
        (sh(2025, 3, 3, 9), 10, sh(2025, 3, 4, 10)),
        (sh(2025, 3, 3, 7), 1, sh(2025, 3, 3, 10)),  # before hours: from opening
        (sh(2025, 3, 3, 20), 1, sh(2025, 3, 4, 10)),  # after hours: from next opening
        (sh(2025, 3, 7, 17), 2, sh(2025, 3, 10, 10)),  # Friday to Monday
        (sh(2026, 9, 30, 16), 4, sh(2026, 10, 8, 11)),  # across 国庆 2026
        (sh(2025, 1, 24, 17), 2, sh(2025, 1, 26, 10)),  # onto the make-up Sunday
        (sh(2025, 3, 3, 10, 15), 3, sh(2025, 3, 3, 13, 15)),
    ],
)
def test_business_hours(cal: BusinessCalendar, start: datetime, n: int, due: datetime) -> None:
    assert cal.add(start, n, BH) == Due(due.astimezone(UTC), False)


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (sh(2025, 3, 3, 10), 3, sh(2025, 3, 3, 14)),  # 10–12 and 13–14
        (sh(2025, 3, 3, 11), 1, sh(2025, 3, 3, 12)),  # ends as lunch starts
        (sh(2025, 3, 3, 11), 2, sh(2025, 3, 3, 14)),
        (sh(2025, 3, 3, 12, 30), 1, sh(2025, 3, 3, 14)),  # starting during lunch
        (sh(2025, 3, 3, 9), 8, sh(2025, 3, 3, 18)),  # an 8-hour day
        (sh(2025, 3, 3, 9), 9, sh(2025, 3, 4, 10)),
        (sh(2026, 9, 30, 17), 4, sh(2026, 10, 8, 12)),  # 17–18, then 9–12 after 国庆
        (sh(2026, 9, 30, 17), 5, sh(2026, 10, 8, 14)),
    ],
)
def test_business_hours_skip_the_lunch_break(
    lunch_cal: BusinessCalendar, start: datetime, n: int, due: datetime
) -> None:
    assert lunch_cal.add(start, n, BH).at == due


def test_zero_business_hours_is_the_first_working_moment(lunch_cal: BusinessCalendar) -> None:
    assert lunch_cal.add(sh(2025, 3, 3, 10, 5), 0, BH).at == sh(2025, 3, 3, 10, 5)
    assert lunch_cal.add(sh(2025, 3, 3, 12, 30), 0, BH).at == sh(2025, 3, 3, 13)
    assert lunch_cal.add(sh(2025, 3, 3, 18), 0, BH).at == sh(2025, 3, 3, 18)
    assert lunch_cal.add(sh(2025, 3, 3, 19), 0, BH).at == sh(2025, 3, 4, 9)
    assert lunch_cal.add(sh(2025, 10, 1, 10), 0, BH).at == sh(2025, 10, 9, 9)


# -- calendar hours --------------------------------------------------------------------------


def test_hours_are_calendar_hours(cal: BusinessCalendar) -> None:
    assert cal.add(sh(2025, 3, 3, 22), 3, H) == Due(sh(2025, 3, 4, 1).astimezone(UTC), False)
    assert cal.add(sh(2025, 3, 3, 22), 24, H).at == sh(2025, 3, 4, 22)
    assert cal.add(sh(2025, 10, 1, 10), 24, H).at == sh(2025, 10, 2, 10)  # holidays count
    assert cal.add(sh(2027, 10, 1, 10), 24, H).provisional is False  # no calendar used


def test_hours_are_absolute_across_a_clock_change() -> None:
    berlin = BusinessCalendar(
        tz="Europe/Berlin", known_from=date(2025, 1, 1), known_until=date(2025, 12, 31)
    )
    start = datetime(2025, 3, 29, 12, tzinfo=ZoneInfo("Europe/Berlin"))  # CET, +01:00
    # 24 real hours later the clocks read 13:00 (CEST, +02:00).
    assert berlin.add(start, 24, H).at == datetime(2025, 3, 30, 11, tzinfo=UTC)


# -- years the calendar does not know -------------------------------------------------------


def test_unknown_years_use_weekends_and_fixed_date_holidays(cal: BusinessCalendar) -> None:
    assert cal.known_until == date(2026, 12, 31)
    assert cal.is_provisional_day(date(2027, 1, 1))
    assert not cal.is_working_day(date(2027, 1, 1))  # 元旦, a Friday
    assert not cal.is_working_day(date(2027, 10, 1))  # 国庆, a Friday
    assert cal.is_working_day(date(2027, 10, 4))  # Monday
    # Known limitation: lunar holidays cannot be guessed; 2027 春节 (Feb 6) is missing.
    assert cal.is_working_day(date(2027, 2, 8))


def test_a_deadline_in_an_unknown_year_is_provisional(cal: BusinessCalendar) -> None:
    # Thursday 2026-12-31, 1 working day: Friday 2027-01-01 is 元旦, so Monday 01-04.
    assert cal.add(sh(2026, 12, 31, 10), 1, WD) == Due(sh(2027, 1, 4, 18).astimezone(UTC), True)
    # The same rule inside the known range is not provisional.
    assert cal.add(sh(2026, 12, 30, 10), 1, WD) == Due(sh(2026, 12, 31, 18).astimezone(UTC), False)
    assert cal.add(sh(2027, 9, 30, 14), 1, WD) == Due(sh(2027, 10, 4, 18).astimezone(UTC), True)
    assert cal.add(sh(2026, 12, 31, 17), 2, BH) == Due(sh(2027, 1, 4, 10).astimezone(UTC), True)
    # Before the known range too (2003 is outside chinesecalendar's 2004–2026).
    assert cal.add(sh(2003, 9, 30, 10), 1, WD) == Due(sh(2003, 10, 6, 18).astimezone(UTC), True)


def test_far_dates_and_old_summer_time() -> None:
    cal = default_calendar()
    # Shanghai kept summer time (UTC+9) until 1991: 18:00 local was 09:00 UTC in July 1990.
    assert cal.add(sh(1990, 7, 2, 10), 1, WD) == Due(datetime(1990, 7, 3, 9, tzinfo=UTC), True)
    assert cal.add(sh(2300, 7, 2, 10), 1, WD) == Due(datetime(2300, 7, 3, 10, tzinfo=UTC), True)
    # Far requests do not disturb ordinary ones.
    assert cal.add(sh(2026, 9, 30, 14), 1, WD) == Due(datetime(2026, 10, 8, 10, tzinfo=UTC), False)
    assert cal.working_time_between(sh(1990, 7, 2, 17), sh(2026, 9, 30, 10)) > timedelta(0)


# -- working time, warnings and pauses -------------------------------------------------------


def test_working_time_between(cal: BusinessCalendar, lunch_cal: BusinessCalendar) -> None:
    # Friday 17:00 → make-up Sunday 10:00 before 春节 2025: 1 h + 1 h.
    assert cal.working_time_between(sh(2025, 1, 24, 17), sh(2025, 1, 26, 10)) == timedelta(hours=2)
    assert cal.working_time_between(sh(2025, 1, 26, 10), sh(2025, 1, 24, 17)) == -timedelta(hours=2)
    assert cal.working_time_between(sh(2025, 10, 1), sh(2025, 10, 8, 23)) == timedelta(0)
    assert lunch_cal.working_time_between(sh(2025, 3, 3, 11), sh(2025, 3, 3, 14)) == timedelta(
        hours=2
    )
    assert cal.time_remaining(sh(2025, 3, 3, 17), sh(2025, 3, 4, 10), BH) == timedelta(hours=2)
    assert cal.time_remaining(sh(2025, 3, 3, 17), sh(2025, 3, 4, 10), H) == timedelta(hours=17)


def test_warning_at(cal: BusinessCalendar) -> None:
    # Monday 09:00 + 4 working days = Friday 18:00: 45 working hours, 75 % = 33 h 45 min,
    # i.e. three days and 6 h 45 min into Thursday.
    start = sh(2025, 3, 3, 9)
    due = cal.add(start, 4, WD).at
    assert due == sh(2025, 3, 7, 18)
    assert cal.warning_at(start, due, WD) == sh(2025, 3, 6, 15, 45)
    assert cal.warning_at(start, due, WD, threshold=1.0) == due
    # Calendar hours: three quarters of 24 h.
    assert cal.warning_at(start, start + timedelta(hours=24), H) == sh(2025, 3, 4, 3)


def test_pauses_move_the_deadline_by_paused_working_time(cal: BusinessCalendar) -> None:
    due = cal.add(sh(2026, 9, 30, 14), 1, WD)
    assert due.at == sh(2026, 10, 8, 18)
    # Awaiting the customer 9-30 15:00 → 10-08 10:00: 3 h + 1 h of working time.
    pauses = [(sh(2026, 9, 30, 15), sh(2026, 10, 8, 10))]
    assert cal.paused_time(WD, pauses) == timedelta(hours=4)
    assert cal.add_pauses(due, WD, pauses) == Due(sh(2026, 10, 9, 13).astimezone(UTC), False)
    # A pause inside the holiday costs nothing; overlapping pauses count once.
    assert cal.add_pauses(due, WD, [(sh(2026, 10, 2), sh(2026, 10, 5))]) == due
    twice = [(sh(2026, 9, 30, 15), sh(2026, 9, 30, 17)), (sh(2026, 9, 30, 16), sh(2026, 9, 30, 18))]
    assert cal.paused_time(BH, twice) == timedelta(hours=3)
    # A whole working day paused moves a working-days deadline by exactly one working day.
    assert cal.extend_for_pause(due, WD, timedelta(hours=9)).at == sh(2026, 10, 9, 18)
    # Calendar hours: the paused calendar time, holidays included.
    hours_due = cal.add(sh(2026, 10, 1, 10), 24, H)
    moved = cal.add_pauses(hours_due, H, [(sh(2026, 10, 1, 12), sh(2026, 10, 1, 17))])
    assert moved.at == sh(2026, 10, 2, 15)


def test_a_pause_of_zero_changes_nothing(cal: BusinessCalendar) -> None:
    due = cal.add(sh(2026, 9, 30, 14), 1, WD)
    for unit in DurationUnit:
        assert cal.extend_for_pause(due, unit, timedelta(0)) == due
        assert cal.add_pauses(due, unit, []) == due


def test_provisional_pauses(cal: BusinessCalendar) -> None:
    due = cal.add(sh(2026, 12, 28, 10), 3, WD)
    assert due == Due(sh(2026, 12, 31, 18).astimezone(UTC), False)
    moved = cal.extend_for_pause(due, WD, timedelta(hours=1))
    assert moved == Due(sh(2027, 1, 4, 10).astimezone(UTC), True)
    assert cal.extend_for_pause(Due(due.at, True), WD, timedelta(0)).provisional


# -- construction and misuse -----------------------------------------------------------------


def test_overrides_build_a_calendar() -> None:
    overrides = [
        DayOverride(day=date(2030, 10, 1), type=DayType.HOLIDAY, name="国庆节"),
        DayOverride(day=date(2030, 10, 12), type=DayType.WORKDAY, name="国庆节调休"),
    ]
    cal = BusinessCalendar(
        overrides=overrides, known_from=date(2030, 1, 1), known_until=date(2030, 12, 31)
    )
    assert not cal.is_working_day(date(2030, 10, 1))  # Tuesday
    assert cal.is_working_day(date(2030, 10, 12))  # Saturday
    # Inside the known range nothing else is assumed: a Wednesday 1 May works.
    assert cal.is_working_day(date(2030, 5, 1))
    assert not cal.is_provisional_day(date(2030, 5, 1))
    assert cal.overrides == tuple(overrides)


def test_misuse_is_refused(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.add(datetime(2025, 3, 3, 10), 1, WD)  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        cal.add(sh(2025, 3, 3, 10), -1, BH)
    with pytest.raises(ValueError, match="conflicting"):
        BusinessCalendar(
            overrides=[
                DayOverride(day=date(2030, 1, 1), type=DayType.HOLIDAY),
                DayOverride(day=date(2030, 1, 1), type=DayType.WORKDAY),
            ],
            known_from=date(2030, 1, 1),
            known_until=date(2030, 12, 31),
        )
    with pytest.raises(ValueError, match="lunch"):
        BusinessCalendar(
            known_from=date(2030, 1, 1), known_until=date(2030, 12, 31), lunch_start=time(12)
        )
    with pytest.raises(ValueError, match="pause ends before"):
        cal.paused_time(BH, [(sh(2025, 3, 3, 12), sh(2025, 3, 3, 11))])
    with pytest.raises(AttributeError):
        cal._idx = None  # type: ignore[assignment]
