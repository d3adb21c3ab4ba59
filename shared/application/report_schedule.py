"""Producing the scheduled reports (定期报表, SPEC §6), for the SLA worker's cron.

For every (kind, department scope) someone subscribes to, each period whose report is due
(`shared.domain.reports.due_periods`: 09:00 on the first working day after it) is produced once:
one transaction claims the period's run (a unique row), builds the report, keeps its JSON, Excel
workbook and chart page, and queues one e-mail per subscribed recipient in the outbox. A second
worker doing the same at the same moment waits on the claim and then finds the run made.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application import reports
from shared.application.bootstrap import Collaborators
from shared.db import report_schedule as repo
from shared.domain.reports import (
    REPORT_TITLES,
    Period,
    PeriodUnit,
    ReportKind,
    due_periods,
    period_for,
)
from shared.reports.document import (
    Document,
    cause_document,
    expectation_document,
    period_document,
)
from shared.reports.html import page
from shared.reports.xlsx import workbook

# The period each kind of scheduled report covers: the analyses are monthly.
SCHEDULED_UNIT: dict[ReportKind, PeriodUnit] = {kind: period_for(kind) for kind in ReportKind}


@dataclass(frozen=True)
class Produced:
    run_id: int
    kind: ReportKind
    scope: str
    period: Period
    emails: int


def _ids(value: Any) -> list[uuid.UUID]:
    raw = orjson.loads(value) if isinstance(value, str | bytes) else value
    return [uuid.UUID(v) for v in raw or ()]


async def build(
    conn: AsyncConnection,
    collab: Collaborators,
    *,
    kind: ReportKind,
    period: Period,
    department: str | None,
    now: datetime,
) -> tuple[BaseModel, Document]:
    """A report of any kind and its document."""
    if kind in (ReportKind.WEEKLY, ReportKind.MONTHLY):
        weekly = await reports.period_report(
            collab.db, collab.caches, kind=kind, period=period, department=department, now=now
        )
        return weekly, period_document(weekly)
    if kind is ReportKind.CAUSES:
        causes = await reports.cause_report(conn, period=period, department=department, now=now)
        return causes, cause_document(causes)
    wishes = await reports.expectation_report(conn, period=period, department=department, now=now)
    return wishes, expectation_document(wishes)


async def produce_due_reports(
    collab: Collaborators, *, now: datetime, on_claimed: Callable[[], Any] | None = None
) -> list[Produced]:
    """Produce every subscribed report that is due and not made yet; returns what this call
    made. `on_claimed` runs after a claim, before the work (tests hold a worker there)."""
    async with collab.db.connect() as conn:
        active = await repo.subscriptions(conn, active=True)
        calendar = (await collab.caches.calendars.get(conn)).calendar
    recipients: dict[tuple[ReportKind, str], set[uuid.UUID]] = defaultdict(set)
    for sub in active:
        recipients[(ReportKind(sub["kind"]), sub["department"] or "")] |= set(
            _ids(sub["recipient_ids"])
        )
    made = []
    for (kind, scope), people in sorted(recipients.items()):
        for period in due_periods(SCHEDULED_UNIT[kind], now, calendar):
            produced = await _produce(
                collab,
                kind=kind,
                scope=scope,
                period=period,
                people=people,
                now=now,
                on_claimed=on_claimed,
            )
            if produced is not None:
                made.append(produced)
    return made


async def _produce(
    collab: Collaborators,
    *,
    kind: ReportKind,
    scope: str,
    period: Period,
    people: set[uuid.UUID],
    now: datetime,
    on_claimed: Callable[[], Any] | None,
) -> Produced | None:
    async with collab.db.begin() as conn:
        run_id = await repo.claim_run(
            conn,
            kind=kind.value,
            scope=scope,
            period_start=period.first,
            period_end=period.last,
            now=now,
        )
        if run_id is None:
            return None
        if on_claimed is not None:
            await on_claimed()
        report, document = await build(
            conn, collab, kind=kind, period=period, department=scope or None, now=now
        )
        emails = await repo.queue_emails(
            conn,
            payload={
                "report_run_id": run_id,
                "report_title": REPORT_TITLES[kind],
                "report_period": period.label,
            },
            recipient_ids=sorted(people),
            now=now,
        )
        await repo.store_run(
            conn,
            run_id,
            title=document.title,
            file_stem=document.file_stem,
            report=report.model_dump_json(),
            xlsx=workbook(document),
            html=page(document),
            recipients=emails,
        )
    return Produced(run_id, kind, scope, period, emails)
