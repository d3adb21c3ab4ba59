"""Assembling the reports (统计分析, SPEC §6) from the repository's aggregates: the API serves
them, the SLA worker produces the scheduled ones. Handling time is counted here, on the business
calendar (working days, the time awaiting the customer excluded)."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.bootstrap import Caches
from shared.db import reports as repo
from shared.db.engine import Database
from shared.domain.calendar import BusinessCalendar
from shared.domain.reference import local_date
from shared.domain.reports import (
    REPORT_TITLES,
    Period,
    ReportKind,
    WorkingClock,
    change,
    pareto,
    rate,
)
from shared.reports.labels import DIMENSIONS, NONE_LABEL, label
from shared.reports.model import (
    MAX_REFERENCES,
    CategoryCause,
    CauseReport,
    CorrectiveActions,
    Count,
    ExpectationReport,
    GroupComplaints,
    HandlerRate,
    HandlingTime,
    Headline,
    OutcomeSatisfaction,
    ParetoRow,
    PeriodReport,
    References,
    RepeatCustomer,
    ResponsibilityRow,
    StageRate,
    TrendPoint,
    WishRow,
)

TREND_PERIODS = {ReportKind.WEEKLY: 8, ReportKind.MONTHLY: 12}
UNASSIGNED = "未分配"


@dataclass(frozen=True)
class _Resolved:
    """The complaints resolved in a period: how many, their handling time in working days
    (median, 90th percentile; None when there are none) and what was paid."""

    count: int
    median_days: float | None
    p90_days: float | None
    refunds: Decimal
    compensation: Decimal

    @classmethod
    def of(cls, row: Any) -> _Resolved:
        return cls(
            count=int(row["resolved"]),
            median_days=row["median_days"],
            p90_days=row["p90_days"],
            refunds=Decimal(row["refunds"]),
            compensation=Decimal(row["compensation"]),
        )


@dataclass(frozen=True)
class _Figures:
    """One period's figures, before they become a report (the previous period's give the
    headline's changes)."""

    received: dict[str, dict[str, int]]
    closed: Any  # count, 回访 answers, the first 受理号 (repo.closed)
    withdrawn: list[str]
    settled: Sequence[Any]
    resolved: _Resolved

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


# The reports' statements run concurrently on up to READER_CONNECTIONS connections of the pool
# (the API's pool also serves intake): PostgreSQL works on several at once while Python
# assembles what came back (bench/reports.py). The connections' transactions share one
# snapshot (shared.db.reports.export_snapshot), so a report's figures add up whatever is
# committed while it runs. A statement starts when it is asked for (`run` returns a task) and
# takes the connections in that order: the report asks for its longest ones first, so that
# they do not wait for the short ones (bench/reports.py).
Query = Callable[[AsyncConnection], Awaitable[Any]]
READER_CONNECTIONS = 4


class _Reader:
    """A report's statements, each run on whichever of the report's connections is free; the
    connections are opened as the statements need them and all end with the report (`async
    with`)."""

    def __init__(self, db: Database, calendar: BusinessCalendar, clock: WorkingClock) -> None:
        self.db = db
        self.calendar = calendar
        self.clock = clock
        self._open = AsyncExitStack()
        self._idle: asyncio.Queue[AsyncConnection] = asyncio.Queue()
        self._opened = 0
        self._snapshot: str | None = None
        self._first = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> _Reader:
        await self._open.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> bool | None:
        # A statement that failed ends the report: those still running are cancelled before
        # their connections are given back.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return await self._open.__aexit__(*exc)  # type: ignore[arg-type]

    async def _connection(self) -> AsyncConnection:
        if not self._idle.empty() or self._opened >= READER_CONNECTIONS:
            return await self._idle.get()
        self._opened += 1
        async with self._first:  # the first connection exports the snapshot the others take
            conn = await self._open.enter_async_context(self.db.begin())
            if self._snapshot is None:
                self._snapshot = await repo.export_snapshot(conn)
            else:
                await repo.share_snapshot(conn, self._snapshot)
        # No JIT compilation: on a million complaints the planner's estimates cross the JIT
        # thresholds and PostgreSQL spent seconds compiling a statement that then ran in
        # milliseconds (bench/reports.py). SET LOCAL: for this transaction only.
        await conn.exec_driver_sql("SET LOCAL jit = off")
        # No parallel workers either: the report already runs READER_CONNECTIONS statements at
        # once, and workers on top of them only compete for the same cores (bench/reports.py).
        await conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        return conn

    def run(self, query: Query) -> asyncio.Task[Any]:
        """`query` on one of the report's connections, started now."""
        task = asyncio.create_task(self._run(query))
        self._tasks.append(task)
        return task

    async def _run(self, query: Query) -> Any:
        conn = await self._connection()
        try:
            return await query(conn)
        finally:
            self._idle.put_nowait(conn)

    def resolved(
        self, start: datetime, end: datetime, department: str | None
    ) -> Awaitable[_Resolved]:
        clock, zone = self.clock, self.calendar.tz
        row = self.run(lambda c: repo.resolved(c, start, end, department, clock=clock, zone=zone))

        async def of() -> _Resolved:
            return _Resolved.of(await row)

        return of()


async def _reader(db: Database, caches: Caches, period: Period) -> _Reader:
    """A report's reader, with the working-time clock its handling times are counted on: the
    business calendar's days from the oldest complaint's to the end of `period` (a complaint
    resolved in the period was registered in between)."""
    async with db.connect() as conn:
        calendar = (await caches.calendars.get(conn)).calendar
        oldest = await repo.first_received(conn)
    zone = ZoneInfo(calendar.tz)
    first = min(oldest.astimezone(zone).date(), period.first) if oldest else period.first
    return _Reader(db, calendar, WorkingClock(calendar, first, period.last))


def _figures(reader: _Reader, period: Period, department: str | None) -> Awaitable[_Figures]:
    """The period's figures, their statements started now (the longest first)."""
    start, end = period.start, period.end
    settled = reader.run(lambda c: repo.settled_deadlines(c, start, end, department))
    by = reader.run(lambda c: repo.received_by(c, start, end, department))
    resolved = reader.resolved(start, end, department)
    closed = reader.run(lambda c: repo.closed(c, start, end, department, listed=MAX_REFERENCES))
    withdrawn = reader.run(lambda c: repo.withdrawn(c, start, end, department))
    return _figures_of(by, resolved, closed, withdrawn, settled)


async def _figures_of(
    by_dimension: Awaitable[Sequence[Any]],
    resolved_of: Awaitable[_Resolved],
    closed_of: Awaitable[Any],
    withdrawn_of: Awaitable[list[str]],
    settled_of: Awaitable[Sequence[Any]],
) -> _Figures:
    by, resolved, closed, withdrawn, settled = await asyncio.gather(
        by_dimension, resolved_of, closed_of, withdrawn_of, settled_of
    )
    received: dict[str, dict[str, int]] = defaultdict(dict)
    for row in by:
        received[row["dimension"]][row["key"]] = int(row["n"])
    return _Figures(
        received=dict(received),
        closed=closed,
        withdrawn=withdrawn,
        settled=settled,
        resolved=resolved,
    )


@dataclass(frozen=True)
class _Totals:
    """A period's headline figures (the current one's from its figures, the previous one's
    from the lighter totals queries)."""

    received: int
    invalid: int
    level3: int
    repeats: int
    closed: int
    withdrawn: int
    met: int
    breached: int
    median_days: float | None
    compensation: Decimal
    refunds: Decimal

    @classmethod
    def of(cls, f: _Figures) -> _Totals:
        return cls(
            received=f.total,
            invalid=f.count("validity", "invalid"),
            level3=f.count("level", "3"),
            repeats=f.count("repeat", "repeat"),
            closed=int(f.closed["closed_count"]),
            withdrawn=len(f.withdrawn),
            met=f.met,
            breached=f.breached,
            median_days=f.resolved.median_days,
            compensation=f.resolved.compensation,
            refunds=f.resolved.refunds,
        )


def _totals(reader: _Reader, period: Period, department: str | None) -> Awaitable[_Totals]:
    """The period's headline figures, their statements started now (the longest first)."""
    start, end = period.start, period.end
    resolved = reader.resolved(start, end, department)
    settled = reader.run(lambda c: repo.settled_totals(c, start, end, department))
    received = reader.run(lambda c: repo.received_totals(c, start, end, department))
    withdrawn = reader.run(lambda c: repo.withdrawn(c, start, end, department))
    return _totals_of(received, settled, withdrawn, resolved)


async def _totals_of(
    received_of: Awaitable[Any],
    settled_of: Awaitable[Any],
    withdrawn_of: Awaitable[list[str]],
    resolved_of: Awaitable[_Resolved],
) -> _Totals:
    received, settled, withdrawn, resolved = await asyncio.gather(
        received_of, settled_of, withdrawn_of, resolved_of
    )
    return _Totals(
        received=int(received["received"]),
        invalid=int(received["invalid"]),
        level3=int(received["level3"]),
        repeats=int(received["repeats"]),
        closed=int(settled["closed"]),
        withdrawn=len(withdrawn),
        met=int(settled["met"]),
        breached=int(settled["breached"]),
        median_days=resolved.median_days,
        compensation=resolved.compensation,
        refunds=resolved.refunds,
    )


def _counts(dimension: str, counts: dict[str, int]) -> list[Count]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Count(key=k, label=label(dimension, k), count=n) for k, n in ordered]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _headline(now: _Totals, before: _Totals) -> list[Headline]:
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

    def on_time(f: _Totals) -> float:
        return rate(f.met, f.met + f.breached) or 0.0

    def median(f: _Totals) -> float:
        return _rounded(f.median_days) or 0.0

    return [
        figure("received", "受理总数", "count", lambda f: f.received),
        figure("valid", "有效投诉", "count", lambda f: f.received - f.invalid),
        figure("invalid", "无效投诉", "count", lambda f: f.invalid),
        figure("level3", "三级投诉", "count", lambda f: f.level3),
        figure("repeat", "重复投诉", "count", lambda f: f.repeats),
        figure("closed", "结案数", "count", lambda f: f.closed),
        figure("withdrawn", "撤诉数", "count", lambda f: f.withdrawn),
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
    db: Database,
    caches: Caches,
    *,
    kind: ReportKind,
    period: Period,
    department: str | None,
    now: datetime,
) -> PeriodReport:
    """The weekly (投诉周报) or monthly (客户月投诉统计表) report of `period`."""
    periods = period.back(TREND_PERIODS.get(kind, 12))
    bounds = [(p.start, p.end) for p in periods]
    before = period.previous()
    async with await _reader(db, caches, period) as reader:
        current, previous, still_open, trend, grouped, grouped_before = await asyncio.gather(
            _figures(reader, period, department),
            _totals(reader, before, department),
            reader.run(lambda c: repo.still_open(c, period.end, department, listed=MAX_REFERENCES)),
            reader.run(lambda c: repo.trend(c, bounds, department)),
            reader.run(
                lambda c: repo.groups(
                    c, period.start, period.end, department, listed=MAX_REFERENCES
                )
            ),
            reader.run(lambda c: repo.groups(c, before.start, before.end, department, listed=0)),
        )
    group_count, group_previous = int(grouped["complaints"]), int(grouped_before["complaints"])
    satisfaction = {key: 0 for key in ("1", "2", "3", "4", "5", "unreachable", "unrated")}
    for answer, n in _json(current.closed["answers"]).items():
        satisfaction[answer] += int(n)
    resolved = current.resolved
    return PeriodReport(
        kind=kind,
        title=REPORT_TITLES[kind],
        period=period.label,
        period_start=period.first,
        period_end=period.last,
        department=department,
        generated_at=now,
        headline=_headline(_Totals.of(current), previous),
        received=current.total,
        received_by={d: _counts(d, current.received.get(d, {})) for d in DIMENSIONS},
        valid=current.count("validity", "valid"),
        invalid=current.count("validity", "invalid"),
        responsibility=_counts("responsibility", current.received.get("responsibility", {})),
        closed=References.counted(
            current.closed["closed_count"], list(current.closed["closed_references"])
        ),
        withdrawn=References.of(current.withdrawn),
        still_open=References.counted(
            still_open["open_count"], list(still_open["open_references"])
        ),
        overdue=References.counted(
            still_open["overdue_count"], list(still_open["overdue_references"])
        ),
        on_time_by_stage=_stages(current.settled),
        on_time_by_handler=_handlers(current.settled),
        handling_time=HandlingTime(
            resolved=resolved.count,
            median_working_days=_rounded(resolved.median_days),
            p90_working_days=_rounded(resolved.p90_days),
        ),
        satisfaction=[
            Count(key=k, label=label("satisfaction", k), count=n) for k, n in satisfaction.items()
        ],
        repeat_complaints=current.count("repeat", "repeat"),
        group_complaints=GroupComplaints(
            count=group_count,
            references=list(grouped["group_references"]),
            truncated=group_count > len(grouped["group_references"]),
            groups=int(grouped["groups"]),
            customers=int(grouped["customers"]),
            previous=group_previous,
            change=change(group_count, group_previous),
        ),
        refunds_paid=resolved.refunds,
        compensation_paid=resolved.compensation,
        level3=References.of(sorted(current.received.get("level3", {}))),
        management_review=References.of(sorted(current.received.get("management_review", {}))),
        trend=[
            TrendPoint(period=p.label, start=p.first, received=n)
            for p, n in zip(periods, trend, strict=True)
        ],
    )


def _json(value: Any) -> Any:
    """A JSON column as asyncpg gives it (text) or SQLAlchemy does (decoded)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


MAIN_CAUSES_UP_TO = 0.8  # Pareto: the causes that make up ~80 % are the main ones (seed 004 §7)


async def cause_report(
    conn: AsyncConnection,
    *,
    period: Period,
    department: str | None,
    now: datetime,
) -> CauseReport:
    """质量分析报告 / 责任分析报告 of the complaints received in `period`."""
    rows = await repo.causes(conn, period.start, period.end, department)
    causes: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    by_department: dict[str, Counter[str]] = defaultdict(Counter)
    by_category: Counter[tuple[str, str]] = Counter()
    actions = {"total": 0, "open": 0, "overdue": 0, "done": 0, "effective": 0, "not": 0}
    today = local_date(now)
    for row in rows:
        classes[row["cause_class"] or "unclassified"] += 1
        by_department[row["department"]][row["responsibility"]] += 1
        if row["root_cause"]:
            causes[row["root_cause"]] += 1
            by_category[(row["category"], row["root_cause"])] += 1
        for action in _json(row["actions"]) or ():
            actions["total"] += 1
            if action.get("status") != "done":
                actions["open"] += 1
                if date.fromisoformat(action["due_date"]) < today:
                    actions["overdue"] += 1
            elif action.get("verified") is True:
                actions["effective"] += 1
            elif action.get("verified") is False:
                actions["not"] += 1
            else:
                actions["done"] += 1
    ranked = pareto(list(causes.items()))
    return CauseReport(
        kind=ReportKind.CAUSES,
        title=REPORT_TITLES[ReportKind.CAUSES],
        period=period.label,
        period_start=period.first,
        period_end=period.last,
        department=department,
        generated_at=now,
        received=len(rows),
        analysed=sum(causes.values()),
        pareto=[
            ParetoRow(
                cause=cause,
                count=n,
                share=share,
                cumulative_share=cumulative,
                # The first cause is always a main one, however large its share.
                main=i == 0 or cumulative - share < MAIN_CAUSES_UP_TO,
            )
            for i, (cause, n, share, cumulative) in enumerate(ranked)
        ],
        cause_class=[
            Count(key=k, label=label("cause_class", k), count=n)
            for k, n in sorted(classes.items(), key=lambda item: (-item[1], item[0]))
        ],
        responsibility_by_department=[
            ResponsibilityRow(
                department=d or NONE_LABEL,
                counts=_counts("responsibility", dict(counts)),
                total=sum(counts.values()),
            )
            for d, counts in sorted(by_department.items())
        ],
        causes_by_category=[
            CategoryCause(
                category=category,
                category_label=label("category", category),
                cause=cause,
                count=n,
            )
            for (category, cause), n in sorted(
                by_category.items(), key=lambda item: (item[0][0], -item[1], item[0][1])
            )
        ],
        corrective_actions=CorrectiveActions(
            total=actions["total"],
            open=actions["open"],
            overdue=actions["overdue"],
            done_unverified=actions["done"],
            verified_effective=actions["effective"],
            not_effective=actions["not"],
        ),
    )


def _outcome(asked: set[str], given: set[str], has_solution: bool) -> str:
    if not has_solution:
        return "no_solution"
    if asked and asked <= given:
        return "as_asked"
    if asked & given:
        return "partly"
    return "otherwise"


async def expectation_report(
    conn: AsyncConnection,
    *,
    period: Period,
    department: str | None,
    now: datetime,
) -> ExpectationReport:
    """客户期望分析报告 of the complaints received in `period`."""
    rows = await repo.expectations(conn, period.start, period.end, department)
    wishes: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    outcomes: dict[str, Counter[str]] = {k: Counter() for k in _OUTCOMES}
    customers: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        asked, given = set(_json(row["asked"])), set(_json(row["given"]))
        for kind in asked | given:
            counts = wishes[(row["category"], kind)]
            counts[0] += kind in asked
            counts[1] += kind in given
            counts[2] += kind in asked and kind in given
        if row["has_solution"] or row["status"] in _ANSWERED:
            outcome = _outcome(asked, given, row["has_solution"])
            score = row["satisfaction"]
            outcomes[outcome]["unrated" if score is None else str(score)] += 1
        customers[row["customer_key"]].append(row["reference"])
    return ExpectationReport(
        kind=ReportKind.EXPECTATIONS,
        title=REPORT_TITLES[ReportKind.EXPECTATIONS],
        period=period.label,
        period_start=period.first,
        period_end=period.last,
        department=department,
        generated_at=now,
        received=len(rows),
        wishes=[
            WishRow(
                category=category,
                category_label=label("category", category),
                resolution=kind,
                resolution_label=label("resolution", kind),
                asked=c[0],
                given=c[1],
                asked_and_given=c[2],
            )
            for (category, kind), c in sorted(wishes.items())
        ],
        outcomes=[_outcome_row(k, counts) for k, counts in outcomes.items()],
        repeat_customers=sorted(
            (
                RepeatCustomer(complaints=len(refs), references=sorted(refs))
                for refs in customers.values()
                if len(refs) > 1
            ),
            key=lambda r: (-r.complaints, r.references[0]),
        ),
    )


_OUTCOMES = ("as_asked", "partly", "otherwise", "no_solution")
# Answered without a solution: an explanation, an invalid finding, a resolution by reply.
_ANSWERED = {"resolved", "closed", "invalid"}
_SCORES = ("1", "2", "3", "4", "5", "unrated")


def _outcome_row(outcome: str, counts: Counter[str]) -> OutcomeSatisfaction:
    rated = [int(k) for k in counts.elements() if k != "unrated"]
    return OutcomeSatisfaction(
        outcome=outcome,
        label=label("outcome", outcome),
        complaints=sum(counts.values()),
        satisfaction=[
            Count(key=k, label=label("satisfaction", k), count=counts[k]) for k in _SCORES
        ],
        average=_rounded(sum(rated) / len(rated)) if rated else None,
    )
