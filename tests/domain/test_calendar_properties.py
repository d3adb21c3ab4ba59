"""Properties of the deadline arithmetic, checked with hypothesis.

The oracle is a deliberately naive model written here: it asks `chinese_calendar.is_workday`
(not our calendar) which days work and walks day by day through the working periods. The
calendar under test precomputes an index and uses integer arithmetic; they must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from hypothesis import given
from hypothesis import strategies as st

from shared.calendar_data import default_calendar
from shared.domain.calendar import BusinessCalendar
from shared.domain.enums import DurationUnit

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WD = DurationUnit.WORKING_DAYS
BH = DurationUnit.BUSINESS_HOURS
H = DurationUnit.HOURS
WORKING_UNITS = (WD, BH)

PLAIN = default_calendar()
LUNCH = BusinessCalendar(
    overrides=PLAIN.overrides,
    known_from=PLAIN.known_from,
    known_until=PLAIN.known_until,
    lunch_start=time(12),
    lunch_end=time(13, 30),
)
# A zone with summer time and no overrides: exercises the zoneinfo path, not the fixed offset.
DST = BusinessCalendar(
    tz="Europe/Berlin", known_from=date(2024, 1, 1), known_until=date(2027, 12, 31)
)

# Periods of a working day in local time, per calendar, for the oracle.
PERIODS: dict[int, list[tuple[time, time]]] = {
    id(PLAIN): [(time(9), time(18))],
    id(LUNCH): [(time(9), time(12)), (time(13, 30), time(18))],
    id(DST): [(time(9), time(18))],
}
ZONES = {id(PLAIN): SH, id(LUNCH): SH, id(DST): BERLIN}
WORKDAY: dict[int, Callable[[date], bool]] = {
    id(PLAIN): chinese_calendar.is_workday,
    id(LUNCH): chinese_calendar.is_workday,
    id(DST): lambda d: d.weekday() < 5,
}

calendars = st.sampled_from([PLAIN, LUNCH])
# Starts early enough that 60 working days or 300 working hours stay inside 2026.
starts = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2026, 8, 31, 23, 59, 59),  # noqa: DTZ001
    timezones=st.just(SH),
)
# Many starts on the hour, on the edges of working periods, where off-by-one errors live.
edge_starts = st.builds(
    lambda d, h, m: datetime.combine(d, time(h, m), tzinfo=SH),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 8, 31)),
    st.sampled_from([0, 8, 9, 11, 12, 13, 17, 18, 23]),
    st.sampled_from([0, 30, 59]),
)
any_start = st.one_of(starts, edge_starts)
days_n = st.integers(min_value=0, max_value=60)
hours_n = st.integers(min_value=0, max_value=300)


def amounts(unit: DurationUnit) -> st.SearchStrategy[int]:
    return days_n if unit == WD else hours_n


# -- the oracle ------------------------------------------------------------------------------


def oracle(cal: BusinessCalendar, start: datetime, n: int, unit: DurationUnit) -> datetime:
    zone, periods, works = ZONES[id(cal)], PERIODS[id(cal)], WORKDAY[id(cal)]
    local = start.astimezone(zone).replace(tzinfo=None)
    day = local.date()
    if unit == WD:
        close = periods[-1][1]
        if n == 0 and works(day) and local.time() <= close:
            found = day
        else:
            found, counted = day, 0
            while counted < max(n, 1):
                found += timedelta(days=1)
                counted += works(found)
        result = datetime.combine(found, close)
    else:
        result = _walk(local, timedelta(hours=n), periods, works)
    return result.replace(tzinfo=zone).astimezone(UTC)


def _walk(
    local: datetime,
    remaining: timedelta,
    periods: list[tuple[time, time]],
    works: Callable[[date], bool],
) -> datetime:
    day, now = local.date(), local
    while True:
        if works(day):
            for begin, end in periods:
                a = max(now, datetime.combine(day, begin))
                b = datetime.combine(day, end)
                if a > b:
                    continue
                if b - a >= remaining:
                    return a + remaining
                remaining -= b - a
        day += timedelta(days=1)
        now = datetime.combine(day, time())


# -- agreement with the oracle ---------------------------------------------------------------


@given(cal=calendars, start=any_start, n=days_n)
def test_working_days_agree_with_the_oracle(cal: BusinessCalendar, start: datetime, n: int) -> None:
    due = cal.add(start, n, WD)
    assert due.at == oracle(cal, start, n, WD)
    assert due.provisional is False


@given(cal=calendars, start=any_start, n=hours_n)
def test_business_hours_agree_with_the_oracle(
    cal: BusinessCalendar, start: datetime, n: int
) -> None:
    due = cal.add(start, n, BH)
    assert due.at == oracle(cal, start, n, BH)
    assert due.provisional is False


@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001
        max_value=datetime(2026, 12, 31),  # noqa: DTZ001
        timezones=st.just(BERLIN),
        allow_imaginary=False,
    ),
    unit=st.sampled_from(WORKING_UNITS),
    n=st.integers(min_value=0, max_value=60),
)
def test_a_zone_with_summer_time_agrees_with_the_oracle(
    start: datetime, unit: DurationUnit, n: int
) -> None:
    assert DST.add(start, n, unit).at == oracle(DST, start, n, unit)


@given(cal=calendars, start=any_start, unit=st.sampled_from(list(DurationUnit)), n=days_n)
def test_the_input_zone_does_not_matter(
    cal: BusinessCalendar, start: datetime, unit: DurationUnit, n: int
) -> None:
    expected = cal.add(start, n, unit)
    assert cal.add(start.astimezone(UTC), n, unit) == expected
    assert cal.add(start.astimezone(BERLIN), n, unit) == expected
    assert cal.add(start, n, unit.value) == expected  # a plain string works too
    assert expected.at.tzinfo is UTC


# -- shape of the results --------------------------------------------------------------------


@given(cal=calendars, start=any_start, unit=st.sampled_from(list(DurationUnit)), data=st.data())
def test_monotonic_in_n(
    cal: BusinessCalendar, start: datetime, unit: DurationUnit, data: st.DataObject
) -> None:
    n = data.draw(amounts(unit))
    earlier, later = cal.add(start, n, unit).at, cal.add(start, n + 1, unit).at
    assert start <= earlier < later if unit != WD or n > 0 else start <= earlier <= later


@given(cal=calendars, start=any_start, unit=st.sampled_from(WORKING_UNITS), data=st.data())
def test_deadlines_land_on_working_time(
    cal: BusinessCalendar, start: datetime, unit: DurationUnit, data: st.DataObject
) -> None:
    n = data.draw(amounts(unit))
    at = cal.add(start, n, unit).at.astimezone(SH)
    assert chinese_calendar.is_workday(at.date())
    open_, close = PERIODS[id(cal)][0][0], PERIODS[id(cal)][-1][1]
    assert open_ <= at.time() <= close
    if cal.lunch is not None:
        lunch_start, lunch_end = cal.lunch
        assert not lunch_start < at.time() < lunch_end
    if unit == WD:
        assert at.time() == close
    else:
        # Inside working hours, or exactly where a working period ends.
        assert cal.is_working_moment(at) or at.time() in {p[1] for p in PERIODS[id(cal)]}


@given(cal=calendars, start=any_start, n=hours_n, m=hours_n)
def test_business_hours_compose(cal: BusinessCalendar, start: datetime, n: int, m: int) -> None:
    assert cal.add(cal.add(start, n, BH).at, m, BH) == cal.add(start, n + m, BH)


@given(cal=calendars, start=any_start, n=days_n, m=days_n)
def test_working_days_compose_except_from_outside_a_working_day(
    cal: BusinessCalendar, start: datetime, n: int, m: int
) -> None:
    """add(add(t, N), M) == add(t, N + M) when N >= 1, when M == 0, or when t is on a working
    day at or before closing. Otherwise (N == 0 from after hours or a non-working day) the
    first deadline is already the close of the next working day, so M more land one later."""
    twice = cal.add(cal.add(start, n, WD).at, m, WD)
    local = start.astimezone(SH)
    within_today = chinese_calendar.is_workday(local.date()) and local.time() <= time(18)
    if n >= 1 or m == 0 or within_today:
        assert twice == cal.add(start, n + m, WD)
    else:
        assert twice == cal.add(start, m + 1, WD)


@given(cal=calendars, start=any_start, n=hours_n)
def test_business_hours_are_working_time(cal: BusinessCalendar, start: datetime, n: int) -> None:
    due = cal.add(start, n, BH).at
    assert cal.working_time_between(start, due) == timedelta(hours=n)


@given(cal=calendars, a=any_start, b=any_start, c=any_start)
def test_working_time_adds_up(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    ab, bc, ac = (cal.working_time_between(x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == ac
    assert cal.working_time_between(b, a) == -ab
    assert ab >= timedelta(0) if a <= b else ab <= timedelta(0)


# -- warnings and pauses ---------------------------------------------------------------------


@given(
    cal=calendars,
    start=any_start,
    unit=st.sampled_from(list(DurationUnit)),
    threshold=st.floats(min_value=0.0, max_value=1.0),
    data=st.data(),
)
def test_warning_lies_between_start_and_due(
    cal: BusinessCalendar,
    start: datetime,
    unit: DurationUnit,
    threshold: float,
    data: st.DataObject,
) -> None:
    due = cal.add(start, data.draw(amounts(unit)), unit).at
    warning = cal.warning_at(start, due, unit, threshold)
    assert start <= warning <= due
    assert warning <= cal.warning_at(start, due, unit, min(1.0, threshold + 0.1))


@given(cal=calendars, start=any_start, unit=st.sampled_from(list(DurationUnit)), data=st.data())
def test_a_pause_of_zero_changes_nothing(
    cal: BusinessCalendar, start: datetime, unit: DurationUnit, data: st.DataObject
) -> None:
    due = cal.add(start, data.draw(amounts(unit)), unit)
    assert cal.extend_for_pause(due, unit, timedelta(0)) == due
    assert cal.add_pauses(due, unit, [(start, start)]) == due


@given(
    cal=calendars,
    start=any_start,
    n=days_n,
    paused_minutes=st.integers(min_value=1, max_value=20_000),
)
def test_a_pause_moves_the_deadline_by_that_much_working_time(
    cal: BusinessCalendar, start: datetime, n: int, paused_minutes: int
) -> None:
    due = cal.add(start, n, WD)
    paused = timedelta(minutes=paused_minutes)
    moved = cal.extend_for_pause(due, WD, paused)
    assert moved.at > due.at
    assert cal.working_time_between(due.at, moved.at) == paused


@given(
    cal=calendars, start=any_start, n=hours_n, pause_from=any_start, pause_hours=st.integers(0, 100)
)
def test_add_pauses_counts_paused_working_time(
    cal: BusinessCalendar, start: datetime, n: int, pause_from: datetime, pause_hours: int
) -> None:
    due = cal.add(start, n, BH)
    pause = (pause_from, pause_from + timedelta(hours=pause_hours))
    paused = cal.working_time_between(*pause)
    moved = cal.add_pauses(due, BH, [pause, pause])  # the same pause twice counts once
    assert cal.working_time_between(due.at, moved.at) == paused
    hours_due = cal.add(start, n, H)
    assert cal.add_pauses(hours_due, H, [pause]).at == hours_due.at + timedelta(hours=pause_hours)


# -- provisional results ---------------------------------------------------------------------


@given(
    start=st.datetimes(
        min_value=datetime(2026, 11, 1),  # noqa: DTZ001
        max_value=datetime(2027, 3, 1),  # noqa: DTZ001
        timezones=st.just(SH),
    ),
    unit=st.sampled_from(WORKING_UNITS),
    n=st.integers(min_value=0, max_value=40),
)
def test_provisional_exactly_when_an_unknown_day_is_used(
    start: datetime, unit: DurationUnit, n: int
) -> None:
    due = PLAIN.add(start, n, unit)
    last_known = date(2026, 12, 31)
    assert due.provisional == (
        due.at.astimezone(SH).date() > last_known or start.date() > last_known
    )
    assert due.at.astimezone(SH).date() not in {
        date(2027, 1, 1),
        date(2027, 5, 1),
        date(2027, 5, 2),
    }
