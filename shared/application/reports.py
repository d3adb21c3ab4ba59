"""Assembling the reports (统计分析, SPEC §6) from the repository's aggregates: the API serves
them, the SLA worker produces the scheduled ones. Handling time is counted here, on the business
calendar (working days, the time awaiting the customer excluded)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.bootstrap import Caches
from shared.db import reports as repo
from shared.domain.calendar import BusinessCalendar
from shared.domain.enums import DurationUnit
from shared.domain.reports import (
    REPORT_TITLES,
    Period,
    ReportKind,
    change,
    percentile,
    rate,
)
from shared.reports.labels import DIMENSIONS, label
from shared.reports.model import (
    Count,
    HandlerRate,
    HandlingTime,
    Headline,
    PeriodReport,
    References,
    StageRate,
    TrendPoint,
)

TREND_PERIODS = {ReportKind.WEEKLY: 8, ReportKind.MONTHLY: 12}
UNASSIGNED = "未分配"


@dataclass(frozen=True)
class _Figures:
    """One period's figures, before they become a report (the previous period's give the
    headline's changes)."""

    received: dict[str, dict[str, int]]
    closed: Sequence[Any]
    withdrawn: list[str]
    settled: Sequence[Any]
    handling_days: list[float]
    refunds: Decimal
    compensation: Decimal

    @property
    def total(self) -> int:
        return sum(self.received.get("kind", {}).values())

    def count(self, dimension: str, key: str) -> int:
        return self.received.get(dimension, {}).get(key, 0)

    @property
    def met(self) -> int:
        return sum(int(r["n"]) for r in self.settled if r["outcome"] == "met")

    @property
    def breached(self) -> int:
        return sum(int(r["n"]) for r in self.settled if r["outcome"] == "breached")


def working_days(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    pauses: Sequence[tuple[datetime, datetime]] = (),
) -> float:
    """Working time from `start` to `end` without the pauses, in working days."""
    worked = calendar.working_time_between(start, end)
    worked -= calendar.paused_time(DurationUnit.WORKING_DAYS, pauses)
    return worked / calendar.working_day_length


async def _figures(
    conn: AsyncConnection, period: Period, department: str | None, calendar: BusinessCalendar
) -> _Figures:
    start, end = period.start, period.end
    received: dict[str, dict[str, int]] = defaultdict(dict)
    for row in await repo.received_by(conn, start, end, department):
        received[row["dimension"]][row["key"]] = int(row["n"])
    resolved = await repo.resolved(conn, start, end, department)
    paused = await repo.pauses(conn, [r["id"] for r in resolved])
    days = [
        working_days(calendar, r["created_at"], r["resolved_at"], paused.get(r["id"], ()))
        for r in resolved
    ]
    return _Figures(
        received=dict(received),
        closed=await repo.closed(conn, start, end, department),
        withdrawn=await repo.withdrawn(conn, start, end, department),
        settled=await repo.settled_deadlines(conn, start, end, department),
        handling_days=days,
        refunds=sum((r["refunds"] for r in resolved), Decimal(0)),
        compensation=sum((r["compensation"] for r in resolved), Decimal(0)),
    )


def _counts(dimension: str, counts: dict[str, int]) -> list[Count]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Count(key=k, label=label(dimension, k), count=n) for k, n in ordered]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _headline(now: _Figures, before: _Figures) -> list[Headline]:
    def figure(key: str, text: str, unit: str, of: Any) -> Headline:
        value, previous = float(of(now)), float(of(before))
        return Headline(
            key=key,
            label=text,
            value=value,
            previous=previous,
            change=change(value, previous),
            unit=unit,
        )

    def on_time(f: _Figures) -> float:
        return rate(f.met, f.met + f.breached) or 0.0

    def median(f: _Figures) -> float:
        return _rounded(percentile(f.handling_days, 0.5)) or 0.0

    return [
        figure("received", "受理总数", "count", lambda f: f.total),
        figure("valid", "有效投诉", "count", lambda f: f.count("validity", "valid")),
        figure("invalid", "无效投诉", "count", lambda f: f.count("validity", "invalid")),
        figure("level3", "三级投诉", "count", lambda f: f.count("level", "3")),
        figure("repeat", "重复投诉", "count", lambda f: f.count("repeat", "repeat")),
        figure("closed", "结案数", "count", lambda f: len(f.closed)),
        figure("withdrawn", "撤诉数", "count", lambda f: len(f.withdrawn)),
        figure("on_time_rate", "时限达成率", "rate", on_time),
        figure("median_days", "处理时长中位数（工作日）", "days", median),
        figure("compensation", "赔偿金额（元）", "yuan", lambda f: f.compensation),
        figure("refunds", "退款金额（元）", "yuan", lambda f: f.refunds),
    ]


def _stages(settled: Sequence[Any]) -> list[StageRate]:
    by: dict[str, dict[str, int]] = defaultdict(lambda: {"met": 0, "breached": 0})
    for row in settled:
        by[row["stage"]][row["outcome"]] += int(row["n"])
    return [
        StageRate(
            stage=stage,
            label=label("stage", stage),
            met=c["met"],
            breached=c["breached"],
            on_time_rate=rate(c["met"], c["met"] + c["breached"]),
        )
        for stage, c in sorted(by.items())
    ]


def _handlers(settled: Sequence[Any]) -> list[HandlerRate]:
    by: dict[Any, dict[str, Any]] = {}
    for row in settled:
        entry = by.setdefault(
            row["handler_id"], {"name": row["handler"] or UNASSIGNED, "met": 0, "breached": 0}
        )
        entry[row["outcome"]] += int(row["n"])
    return sorted(
        (
            HandlerRate(
                handler_id=hid,
                handler=e["name"],
                met=e["met"],
                breached=e["breached"],
                on_time_rate=rate(e["met"], e["met"] + e["breached"]),
            )
            for hid, e in by.items()
        ),
        key=lambda h: (-h.breached, h.handler),
    )


async def period_report(
    conn: AsyncConnection,
    caches: Caches,
    *,
    kind: ReportKind,
    period: Period,
    department: str | None,
    now: datetime,
) -> PeriodReport:
    """The weekly (投诉周报) or monthly (客户月投诉统计表) report of `period`."""
    calendar = (await caches.calendars.get(conn)).calendar
    current = await _figures(conn, period, department, calendar)
    previous = await _figures(conn, period.previous(), department, calendar)
    notable = await repo.received_notable(conn, period.start, period.end, department)
    still_open = await repo.still_open(conn, period.end, department)
    periods = period.back(TREND_PERIODS.get(kind, 12))
    trend = await repo.trend(conn, [(p.start, p.end) for p in periods], department)
    satisfaction = {key: 0 for key in ("1", "2", "3", "4", "5", "unrated")}
    for row in current.closed:
        score = row["satisfaction"]
        satisfaction["unrated" if score is None else str(score)] += 1
    return PeriodReport(
        kind=kind,
        title=REPORT_TITLES[kind],
        period=period.label,
        period_start=period.first,
        period_end=period.last,
        department=department,
        generated_at=now,
        headline=_headline(current, previous),
        received=current.total,
        received_by={d: _counts(d, current.received.get(d, {})) for d in DIMENSIONS},
        valid=current.count("validity", "valid"),
        invalid=current.count("validity", "invalid"),
        responsibility=_counts("responsibility", current.received.get("responsibility", {})),
        closed=References.of([r["reference"] for r in current.closed]),
        withdrawn=References.of(current.withdrawn),
        still_open=References.of([r["reference"] for r in still_open]),
        overdue=References.of([r["reference"] for r in still_open if r["overdue"]]),
        on_time_by_stage=_stages(current.settled),
        on_time_by_handler=_handlers(current.settled),
        handling_time=HandlingTime(
            resolved=len(current.handling_days),
            median_working_days=_rounded(percentile(current.handling_days, 0.5)),
            p90_working_days=_rounded(percentile(current.handling_days, 0.9)),
        ),
        satisfaction=[
            Count(key=k, label=label("satisfaction", k), count=n) for k, n in satisfaction.items()
        ],
        repeat_complaints=current.count("repeat", "repeat"),
        refunds_paid=current.refunds,
        compensation_paid=current.compensation,
        level3=References.of([r["reference"] for r in notable if r["level"] == 3]),
        management_review=References.of(
            [r["reference"] for r in notable if r["management_review"]]
        ),
        trend=[
            TrendPoint(period=p.label, start=p.first, received=n)
            for p, n in zip(periods, trend, strict=True)
        ],
    )
