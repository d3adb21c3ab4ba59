"""`/api/v1/reports`: 投诉周报 (`/weekly`), 客户月投诉统计表 (`/monthly`), 质量分析报告 /
责任分析报告 (`/causes`) and 客户期望分析报告 (`/expectations`) as JSON, CSV, Excel or a
self-contained chart page (`format=` or `Accept`). Managers read their department's (or all, if
company-wide); directors, auditors and admins read any."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake_api.deps import CollabDep, CurrentPrincipal, NowDep
from services.intake_api.problems import responses
from services.intake_api.reports import service
from services.intake_api.reports.formats import FORMAT_CONTENT, ReportFormat, download, negotiate
from shared.domain.reports import PeriodUnit, ReportKind
from shared.domain.values import Code, IsoDate
from shared.reports.document import cause_document, expectation_document, period_document
from shared.reports.model import CauseReport, ExpectationReport, PeriodReport

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate | None = Field(
        default=None,
        description="Any day of the period (Asia/Shanghai); default today",
        examples=["2026-11-30"],
    )
    department: Code | None = Field(
        default=None, description="One department's report; default all you may see"
    )
    format: ReportFormat | None = Field(
        default=None, description="json, csv, xlsx or html; default by `Accept`, else json"
    )


_DESCRIPTION = (
    "Figures of the complaints received, closed, withdrawn and settled in the period, with the "
    "previous period's beside the headline ones (环比). Aggregates and 受理号 only: no customer "
    "names, phones or addresses. `format=xlsx` (or `Accept: {xlsx}`) gives the Excel workbook "
    "with native charts, `format=html` a page with the same charts that opens offline, "
    "`format=csv` UTF-8 CSV with a BOM; files carry a Chinese name."
)


async def _answer(
    kind: ReportKind,
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: PeriodQuery,
    accept: str | None,
) -> PeriodReport | Response:
    report = await service.period_report(
        collab, principal, kind=kind, day=query.date, department=query.department, now=now
    )
    fmt = negotiate(query.format, accept)
    if fmt is ReportFormat.JSON:
        return report
    return download(period_document(report), fmt)


_RESPONSES = {
    **responses(401, 403, 422, 429),
    200: {"description": "The report", "content": FORMAT_CONTENT},
}


@router.get(
    "/weekly",
    summary="Get the weekly report (投诉周报), Monday to Sunday.",
    response_model=PeriodReport,
    responses=_RESPONSES,
    description=_DESCRIPTION,
)
async def weekly_report(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: Annotated[PeriodQuery, Query()],
    accept: Annotated[str | None, Header()] = None,
) -> PeriodReport | Response:
    return await _answer(ReportKind.WEEKLY, collab, principal, now, query, accept)


@router.get(
    "/monthly",
    summary="Get the monthly report (客户月投诉统计表) of a calendar month.",
    response_model=PeriodReport,
    responses=_RESPONSES,
    description=_DESCRIPTION,
)
async def monthly_report(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: Annotated[PeriodQuery, Query()],
    accept: Annotated[str | None, Header()] = None,
) -> PeriodReport | Response:
    return await _answer(ReportKind.MONTHLY, collab, principal, now, query, accept)


class AnalysisQuery(PeriodQuery):
    unit: PeriodUnit = Field(
        default=PeriodUnit.MONTH, description="week (Monday–Sunday) or month (calendar month)"
    )


@router.get(
    "/causes",
    summary="Get the cause and responsibility analysis (质量分析报告 / 责任分析报告).",
    response_model=CauseReport,
    responses=_RESPONSES,
)
async def cause_report(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: Annotated[AnalysisQuery, Query()],
    accept: Annotated[str | None, Header()] = None,
) -> CauseReport | Response:
    """The complaints received in the period: their root causes ranked with share and
    cumulative share (the main causes, up to ~80 %, to control first; seed 004 §7), cause
    classes, responsibility per department and category, and the corrective actions open,
    overdue, verified effective and not effective."""
    report = await service.cause_report(
        collab,
        principal,
        unit=query.unit,
        day=query.date,
        department=query.department,
        now=now,
    )
    fmt = negotiate(query.format, accept)
    return report if fmt is ReportFormat.JSON else download(cause_document(report), fmt)


@router.get(
    "/expectations",
    summary="Get the customer expectation analysis (客户期望分析报告).",
    response_model=ExpectationReport,
    responses=_RESPONSES,
)
async def expectation_report(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: Annotated[AnalysisQuery, Query()],
    accept: Annotated[str | None, Header()] = None,
) -> ExpectationReport | Response:
    """The complaints received in the period: desired resolution against the solution's
    remedies by category, satisfaction by outcome (as asked, partly, otherwise, no solution),
    and the customers who complained more than once (their 受理号 only; seed 003 §5.7)."""
    report = await service.expectation_report(
        collab,
        principal,
        unit=query.unit,
        day=query.date,
        department=query.department,
        now=now,
    )
    fmt = negotiate(query.format, accept)
    return report if fmt is ReportFormat.JSON else download(expectation_document(report), fmt)
