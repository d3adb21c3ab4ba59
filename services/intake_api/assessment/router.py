"""`/api/v1/assessment`: the assessment ledger (考核台账, seed 002 §5.4).

Handlers and agents read their own entries; managers (their department, or all if
company-wide), directors and auditors read everyone's; managers and directors add procedure
violations (§5.4.1.2) and void entries with a reason (both audited). Automatic entries (first
contact missed §5.4.1.1, survey not done before 结案 §5.4.1.3) are made by the complaints'
changes themselves."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake_api.assessment import service
from services.intake_api.assessment.schemas import (
    EntryIn,
    EntryOut,
    EntryPage,
    Month,
    VoidIn,
    month_start,
)
from services.intake_api.deps import (
    AuditDep,
    CollabDep,
    CurrentPrincipal,
    NowDep,
    require_json,
)
from services.intake_api.problems import responses
from services.intake_api.reports.formats import FORMAT_CONTENT, ReportFormat, download, negotiate
from shared.domain.reference import local_date
from shared.domain.values import MAX_ROW_ID, Code
from shared.reports.assessment import Statement, statement_document

router = APIRouter(
    prefix="/api/v1/assessment", tags=["assessment"], dependencies=[Depends(require_json)]
)


ENTRY_EXAMPLES: dict[str, Any] = {
    "violation": {
        "summary": "未按业务指引核实订单即承诺退款（§5.4.1.2）",
        "value": {
            "handler_id": "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b",
            "reference": "KS-20261123-000001",
            "amount": "50.00",
            "reason": "未按业务指引核实订单即承诺退款，造成客户投诉",
        },
    }
}
VOID_EXAMPLES: dict[str, Any] = {
    "void": {"summary": "复核后作废", "value": {"reason": "经复核，超时系系统故障所致"}}
}


class EntriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: Month | None = Field(default=None, description="YYYY-MM; default this month")
    handler_id: uuid.UUID | None = None
    department: Code | None = None
    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,19}$")
    limit: int = Field(default=50, ge=1, le=200)
    count: bool = False


class StatementQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: Month | None = Field(default=None, description="YYYY-MM; default this month")
    department: Code | None = None
    format: ReportFormat | None = Field(
        default=None, description="json, csv, xlsx or html; default by `Accept`, else json"
    )


@router.get(
    "/entries",
    summary="List the assessment entries (考核) of a month, newest first.",
    response_model=EntryPage,
    responses=responses(401, 403, 422, 429),
)
async def list_entries(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: Annotated[EntriesQuery, Query()],
) -> EntryPage:
    cursor = int(query.cursor) if query.cursor else None
    if cursor is not None and cursor > MAX_ROW_ID:
        cursor = MAX_ROW_ID
    items, next_id, count = await service.entries(
        collab,
        principal,
        month=month_start(query.month) if query.month else local_date(now).replace(day=1),
        handler_id=query.handler_id,
        department=query.department,
        cursor=cursor,
        limit=query.limit,
        with_count=query.count,
    )
    return EntryPage(
        items=items, next_cursor=str(next_id) if next_id is not None else None, total=count
    )


@router.post(
    "/entries",
    summary="Enter a procedure violation against a handler (seed 002 §5.4.1.2).",
    status_code=201,
    response_model=EntryOut,
    responses=responses(401, 403, 404, 415, 422, 429),
)
async def add_entry(
    collab: CollabDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
    body: Annotated[EntryIn, Body(openapi_examples=ENTRY_EXAMPLES)],
) -> EntryOut:
    return await service.add_entry(collab, principal, body, audit=audit)


@router.post(
    "/entries/{entry_id}/void",
    summary="Void an assessment entry, with the reason (audited).",
    response_model=EntryOut,
    responses=responses(401, 403, 404, 409, 415, 422, 429),
)
async def void_entry(
    collab: CollabDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
    entry_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID, examples=[1])],
    body: Annotated[VoidIn, Body(openapi_examples=VOID_EXAMPLES)],
) -> EntryOut:
    return await service.void_entry(collab, principal, entry_id, body.reason, audit=audit)


@router.get(
    "/statement",
    summary="Get the monthly assessment statement per handler and per department (月度考核).",
    response_model=Statement,
    responses={
        **responses(401, 403, 422, 429),
        200: {"description": "The statement", "content": FORMAT_CONTENT},
    },
)
async def statement(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    query: Annotated[StatementQuery, Query()],
    accept: Annotated[str | None, Header()] = None,
) -> Statement | Response:
    """The month's entries in force (voided ones left out) per handler, by rule, and per
    department. Handlers and agents get their own line only. `format=xlsx` (or `Accept:
    application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`) gives the Excel
    workbook (处理人汇总, 部门汇总), `format=csv` UTF-8 CSV with a BOM, `format=html` a page;
    files carry a Chinese name (月度考核表_YYYY-MM)."""
    month = month_start(query.month) if query.month else local_date(now).replace(day=1)
    answer = await service.statement(
        collab, principal, month=month, department=query.department, now=now
    )
    fmt = negotiate(query.format, accept)
    return answer if fmt is ReportFormat.JSON else download(statement_document(answer), fmt)
