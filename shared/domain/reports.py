"""Report periods and the pure arithmetic of the reports (统计分析, SPEC §6).

A period is a span of Asia/Shanghai calendar days: a week runs Monday to Sunday (投诉周报, seed
002 §3.2), a month is a calendar month (客户月投诉统计表, seed 003). The database compares UTC
instants, so a period also gives its bounds as UTC instants, half-open: [start, end).

Nothing here reads the clock or a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.domain.access import Principal
from shared.domain.calendar import BusinessCalendar
from shared.domain.enums import Role
from shared.domain.errors import Forbidden
from shared.domain.reference import SHANGHAI


class ReportKind(StrEnum):
    WEEKLY = "weekly"  # 投诉周报
    MONTHLY = "monthly"  # 客户月投诉统计表
    CAUSES = "causes"  # 质量分析报告 / 责任分析报告
    EXPECTATIONS = "expectations"  # 客户期望分析报告


REPORT_TITLES: dict[ReportKind, str] = {
    ReportKind.WEEKLY: "投诉周报",
    ReportKind.MONTHLY: "客户月投诉统计表",
    ReportKind.CAUSES: "质量与责任分析报告",
    ReportKind.EXPECTATIONS: "客户期望分析报告",
}


class PeriodUnit(StrEnum):
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Period:
    """Asia/Shanghai days `first`..`last` (inclusive) of one week or one month."""

    unit: PeriodUnit
    first: date
    last: date

    @classmethod
    def week_of(cls, day: date) -> Period:
        monday = day - timedelta(days=day.weekday())
        return cls(PeriodUnit.WEEK, monday, monday + timedelta(days=6))

    @classmethod
    def month_of(cls, day: date) -> Period:
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return cls(PeriodUnit.MONTH, first, following - timedelta(days=1))

    @classmethod
    def of(cls, unit: PeriodUnit, day: date) -> Period:
        return cls.week_of(day) if unit is PeriodUnit.WEEK else cls.month_of(day)

    @property
    def start(self) -> datetime:
        """The first instant of the period (UTC)."""
        return datetime.combine(self.first, time(0), SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (UTC)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)

    def previous(self) -> Period:
        return Period.of(self.unit, self.first - timedelta(days=1))

    def following(self) -> Period:
        return Period.of(self.unit, self.last + timedelta(days=1))

    def back(self, count: int) -> list[Period]:
        """This period and the `count - 1` before it, oldest first (a trend's x axis)."""
        periods = [self]
        while len(periods) < count:
            periods.append(periods[-1].previous())
        return periods[::-1]

    @property
    def label(self) -> str:
        if self.unit is PeriodUnit.MONTH:
            return f"{self.first.year}年{self.first.month}月"
        return f"{self.first.isoformat()}～{self.last.isoformat()}"


def period_for(kind: ReportKind) -> PeriodUnit:
    return PeriodUnit.WEEK if kind is ReportKind.WEEKLY else PeriodUnit.MONTH


def rate(part: int, whole: int) -> float | None:
    """`part / whole`, None when there is nothing to divide (shown as "—", not 0 %)."""
    return part / whole if whole else None


def change(current: float, previous: float) -> float | None:
    """The relative change against the previous period (环比), None from zero."""
    return (current - previous) / previous if previous else None


def pareto(counts: Sequence[tuple[str, int]]) -> list[tuple[str, int, float, float]]:
    """(cause, count, share, cumulative share), the largest first; ties by name so the order
    never depends on the database (seed 004 §7: the main causes to control first)."""
    ordered = sorted(counts, key=lambda item: (-item[1], item[0]))
    total = sum(count for _, count in ordered)
    result = []
    running = 0
    for cause, count in ordered:
        running += count
        result.append((cause, count, count / total, running / total))
    return result


# Who reads reports (SPEC §6): managers (their department, or all if company-wide), directors,
# clerks (who keep the 投诉周报, seed 002 §3.2), auditors and admins.
REPORT_READERS: frozenset[Role] = frozenset(
    {Role.MANAGER, Role.DIRECTOR, Role.CLERK, Role.AUDITOR, Role.ADMIN}
)
# Readers confined to their own department when they have one.
DEPARTMENT_BOUND_READERS: frozenset[Role] = frozenset({Role.MANAGER})


def report_scope(principal: Principal, requested: str | None) -> str | None:
    """The department a reader's report covers (None: every department). A manager of a
    department reads that department's only; asking for another is refused."""
    if principal.role not in REPORT_READERS:
        raise Forbidden("Reports are read by managers, directors, clerks and auditors.")
    own = principal.department if principal.role in DEPARTMENT_BOUND_READERS else None
    if own is None:
        return requested
    if requested is not None and requested != own:
        raise Forbidden(f"A department's manager reads the reports of {own} only.")
    return own


# Scheduled reports (SPEC §6): a period's report is produced at 09:00 on the first working day
# of the next period (of the business calendar: after a long holiday, the first working day
# after it, even when that falls in the period after).
SCHEDULE_AT = time(9, 0)
_SEARCH_DAYS = 60  # no holiday of the Chinese schedule is this long


def first_working_day_from(day: date, calendar: BusinessCalendar) -> date:
    for offset in range(_SEARCH_DAYS):
        candidate = day + timedelta(days=offset)
        if calendar.is_working_day(candidate):
            return candidate
    raise ValueError(f"no working day within {_SEARCH_DAYS} days of {day}")


def release_at(period: Period, calendar: BusinessCalendar) -> datetime:
    """When the report of `period` is due (UTC): 09:00 Asia/Shanghai on the first working day
    on or after the day the period ends."""
    day = first_working_day_from(period.last + timedelta(days=1), calendar)
    return datetime.combine(day, SCHEDULE_AT, SHANGHAI).astimezone(UTC)


def due_periods(unit: PeriodUnit, now: datetime, calendar: BusinessCalendar) -> list[Period]:
    """The periods whose report is due at `now`: those released at the latest release moment
    that has come — usually one, two when a holiday spanning a whole week released both at
    once (春节). Producing each once is the caller's unique constraint."""
    last = Period.of(unit, now.astimezone(SHANGHAI).date()).previous()
    released = [(release_at(p, calendar), p) for p in (last.previous(), last)]
    latest = max((at for at, _ in released if at <= now), default=None)
    return [p for at, p in released if at == latest]


def _seconds(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


class WorkingClock:
    """Working time as a position on a line, for many instants at once (handling time of a
    month's complaints): `position(t)` is the working seconds from the start of `first` to `t`
    on `calendar`, so the working time between two instants is a subtraction. It agrees with
    `BusinessCalendar.working_time_between` (tests/domain/test_reports.py) at a fraction of
    its cost per instant: a day's offset is looked up, not counted."""

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        self._zone = ZoneInfo(calendar.tz)
        start, end = _seconds(calendar.work_start), _seconds(calendar.work_end)
        lunch = calendar.lunch
        self._segments = (
            [(start, _seconds(lunch[0])), (_seconds(lunch[1]), end)] if lunch else [(start, end)]
        )
        self.day_seconds = sum(b - a for a, b in self._segments)
        self._first = first.toordinal()
        self._working: list[bool] = []
        self._before: list[float] = []
        # One UTC offset over the whole range (Asia/Shanghai: no summer time since 1991): local
        # time is then plain arithmetic on the timestamp, no time-zone conversion per instant.
        offsets = {datetime.combine(d, time(12), self._zone).utcoffset() for d in (first, last)}
        offset = offsets.pop() if len(offsets) == 1 else None
        self._offset = offset.total_seconds() if offset is not None else None
        self._epoch_day = date(1970, 1, 1).toordinal()
        total = 0.0
        for ordinal in range(self._first, last.toordinal() + 2):
            working = calendar.is_working_day(date.fromordinal(ordinal))
            self._working.append(working)
            self._before.append(total)
            total += self.day_seconds if working else 0.0

    def table(self) -> tuple[date, list[float], list[bool], list[float]]:
        """The clock as data, for the database to count with (shared/db/reports.py): its first
        day, the working seconds before each day from the first, whether each day is a working
        day, and the working hours' bounds in seconds of the day — [start, end] of the morning
        and of the afternoon (the second [0, 0] when there is no lunch break)."""
        bounds = [x for segment in self._segments for x in segment]
        return (
            date.fromordinal(self._first),
            list(self._before),
            list(self._working),
            [*bounds, 0.0, 0.0][:4],
        )

    def position(self, t: datetime) -> float:
        if self._offset is not None:
            days, sod = divmod(t.timestamp() + self._offset, 86_400)
            i = int(days) + self._epoch_day - self._first
        else:
            local = t.astimezone(self._zone)
            i = local.toordinal() - self._first
            sod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        if not self._working[i]:
            return self._before[i]
        within = 0.0
        for a, b in self._segments:
            if sod > a:
                within += min(sod, b) - a
        return self._before[i] + within
