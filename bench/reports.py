"""Report speed on a year of complaints: the weekly and monthly reports, the monthly Excel
workbook and chart page, and the monthly assessment statement, on 1,000,000 complaints.

    .venv/bin/python bench/reports.py                 # 1,000,000 complaints over 12 months
    .venv/bin/python bench/reports.py --n 100000      # a quicker run

The corpus is the shared generator's (`bench/corpus.py`, `ensure_seeded`): complaints with their
events and deadlines written through the project's tables, made once per schema and reused. The
assessment ledger (考核) is filled from it as the change pipeline would have: one first-contact
entry (seed 002 §5.4.1.1, 30 元) per breached first-contact deadline with a handler, and one
survey entry (§5.4.1.3, 50 元) per closed complaint without satisfaction — once, when the ledger
is empty. The corpus is vacuumed first, as autovacuum keeps a database in service.

Each figure is the median of `--repeat` runs (after one warm-up run) of what the API does for
the request minus HTTP: the report assembled from its SQL (`shared.application.reports`), the
document and the workbook or page rendered (`shared.reports`), the statement's service.
Targets (issue 12): monthly JSON ≤ 2 s, weekly ≤ 1 s, Excel ≤ 5 s, peak memory ≤ 500 MB.
Prints a table, then as its LAST line one JSON object with the figures; nothing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import importlib
import json
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.corpus import ensure_seeded
from services.intake_api.assessment import service as assessment_service
from shared.application import reports
from shared.application.bootstrap import Collaborators
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.complaint import ActorKind
from shared.domain.enums import Role
from shared.domain.reference import local_date
from shared.domain.reports import Period, ReportKind
from shared.reports.document import period_document
from shared.reports.html import page
from shared.reports.xlsx import workbook

test_servers = importlib.import_module("tests.support.servers")

# The ledger as the change pipeline fills it (shared.domain.assessment), from the corpus.
FILL_LEDGER = """
INSERT INTO assessment_entries (key, handler_id, department, complaint_id, reference, rule,
                                amount, occurred_at, source, created_at)
SELECT 'first_contact_missed:' || d.id, u.id, u.department, c.id, c.reference,
       'first_contact_missed', 30.00, d.breached_at, 'automatic', d.breached_at
FROM deadlines AS d
JOIN complaints AS c ON c.id = d.complaint_id
JOIN users AS u ON u.id = coalesce(d.breached_assignee_id, c.assignee_id)
WHERE d.stage = 'first_contact' AND d.status = 'breached' AND d.breached_at IS NOT NULL
UNION ALL
SELECT 'survey_not_done:' || c.id, u.id, u.department, c.id, c.reference, 'survey_not_done',
       50.00, c.closed_at, 'automatic', c.closed_at
FROM complaints AS c
JOIN users AS u ON u.id = c.assignee_id
WHERE c.status = 'closed' AND c.satisfaction IS NULL AND c.kind = 'complaint'
ON CONFLICT (key) DO NOTHING
"""

ADMIN = Principal(kind=ActorKind.USER, id="bench", label="bench", role=Role.ADMIN)


async def _timed(run: Callable[[], Awaitable[Any]], repeat: int) -> float:
    await run()  # warm-up: caches, plans, the calendar
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(url: str, *, repeat: int) -> dict[str, Any]:
    db = Database(url, pool_size=8, max_overflow=0)
    collab = Collaborators(db)
    try:
        async with db.connect() as conn:
            seeded = int(
                (await conn.exec_driver_sql("SELECT count(*) FROM complaints")).scalar_one()
            )
            entries = int(
                (await conn.exec_driver_sql("SELECT count(*) FROM assessment_entries")).scalar_one()
            )
        if entries == 0:
            async with db.begin() as conn:
                await conn.exec_driver_sql(FILL_LEDGER)
        # A database in service is vacuumed by autovacuum: its visibility map lets the reports'
        # counts read the indexes alone. The bulk-loaded corpus is vacuumed here (quick once
        # done: pages all-visible already are skipped).
        async with db.connect() as conn:
            for table in ("complaints", "deadlines", "complaint_events", "assessment_entries"):
                await conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
        async with db.connect() as conn:
            newest = (
                await conn.exec_driver_sql("SELECT max(created_at) FROM complaints")
            ).scalar_one()
        last_day = local_date(newest or datetime.now(UTC))
        # The last whole week and month of the corpus: the scheduled reports' periods.
        week = Period.week_of(last_day).previous()
        month = Period.month_of(last_day).previous()
        now = datetime.now(UTC)

        async def report(kind: ReportKind, period: Period) -> Any:
            return await reports.period_report(
                db, collab.caches, kind=kind, period=period, department=None, now=now
            )

        async def weekly() -> Any:
            return await report(ReportKind.WEEKLY, week)

        async def monthly() -> Any:
            return await report(ReportKind.MONTHLY, month)

        async def monthly_xlsx() -> bytes:
            return workbook(period_document(await monthly()))

        async def monthly_html() -> bytes:
            return page(period_document(await monthly()))

        async def assessment() -> Any:
            return await assessment_service.statement(
                collab, ADMIN, month=month.first, department=None, now=now
            )

        figures: dict[str, Any] = {
            "complaints_seeded": seeded,
            "week": week.label,
            "month": month.label,
            "weekly_report_s": await _timed(weekly, repeat),
            "monthly_report_s": await _timed(monthly, repeat),
            "monthly_xlsx_s": await _timed(monthly_xlsx, repeat),
            "monthly_html_s": await _timed(monthly_html, repeat),
            "assessment_month_s": await _timed(assessment, repeat),
        }
        sample = await monthly()
        figures["monthly_received"] = sample.received
        figures["monthly_resolved"] = sample.handling_time.resolved
        figures["monthly_xlsx_bytes"] = len(await monthly_xlsx())
        return figures
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with test_servers.servers() as found:
        url = ensure_seeded(found.admin_url, args.n, months=args.months, seed=args.seed)
        figures = asyncio.run(measure(url, repeat=args.repeat))
    # ru_maxrss is in KiB on Linux.
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for name, value in figures.items():
        print(f"{name:>22}  {value}", file=sys.stderr)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
