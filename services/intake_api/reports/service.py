"""The reports' use cases: who may read which scope, and the report of a period."""

from __future__ import annotations

from datetime import date, datetime

from shared.application import reports
from shared.application.bootstrap import Collaborators
from shared.domain.access import Principal
from shared.domain.reference import local_date
from shared.domain.reports import Period, PeriodUnit, ReportKind, period_for, report_scope
from shared.reports.model import CauseReport, ExpectationReport, PeriodReport


async def period_report(
    collab: Collaborators,
    principal: Principal,
    *,
    kind: ReportKind,
    day: date | None,
    department: str | None,
    now: datetime,
) -> PeriodReport:
    """The weekly or monthly report of the period holding `day` (default: today, Asia/Shanghai),
    for the department the reader may see."""
    scope = report_scope(principal, department)
    period = Period.of(period_for(kind), day or local_date(now))
    return await reports.period_report(
        collab.db, collab.caches, kind=kind, period=period, department=scope, now=now
    )


async def cause_report(
    collab: Collaborators,
    principal: Principal,
    *,
    unit: PeriodUnit,
    day: date | None,
    department: str | None,
    now: datetime,
) -> CauseReport:
    """质量分析报告 / 责任分析报告 of the week or month holding `day` (default today)."""
    scope = report_scope(principal, department)
    period = Period.of(unit, day or local_date(now))
    async with collab.db.connect() as conn:
        return await reports.cause_report(conn, period=period, department=scope, now=now)


async def expectation_report(
    collab: Collaborators,
    principal: Principal,
    *,
    unit: PeriodUnit,
    day: date | None,
    department: str | None,
    now: datetime,
) -> ExpectationReport:
    """客户期望分析报告 of the week or month holding `day` (default today)."""
    scope = report_scope(principal, department)
    period = Period.of(unit, day or local_date(now))
    async with collab.db.connect() as conn:
        return await reports.expectation_report(conn, period=period, department=scope, now=now)
