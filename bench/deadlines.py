"""Deadline planning throughput: pure arithmetic, then planning for new complaints in PostgreSQL.

    .venv/bin/python bench/deadlines.py            # or: make bench
    .venv/bin/python bench/deadlines.py --pairs 100000 --complaints 5000   # a quick run

(a) Pure Python, one core: deadlines for 1,000,000 (start, policy stage) pairs, starts spread
    over 2025–2026 (Asia/Shanghai, every hour of the day), the stages of the default SLA
    policies (SPEC §4: 24 hours and 1/2/3/5/7/10/15 working days), on the seeded calendar
    (chinesecalendar, 调休 included). Reported: `deadline_computations_per_s` (the due moment
    and its provisional flag, `BusinessCalendar.add`) and `plan_stage_per_s` (a whole
    `plan_stage`: due moment, warning moment at 75 %, the planned record). Target ≥ 200,000/s
    for the former.

(b) PostgreSQL: the whole set of deadlines the default policies start at registration
    (acknowledgement, first contact, resolution, progress update; + the regulator's reply for
    regulator cases) for 100,000 new complaints.
    - `api`: what registration does — per complaint, plan in Python and write the complaint,
      its registration event and its deadlines in ONE statement (`shared.db.changes`), from 16
      concurrent connections. Measured again without deadlines, so their cost shows.
    - `bulk`: re-planning existing complaints in batches (a new cycle), rows written with
      COPY, then the same with multi-row INSERTs: the path for imports and mass recomputation.

Starts (or reuses) PostgreSQL like the tests do (DATABASE_URL, else the embedded server under
.data/), creates a fresh migrated database and drops it at the end. Prints a table, then as its
LAST line one JSON object with the figures. Figures are never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import gc
import importlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.calendar_data import default_calendar
from shared.db import deadlines as deadlines_repo
from shared.db import sla as sla_repo
from shared.db.calendars import calendar_cache
from shared.db.changes import ComplaintChange, PlannedDeadlineRow, write
from shared.db.engine import Database
from shared.domain.calendar import BusinessCalendar
from shared.domain.complaint import Actor, ActorKind, EventMeta
from shared.domain.enums import Channel
from shared.domain.events import ComplaintRegistered
from shared.domain.intake import ComplaintIntake
from shared.domain.sla import (
    DEFAULT_POLICIES,
    PlannedDeadline,
    PolicyBook,
    StageTrigger,
    plan_stage,
)
from tests.support.factories import complaint_body

# The tests' servers (DATABASE_URL, else the embedded PostgreSQL; a database of our own),
# imported by name: mypy's scope (shared, services, migrations, bench) stays off tests/.
test_servers = importlib.import_module("tests.support.servers")

SH = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2025, 1, 1, tzinfo=SH)
SPAN_S = int((datetime(2027, 1, 1, tzinfo=SH) - FIRST).total_seconds())
BENCH_ACTOR = Actor(kind=ActorKind.SYSTEM, id="bench")


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# --- (a) pure arithmetic -------------------------------------------------------------------


def pure(pairs: int, seed: int) -> dict[str, float]:
    calendar = default_calendar()
    stages = [(p, s) for p in DEFAULT_POLICIES for s in p.stages]
    rng = random.Random(seed)
    starts = [FIRST + timedelta(seconds=rng.randrange(SPAN_S)) for _ in range(pairs)]
    work = [(t, *stages[rng.randrange(len(stages))]) for t in starts]
    calls = [(t, s.amount, s.unit) for t, _, s in work]
    for t, amount, unit in calls[:10_000]:  # warm the calendar's index and day-end memo
        calendar.add(t, amount, unit)
    gc.collect()
    add = calendar.add
    began = time.perf_counter()
    provisional = 0
    for t, amount, unit in calls:
        provisional += add(t, amount, unit)[1]
    computed = time.perf_counter() - began
    sample = work[: max(1, pairs // 5)]
    began = time.perf_counter()
    for t, policy, entry in sample:
        plan_stage(policy, entry.stage, start=t, calendar=calendar)
    planned = time.perf_counter() - began
    return {
        "deadline_computations_per_s": rate(pairs, computed),
        "plan_stage_per_s": rate(len(sample), planned),
        "provisional_share": provisional / pairs,
    }


# --- (b) PostgreSQL --------------------------------------------------------------------------


class Registrations:
    """New complaints as registration makes them (state + event), with references unique in
    this database (a synthetic day per million: the bench skips the daily sequence)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        bodies = [complaint_body() for _ in range(50)]
        bodies += [
            complaint_body(
                channel="regulator", channel_meta={"regulator_case_number": f"12315-{i}"}
            )
            for i in range(5)
        ]
        self.intakes = [ComplaintIntake.model_validate(b) for b in bodies]
        self.rng = rng
        self.count = 0

    def next(self) -> tuple[ComplaintRegistered, EventMeta, datetime]:
        self.count += 1
        day, number = divmod(self.count, 1_000_000)
        occurred = FIRST + timedelta(seconds=self.rng.randrange(SPAN_S))
        intake = self.intakes[self.count % len(self.intakes)]
        reference = f"KS-{20200101 + day:08d}-{number:06d}"
        level = 3 if intake.channel is Channel.REGULATOR else 1
        event = ComplaintRegistered(reference=reference, intake=intake, level=level)
        meta = EventMeta(complaint_id=uuid.uuid4(), seq=1, occurred_at=occurred, actor=BENCH_ACTOR)
        return event, meta, occurred


async def api_path(
    db: Database,
    registrations: Registrations,
    *,
    count: int,
    concurrency: int,
    book: PolicyBook,
    calendar: BusinessCalendar,
    calendar_version: int,
    with_deadlines: bool,
) -> tuple[float, int, list[tuple[Any, ...]]]:
    """(seconds, deadlines written, the complaints' facts for the bulk path)."""
    remaining = [count]
    written = [0]
    facts: list[tuple[Any, ...]] = []

    async def worker() -> None:
        async with db.connect() as conn:
            while remaining[0] > 0:
                remaining[0] -= 1
                event, meta, occurred = registrations.next()
                state = event.apply(None, meta)
                planned_rows: list[PlannedDeadlineRow] = []
                if with_deadlines:
                    planned = book.plan(
                        StageTrigger.REGISTRATION,
                        kind=state.kind,
                        level=state.level,
                        category=state.category,
                        channel=state.channel,
                        start=occurred,
                        calendar=calendar,
                    )
                    planned_rows = [
                        PlannedDeadlineRow(
                            **deadlines_repo.row_for(state.id, p, calendar_version=calendar_version)
                        )
                        for p in planned
                    ]
                    written[0] += len(planned)
                await write(
                    conn,
                    [
                        ComplaintChange(
                            state=state,
                            previous=None,
                            events=[(event, meta)],
                            planned_deadlines=planned_rows,
                        )
                    ],
                )
                facts.append(
                    (state.id, state.kind, state.level, state.category, state.channel, occurred)
                )

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, written[0], facts


async def bulk_path(
    db: Database,
    facts: Sequence[tuple[Any, ...]],
    *,
    cycle: int,
    batch: int,
    book: PolicyBook,
    calendar: BusinessCalendar,
    calendar_version: int,
    write: Callable[[Any, list[dict[str, Any]]], Any],
) -> tuple[float, int, float]:
    """Plan a new cycle of every registration deadline for existing complaints, batch by batch
    (one transaction each); (seconds, rows, seconds spent writing)."""
    total, writing = 0, 0.0
    began = time.perf_counter()
    for i in range(0, len(facts), batch):
        rows: list[dict[str, Any]] = []
        for complaint_id, kind, level, category, channel, occurred in facts[i : i + batch]:
            planned: list[PlannedDeadline] = book.plan(
                StageTrigger.REGISTRATION,
                kind=kind,
                level=level,
                category=category,
                channel=channel,
                start=occurred,
                calendar=calendar,
                cycle=cycle,
            )
            rows += [
                deadlines_repo.row_for(complaint_id, p, calendar_version=calendar_version)
                for p in planned
            ]
        written = time.perf_counter()
        async with db.begin() as conn:
            await write(conn, rows)
        writing += time.perf_counter() - written
        total += len(rows)
    return time.perf_counter() - began, total, writing


async def database_part(url: str, args: argparse.Namespace) -> dict[str, float]:
    db = Database(url, pool_size=args.concurrency, max_overflow=0)
    try:
        async with db.connect() as conn:
            policies = await sla_repo.load_policies(conn)
            loaded = await calendar_cache.get(conn)  # seeds the default calendar
        calendar, version = loaded.calendar, loaded.version
        registrations = Registrations(args.seed)
        common: dict[str, Any] = {
            "book": PolicyBook(policies),
            "calendar": calendar,
            "calendar_version": version,
        }
        baseline_n = max(1, args.complaints // 5)
        base_s, _, _ = await api_path(
            db,
            registrations,
            count=baseline_n,
            concurrency=args.concurrency,
            with_deadlines=False,
            **common,
        )
        print(
            f"api path, no deadlines     {baseline_n:>9,} complaints  "
            f"{rate(baseline_n, base_s):>10,.0f} /s"
        )
        api_s, api_rows, facts = await api_path(
            db,
            registrations,
            count=args.complaints,
            concurrency=args.concurrency,
            with_deadlines=True,
            **common,
        )
        print(
            f"api path, with deadlines   {args.complaints:>9,} complaints  "
            f"{rate(args.complaints, api_s):>10,.0f} /s  ({api_rows:,} deadlines)"
        )
        copy_s, copy_rows, copy_w = await bulk_path(
            db, facts, cycle=2, batch=args.batch, write=deadlines_repo.copy_rows, **common
        )
        print(
            f"bulk re-plan, COPY         {len(facts):>9,} complaints  "
            f"{rate(len(facts), copy_s):>10,.0f} /s  "
            f"({rate(copy_rows, copy_s):,.0f} rows/s; writing {rate(copy_rows, copy_w):,.0f} "
            "rows/s)"
        )
        insert_s, insert_rows, insert_w = await bulk_path(
            db, facts, cycle=3, batch=args.batch, write=deadlines_repo.insert_many, **common
        )
        print(
            f"bulk re-plan, INSERT       {len(facts):>9,} complaints  "
            f"{rate(len(facts), insert_s):>10,.0f} /s  "
            f"({rate(insert_rows, insert_s):,.0f} rows/s; writing "
            f"{rate(insert_rows, insert_w):,.0f} rows/s)"
        )
    finally:
        await db.dispose()
    with_rate, without_rate = rate(args.complaints, api_s), rate(baseline_n, base_s)
    return {
        "planned_complaints_per_s": with_rate,
        "registered_complaints_per_s_without_deadlines": without_rate,
        "deadlines_cost_pct_of_registration": 100 * (without_rate / with_rate - 1),
        "deadlines_per_complaint": api_rows / args.complaints,
        "bulk_copy_planned_complaints_per_s": rate(len(facts), copy_s),
        "bulk_copy_deadline_rows_per_s": rate(copy_rows, copy_s),
        "bulk_copy_write_rows_per_s": rate(copy_rows, copy_w),
        "bulk_insert_planned_complaints_per_s": rate(len(facts), insert_s),
        "bulk_insert_deadline_rows_per_s": rate(insert_rows, insert_s),
        "bulk_insert_write_rows_per_s": rate(insert_rows, insert_w),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=2_000, help="complaints per bulk batch")
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    figures: dict[str, Any] = {
        "pairs": args.pairs,
        "complaints": args.complaints,
        "concurrency": args.concurrency,
    }
    computed = pure(args.pairs, args.seed)
    figures.update(computed)
    print(
        f"pure deadline computations {args.pairs:>9,} pairs       "
        f"{computed['deadline_computations_per_s']:>10,.0f} /s  (target ≥ 200,000)"
    )
    print(
        f"pure plan_stage (+warning) {args.pairs // 5:>9,} pairs       "
        f"{computed['plan_stage_per_s']:>10,.0f} /s"
    )
    with test_servers.servers() as found:
        url = test_servers.create_database(found.admin_url)
        try:
            figures.update(asyncio.run(database_part(url, args)))
        finally:
            test_servers.drop_database(found.admin_url, url)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
