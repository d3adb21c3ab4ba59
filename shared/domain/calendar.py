"""The business calendar (工作日历) and deadline arithmetic (时限计算), as pure domain code.

Chinese working days move: statutory holidays (法定节假日) close weekdays and make-up working
days (调休上班) open weekends, both published each year by the State Council. A
`BusinessCalendar` holds those overrides (`DayOverride`) for the years it knows, the working
hours of a day (default 09:00–18:00, optionally with a lunch break) and the time zone the
counting happens in (default Asia/Shanghai). It reads no clock, no file and no database: the
data come in through the constructor (see `shared.calendar_data` for the seeds).

Units (SPEC §4, `DurationUnit`):

- `hours`: calendar hours ("24小时内"); `start + N hours`, no calendar involved.
- `business_hours`: N hours of working time; nights, the lunch break and non-working days
  do not count. The deadline is the earliest moment at which N hours of working time have
  elapsed, so it can be 18:00 (or the start of the lunch break) but never 09:00 of the next
  working day. N = 0 means "at the first working moment at or after the start".
- `working_days` ("N个工作日"): the day of the event is not counted, counting starts on the
  next working day (工作日), whatever the hour of the event and whether or not its day is a
  working day; the deadline is the end of working hours of the Nth such day. N = 0 means
  "by the end of the current working day": the end of working hours of the event's day if it
  is a working day and the event happened at or before the end of working hours, else the
  end of the next working day (so a deadline is never earlier than its event).

Years outside `known_from..known_until` are counted with a fallback (weekends plus the
fixed-date statutory holidays of `FIXED_DATE_HOLIDAYS`; the lunar holidays cannot be guessed)
and every result that used such a day says `provisional=True`. `hours` uses no day and is
never provisional.

Pauses (`awaiting_customer`, 等待客户) do not count: the deadline moves later by the paused
time in the unit's sense, calendar time for `hours` and working time for the two working
units (so half a working day paused moves a working-days deadline to mid-day).

API (all methods of `BusinessCalendar`, all pure):

- `is_working_day(d) -> bool`, `is_provisional_day(d) -> bool`, `is_working_moment(t) -> bool`
- `add(start, amount, unit) -> Due` (`Due.at` in UTC, `Due.provisional`)
- `working_time_between(a, b) -> timedelta`: working time in [a, b), negative if b < a
- `time_remaining(now, due, unit) -> timedelta`
- `warning_at(start, due, unit, threshold=0.75) -> datetime`
- `paused_time(unit, pauses) -> timedelta`, `extend_for_pause(due, unit, paused) -> Due`,
  `add_pauses(due, unit, pauses) -> Due`

All datetimes passed in must be timezone-aware; every datetime returned is in UTC. Working
time is measured on the local wall clock of the calendar's zone.

Speed: the calendar precomputes, for a window of days (the known range, one year before it
and three after it, widened on demand), a cumulative count of working days and the sorted
list of working-day ordinals, so adding N working days or N working hours is a few index
look-ups instead of a day-by-day loop. When the zone keeps one UTC offset over the whole
window (Asia/Shanghai has had no summer time since 1991), a UTC datetime converts to local
wall time by one datetime subtraction instead of a zoneinfo look-up; otherwise conversions
go through zoneinfo. About 250,000–500,000 `add()` calls a second on one core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import accumulate
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from shared.domain.enums import DurationUnit

__all__ = [
    "FIXED_DATE_HOLIDAYS",
    "BusinessCalendar",
    "DayOverride",
    "DayType",
    "Due",
]

# Fixed-date statutory holidays (全国年节及纪念日放假办法, 2024 revision): 元旦 1 Jan,
# 劳动节 1–2 May, 国庆节 1–3 Oct. The fallback for unknown years; lunar ones are not here.
FIXED_DATE_HOLIDAYS: tuple[tuple[int, int], ...] = (
    (1, 1),
    (5, 1),
    (5, 2),
    (10, 1),
    (10, 2),
    (10, 3),
)

_US = 1_000_000
_DAY_US = 86_400 * _US
_HOUR_US = 3_600 * _US
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = _EPOCH.replace(tzinfo=None)
_EPOCH_ORD = _EPOCH.toordinal()
_MIN_ORD = date.min.toordinal()
_MAX_ORD = date.max.toordinal()
_MARGIN_DAYS = 366
_WORKING_DAYS = DurationUnit.WORKING_DAYS
_BUSINESS_HOURS = DurationUnit.BUSINESS_HOURS
_HOURS = DurationUnit.HOURS
# Beyond this span a request far from the current window gets a window of its own, so that
# one odd date in year 2300 does not make us index three centuries.
_MAX_UNION_DAYS = 50 * 366


class DayType(StrEnum):
    """What an override makes of a day."""

    HOLIDAY = "holiday"  # a non-working day by decree, e.g. 国庆节 on a weekday
    WORKDAY = "workday"  # a working day by decree, e.g. a weekend make-up day (调休上班)


class DayOverride(BaseModel):
    """One day whose working status differs from (or is named beyond) the Mon–Fri default."""

    model_config = ConfigDict(frozen=True)

    day: date
    type: DayType
    name: str = ""  # e.g. "国庆节", "国庆节调休"


class Due(NamedTuple):
    """A computed deadline (时限): the moment in UTC, and whether it relied on fallback days.

    A named tuple rather than a frozen dataclass: it is built once per computation and the
    frozen dataclass's constructor costs several times more.
    """

    at: datetime
    provisional: bool


@dataclass(frozen=True, slots=True)
class _Index:
    """Working-day index over the days `lo..hi` (ordinals, inclusive)."""

    lo: int
    hi: int
    flags: bytes  # flags[o - lo] == 1 if day o is a working day
    prefix: list[int]  # prefix[i] = working days among lo .. lo + i - 1
    ords: list[int]  # the working days of the window, ascending
    # If the zone keeps one UTC offset over the window: the UTC instant of local 1970-01-01
    # 00:00 under that offset. A UTC datetime minus it is local wall time, so conversions
    # are one subtraction of two UTC datetimes instead of a zoneinfo look-up.
    utc_epoch: datetime | None
    # Memo of "end of working hours of day o" in UTC: every working-days deadline is one.
    day_ends: dict[int, datetime] = field(default_factory=dict)


def _as_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"timezone-aware datetime required, got {t!r}")


class BusinessCalendar:
    """Working days and working hours of one organisation, immutable once built.

    `overrides` win over everything; inside `known_from..known_until` (inclusive) the other
    days follow Mon–Fri; outside it they follow Mon–Fri minus `fallback_holidays` and count
    as provisional.
    """

    # Slots with annotations: mypy sees the attributes, nothing else can be added, and
    # `__setattr__` below refuses to change them after `__init__`.
    __slots__ = (
        "_fallback",
        "_home",
        "_idx",
        "_known_from",
        "_known_from_ord",
        "_known_until",
        "_known_until_ord",
        "_le",
        "_local_epoch",
        "_ls",
        "_lunch_end",
        "_lunch_start",
        "_override_flags",
        "_overrides",
        "_tz",
        "_w",
        "_we",
        "_work_end",
        "_work_start",
        "_ws",
        "_zone",
    )
    _tz: str
    _zone: ZoneInfo
    _local_epoch: datetime
    _work_start: time
    _work_end: time
    _lunch_start: time | None
    _lunch_end: time | None
    _ws: int  # the working day as µs since local midnight: start, lunch, lunch end, end
    _ls: int
    _le: int
    _we: int
    _w: int  # working µs per working day
    _known_from: date
    _known_until: date
    _known_from_ord: int
    _known_until_ord: int
    _overrides: tuple[DayOverride, ...]
    _override_flags: dict[int, bool]  # ordinal -> working?
    _fallback: frozenset[tuple[int, int]]
    _home: _Index  # the window built at construction: known range, 1 year before, 3 after
    _idx: _Index  # the window in use; replaced (never mutated) when a date falls outside

    def __init__(
        self,
        *,
        known_from: date,
        known_until: date,
        overrides: Iterable[DayOverride] = (),
        tz: str = "Asia/Shanghai",
        work_start: time = time(9),
        work_end: time = time(18),
        lunch_start: time | None = None,
        lunch_end: time | None = None,
        fallback_holidays: Iterable[tuple[int, int]] = FIXED_DATE_HOLIDAYS,
    ) -> None:
        if known_from > known_until:
            raise ValueError("known_from must not be after known_until")
        if (lunch_start is None) != (lunch_end is None):
            raise ValueError("give both lunch_start and lunch_end, or neither")
        ws, we = _as_us(work_start), _as_us(work_end)
        # Without a lunch break the "break" is the empty span at the end of the day, which
        # lets the hot path treat both shapes of day with the same comparisons.
        ls = _as_us(lunch_start) if lunch_start is not None else we
        le = _as_us(lunch_end) if lunch_end is not None else we
        if not ws < we or not ws <= ls <= le <= we or (lunch_start is not None and ls == le):
            raise ValueError("need work_start < lunch_start < lunch_end < work_end")
        by_day: dict[date, DayOverride] = {}
        for override in overrides:
            seen = by_day.get(override.day)
            if seen is not None and seen.type != override.type:
                raise ValueError(f"conflicting overrides for {override.day}")
            by_day[override.day] = override
        zone = ZoneInfo(tz)
        fields: dict[str, object] = {
            "_tz": tz,
            "_zone": zone,
            # Two datetimes with the same tzinfo subtract as wall-clock times, so this turns
            # a datetime in the calendar's zone into local µs without an offset look-up.
            "_local_epoch": _EPOCH_NAIVE.replace(tzinfo=zone),
            "_work_start": work_start,
            "_work_end": work_end,
            "_lunch_start": lunch_start,
            "_lunch_end": lunch_end,
            "_ws": ws,
            "_we": we,
            "_ls": ls,
            "_le": le,
            "_w": we - ws - (le - ls),
            "_known_from": known_from,
            "_known_until": known_until,
            "_known_from_ord": known_from.toordinal(),
            "_known_until_ord": known_until.toordinal(),
            "_overrides": tuple(sorted(by_day.values(), key=lambda o: o.day)),
            "_override_flags": {
                d.toordinal(): o.type is DayType.WORKDAY for d, o in by_day.items()
            },
            "_fallback": frozenset(fallback_holidays),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        lo = max(_MIN_ORD + 1, known_from.toordinal() - _MARGIN_DAYS)
        hi = min(_MAX_ORD - 1, known_until.toordinal() + 3 * _MARGIN_DAYS)
        home = self._build(lo, hi, self._single_offset(lo, hi))
        object.__setattr__(self, "_home", home)
        object.__setattr__(self, "_idx", home)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("BusinessCalendar is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("BusinessCalendar is immutable")

    # -- description -------------------------------------------------------------------------

    @property
    def tz(self) -> str:
        return self._tz

    @property
    def known_from(self) -> date:
        return self._known_from

    @property
    def known_until(self) -> date:
        return self._known_until

    @property
    def overrides(self) -> tuple[DayOverride, ...]:
        return self._overrides

    @property
    def work_start(self) -> time:
        return self._work_start

    @property
    def work_end(self) -> time:
        return self._work_end

    @property
    def lunch(self) -> tuple[time, time] | None:
        if self._lunch_start is None or self._lunch_end is None:
            return None
        return self._lunch_start, self._lunch_end

    @property
    def working_day_length(self) -> timedelta:
        """Working time in one working day (9 h for 09:00–18:00 without a lunch break)."""
        return timedelta(microseconds=self._w)

    # -- days and moments --------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is a working day (工作日), 调休 and fallback included."""
        o = d.toordinal()
        idx = self._cover(o, o)
        return idx.flags[o - idx.lo] == 1

    def is_provisional_day(self, d: date) -> bool:
        """Whether `d` lies outside the range with authoritative data."""
        return not self._known_from <= d <= self._known_until

    def is_working_moment(self, t: datetime) -> bool:
        """Whether `t` falls inside working hours (half-open: 09:00 yes, 18:00 no)."""
        _require_aware(t)
        idx, day, sod = self._split(t)
        if not idx.flags[day - idx.lo]:
            return False
        return self._ws <= sod < self._we and not self._ls <= sod < self._le

    # -- deadlines ---------------------------------------------------------------------------

    def add(self, start: datetime, amount: int, unit: DurationUnit) -> Due:
        """The deadline `amount` `unit`s after `start` (see the module docstring for rules)."""
        if start.tzinfo is None:
            raise ValueError(f"timezone-aware datetime required, got {start!r}")
        if amount < 0:
            raise ValueError("a duration cannot be negative")
        # Identity first: members are singletons and `is` is the cheapest test; plain strings
        # equal to a member fall through to the comparisons.
        if unit is _WORKING_DAYS or unit == _WORKING_DAYS:
            return self._add_working_days(start, amount)
        if unit is _BUSINESS_HOURS or unit == _BUSINESS_HOURS:
            return self._add_working_us(start, amount * _HOUR_US)
        if unit is _HOURS or unit == _HOURS:
            if start.tzinfo is not UTC:
                start = start.astimezone(UTC)  # before adding: aware + timedelta is wall time
            return Due(start + timedelta(0, amount * 3_600), False)
        raise ValueError(f"unknown duration unit {unit!r}")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in [a, b); signed: the negation of [b, a) when b < a."""
        _require_aware(a)
        _require_aware(b)
        ia, da, sa = self._split(a)
        ib, db, sb = self._split(b)
        # Both positions must be read off one index: prefix counts are window-relative.
        idx = ib if ia is ib else self._cover(min(da, db), max(da, db))
        return timedelta(0, 0, self._position(idx, db, sb) - self._position(idx, da, sa))

    def time_remaining(self, now: datetime, due: datetime, unit: DurationUnit) -> timedelta:
        """Time left until `due` in the unit's sense; negative once `due` has passed."""
        if unit == _HOURS:
            _require_aware(now)
            _require_aware(due)
            return due - now
        return self.working_time_between(now, due)

    def warning_at(
        self, start: datetime, due: datetime, unit: DurationUnit, threshold: float = 0.75
    ) -> datetime:
        """When `threshold` of the time from `start` to `due` has elapsed (UTC).

        Elapsed time is working time for `business_hours` and `working_days`, calendar time
        for `hours`. The result lies in [start, due] when start <= due.
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must lie in [0, 1]")
        _require_aware(start)
        _require_aware(due)
        if unit == _HOURS:
            return (start + (due - start) * threshold).astimezone(UTC)
        total_us = self.working_time_between(start, due) // _ONE_US
        if total_us <= 0:
            return start.astimezone(UTC)
        idx, day, sod = self._split(start)
        idx, day, tod = self._advance(idx, day, sod, round(total_us * threshold))
        return min(self._to_utc(idx, day, tod), due.astimezone(UTC))

    # -- pauses (awaiting_customer) ----------------------------------------------------------

    def paused_time(
        self, unit: DurationUnit, pauses: Sequence[tuple[datetime, datetime]]
    ) -> timedelta:
        """Total paused time in the unit's sense; overlapping pauses are counted once.

        Calendar time for `hours`, working time for `business_hours` and `working_days`.
        """
        total = timedelta(0)
        for a, b in _merge(pauses):
            total += (b - a) if unit == _HOURS else self.working_time_between(a, b)
        return total

    def extend_for_pause(self, due: Due | datetime, unit: DurationUnit, paused: timedelta) -> Due:
        """The deadline moved later by `paused` (in the unit's sense, see `paused_time`).

        Working units move by working time, so a working-days deadline paused for half a
        working day ends mid-day. The result is provisional if `due` was (when given as a
        `Due`) or if any day this step used is outside the known range.
        """
        at, was_provisional = due if isinstance(due, Due) else (due, False)
        _require_aware(at)
        if paused < timedelta(0):
            raise ValueError("paused time cannot be negative")
        if unit == _HOURS:
            return Due(at.astimezone(UTC) + paused, was_provisional)
        idx, day, sod = self._split(at)
        if not paused:
            return Due(at.astimezone(UTC), was_provisional or self._provisional_ord(day))
        idx, end_day, tod = self._advance(idx, day, sod, paused // _ONE_US)
        provisional = (
            was_provisional or self._provisional_ord(day) or self._provisional_ord(end_day)
        )
        return Due(self._to_utc(idx, end_day, tod), provisional)

    def add_pauses(
        self, due: Due | datetime, unit: DurationUnit, pauses: Sequence[tuple[datetime, datetime]]
    ) -> Due:
        """`extend_for_pause` by the paused time of `pauses`, each a [from, until) pair."""
        moved = self.extend_for_pause(due, unit, self.paused_time(unit, pauses))
        if unit == _HOURS or moved.provisional:
            return moved
        touched = any(self._provisional_ord(self._split(t)[1]) for pause in pauses for t in pause)
        return Due(moved.at, touched)

    # -- internals ---------------------------------------------------------------------------

    def _provisional_ord(self, o: int) -> bool:
        return o < self._known_from_ord or o > self._known_until_ord

    def _add_working_days(self, start: datetime, n: int) -> Due:
        idx, day, sod = self._split(start)
        while True:
            i = day - idx.lo
            if n == 0 and idx.flags[i] and sod <= self._we:
                target = day
                break
            # prefix[i + 1] working days lie in lo..day, so that is the rank in `ords` of the
            # first working day after the event's day: the day counting starts on.
            j = idx.prefix[i + 1] + (n - 1 if n else 0)
            if j < len(idx.ords):
                target = idx.ords[j]
                break
            idx = self._grow(idx, day, j)
        at = idx.day_ends.get(target)
        if at is None:
            at = idx.day_ends[target] = self._to_utc(idx, target, self._we)
        return Due(at, day < self._known_from_ord or target > self._known_until_ord)

    def _add_working_us(self, start: datetime, amount_us: int) -> Due:
        idx, day, sod = self._split(start)
        idx, target, tod = self._advance(idx, day, sod, amount_us)
        utc_epoch = idx.utc_epoch  # `_to_utc` inlined: this is the hottest path
        if utc_epoch is not None:
            at = utc_epoch + timedelta(target - _EPOCH_ORD, 0, tod)
        else:
            at = self._to_utc(idx, target, tod)
        return Due(at, day < self._known_from_ord or target > self._known_until_ord)

    def _position(self, idx: _Index, day: int, sod: int) -> int:
        """Working µs from the start of the window to local (day, time of day)."""
        i = day - idx.lo
        if not idx.flags[i] or sod <= self._ws:
            return idx.prefix[i] * self._w
        if sod <= self._ls:
            within = sod - self._ws
        elif sod <= self._le:
            within = self._ls - self._ws
        elif sod < self._we:
            within = sod - self._ws - (self._le - self._ls)
        else:
            within = self._w
        return idx.prefix[i] * self._w + within

    def _advance(self, idx: _Index, day: int, sod: int, amount_us: int) -> tuple[_Index, int, int]:
        """The earliest local moment at or after (day, sod) with `amount_us` of working time
        since (day, sod), as (index used, day ordinal, µs since local midnight)."""
        w, ws, we, ls, le = self._w, self._ws, self._we, self._ls, self._le
        while True:
            i = day - idx.lo
            if amount_us == 0:
                if idx.flags[i] and sod <= we:
                    # Already in (or at an edge of) a working period: stay, or move to where
                    # the next one begins.
                    tod = ws if sod < ws else le if ls < sod < le else sod
                    return idx, day, tod
                j, tod = idx.prefix[i + 1], ws
            else:
                # `_position` inlined and taken relative to this day's rank, which keeps the
                # hot path free of a call and of window-sized products.
                if not idx.flags[i] or sod <= ws:
                    within = 0
                elif sod <= ls:
                    within = sod - ws
                elif sod <= le:
                    within = ls - ws
                elif sod < we:
                    within = sod - ws - (le - ls)
                else:
                    within = w
                q, r = divmod(within + amount_us, w)
                if r == 0:
                    # Exactly q whole days: the end of a working day, not the next morning.
                    j, tod = idx.prefix[i] + q - 1, we
                else:
                    j = idx.prefix[i] + q
                    tod = ws + r if r <= ls - ws else le + r - (ls - ws)
            if j < len(idx.ords):
                return idx, idx.ords[j], tod
            idx = self._grow(idx, day, j)

    def _grow(self, idx: _Index, day: int, j: int) -> _Index:
        """A wider index reaching at least the working day of rank `j` in `idx`."""
        if idx.hi >= _MAX_ORD - 1:
            raise OverflowError("deadline beyond the last representable date")
        extra = max(_MARGIN_DAYS, 2 * (j - len(idx.ords) + 1))
        return self._cover(day, min(_MAX_ORD - 1, idx.hi + extra))

    def _split(self, t: datetime) -> tuple[_Index, int, int]:
        """(index covering it, local day ordinal, µs since local midnight) for aware `t`."""
        idx = self._idx
        tz = t.tzinfo
        if tz is self._zone:
            # Same tzinfo on both sides: Python subtracts wall-clock times, no offset look-up.
            td = t - self._local_epoch
        elif tz is UTC and idx.utc_epoch is not None:
            td = t - idx.utc_epoch
            day = td.days + _EPOCH_ORD
            if idx.lo <= day <= idx.hi:
                return idx, day, td.seconds * _US + td.microseconds
            # The single offset was only checked inside the window: let zoneinfo convert.
            td = t.astimezone(self._zone) - self._local_epoch
        else:
            td = t.astimezone(self._zone) - self._local_epoch
        day = td.days + _EPOCH_ORD
        if not idx.lo <= day <= idx.hi:
            idx = self._cover(day, day)
        return idx, day, td.seconds * _US + td.microseconds

    def _to_utc(self, idx: _Index, day: int, tod: int) -> datetime:
        """Local (day ordinal, µs since midnight), for a day inside `idx`, as UTC."""
        if idx.utc_epoch is not None:
            return idx.utc_epoch + timedelta(day - _EPOCH_ORD, 0, tod)
        # Wall-clock addition keeps the zone; astimezone then applies that day's offset.
        return (self._local_epoch + timedelta(day - _EPOCH_ORD, 0, tod)).astimezone(UTC)

    def _cover(self, first: int, last: int) -> _Index:
        """An index covering the days first..last, widening the window if needed.

        Preference: the current window grown to reach the request, then the home window
        grown to reach it, then a window around the request alone. A grown window must stay
        under `_MAX_UNION_DAYS` and must keep the single UTC offset if the home window has
        one, so that one request in 1990 (Shanghai had summer time until 1991) or 2300 does
        not make every later computation slow.
        """
        idx = self._idx
        if idx.lo <= first and last <= idx.hi:
            return idx
        if first < _MIN_ORD + 1 or last > _MAX_ORD - 1:
            raise OverflowError("date outside the supported range")
        lo = max(_MIN_ORD + 1, first - _MARGIN_DAYS)
        hi = min(_MAX_ORD - 1, last + _MARGIN_DAYS)
        home, new = self._home, None
        for base in (idx, home):
            grown_lo, grown_hi = min(lo, base.lo), max(hi, base.hi)
            if grown_hi - grown_lo > _MAX_UNION_DAYS:
                continue
            offset = self._single_offset(grown_lo, grown_hi)
            if offset is None and home.utc_epoch is not None:
                continue
            new = self._build(grown_lo, grown_hi, offset)
            break
        if new is None:
            new = self._build(lo, hi, self._single_offset(lo, hi))
        # One attribute swap, so concurrent readers see one index or the other, both right.
        object.__setattr__(self, "_idx", new)
        return new

    def _build(self, lo: int, hi: int, offset: timedelta | None) -> _Index:
        """The index of days lo..hi; `offset` is the zone's single offset there, if any."""
        known_lo, known_hi = self._known_from_ord, self._known_until_ord
        override, fallback = self._override_flags, self._fallback
        flags = bytearray(hi - lo + 1)
        for o in range(lo, hi + 1):
            working = override.get(o)
            if working is None:
                working = (o + 6) % 7 < 5  # date.weekday() without building a date
                if working and not known_lo <= o <= known_hi:
                    d = date.fromordinal(o)
                    working = (d.month, d.day) not in fallback
            flags[o - lo] = working
        prefix = [0, *accumulate(flags)]
        ords = [lo + i for i, f in enumerate(flags) if f]
        utc_epoch = None if offset is None else _EPOCH - offset
        return _Index(lo, hi, bytes(flags), prefix, ords, utc_epoch)

    def _single_offset(self, lo: int, hi: int) -> timedelta | None:
        """The zone's UTC offset if it is the same at every local midnight of days lo..hi+1.

        Offset changes last months, so equal offsets at consecutive midnights mean none
        happened in between; comparing every midnight of the window is enough.
        """
        offsets = {
            self._zone.utcoffset(datetime.combine(date.fromordinal(o), time()))
            for o in range(lo, hi + 2)
        }
        return offsets.pop() if len(offsets) == 1 else None


def _merge(pauses: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Pauses sorted and with overlaps joined, so no paused moment counts twice."""
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(pauses):
        _require_aware(a)
        _require_aware(b)
        if b < a:
            raise ValueError(f"pause ends before it starts: {a} .. {b}")
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
