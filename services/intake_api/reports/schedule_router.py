"""`/api/v1/report-subscriptions` (admins: who receives which report by e-mail) and
`/api/v1/reports/runs` (readers: the scheduled reports as produced, to read or download)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.deps import (
    AdminPrincipal,
    AuditDep,
    CollabDep,
    CurrentPrincipal,
    require_json,
)
from services.intake_api.paging import Page, PagingDep
from services.intake_api.problems import responses
from services.intake_api.reports import schedule
from services.intake_api.reports.formats import disposition
from shared.domain.reports import ReportKind
from shared.domain.values import MAX_ROW_ID, Code
from shared.reports.html import HTML_MEDIA_TYPE
from shared.reports.xlsx import XLSX_MEDIA_TYPE

subscriptions_router = APIRouter(
    prefix="/api/v1/report-subscriptions",
    tags=["reports"],
    dependencies=[Depends(require_json)],
)
runs_router = APIRouter(prefix="/api/v1/reports/runs", tags=["reports"])


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ReportKind = Field(description="weekly, monthly, causes or expectations")
    department: Code | None = Field(default=None, description="One department; null: all")
    recipient_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=100,
        description="Staff who may read the report (managers, directors, auditors, admins); "
        "it is e-mailed to the address of their account",
    )
    active: bool = True


class SubscriptionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: Code | None = None
    recipient_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    active: bool = True


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    kind: ReportKind
    department: str | None
    recipient_ids: list[uuid.UUID]
    active: bool
    created_by: str | None
    created_at: LocalTime
    updated_at: LocalTime


class RunOut(BaseModel):
    id: int
    kind: ReportKind
    scope: str = Field(description="The department; empty: every department")
    period_start: date
    period_end: date
    produced_at: LocalTime
    title: str
    recipients: int = Field(description="E-mails queued")


class RunPage(Page[RunOut]):
    pass


class ReportSubscriptionPage(Page[SubscriptionOut]):
    pass


class RunDetail(RunOut):
    report: dict[str, Any] = Field(description="The report as JSON, as it was produced")


SubscriptionPath = Annotated[uuid.UUID, Path(examples=["5b1f7c2e-8a9d-4c3b-b2e1-0f6a7d8c9e10"])]
_RECIPIENT = "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"
SUBSCRIPTION_EXAMPLES: dict[str, Any] = {
    "weekly": {
        "summary": "投诉周报：全公司，每周第一个工作日 09:00 发给总监",
        "value": {"kind": "weekly", "department": None, "recipient_ids": [_RECIPIENT]},
    },
    "monthly": {
        "summary": "客户月投诉统计表：质量部",
        "value": {"kind": "monthly", "department": "quality", "recipient_ids": [_RECIPIENT]},
    },
}
CHANGE_EXAMPLES: dict[str, Any] = {
    "pause": {
        "summary": "暂停订阅",
        "value": {"department": None, "recipient_ids": [_RECIPIENT], "active": False},
    }
}


@subscriptions_router.get(
    "",
    summary="List the report subscriptions.",
    response_model=ReportSubscriptionPage,
    responses=responses(401, 403, 422, 429),
)
async def list_report_subscriptions(
    collab: CollabDep, _: AdminPrincipal, paging: PagingDep
) -> ReportSubscriptionPage:
    rows = await schedule.listed(collab)
    return ReportSubscriptionPage.of_all([SubscriptionOut.model_validate(s) for s in rows], paging)


@subscriptions_router.post(
    "",
    summary="Subscribe staff to a report: produced by the worker at 09:00 on the first working "
    "day after each period, e-mailed with the Excel workbook and the chart page.",
    status_code=201,
    response_model=SubscriptionOut,
    responses=responses(401, 403, 415, 422, 429),
)
async def add_report_subscription(
    collab: CollabDep,
    _: AdminPrincipal,
    audit: AuditDep,
    body: Annotated[SubscriptionIn, Body(openapi_examples=SUBSCRIPTION_EXAMPLES)],
) -> SubscriptionOut:
    row = await schedule.add(
        collab,
        kind=body.kind.value,
        department=body.department,
        recipient_ids=body.recipient_ids,
        active=body.active,
        audit=audit,
    )
    return SubscriptionOut.model_validate(row)


@subscriptions_router.put(
    "/{subscription_id}",
    summary="Change a report subscription's scope, recipients or state.",
    response_model=SubscriptionOut,
    responses=responses(401, 403, 404, 415, 422, 429),
)
async def replace_report_subscription(
    collab: CollabDep,
    _: AdminPrincipal,
    audit: AuditDep,
    subscription_id: SubscriptionPath,
    body: Annotated[SubscriptionChange, Body(openapi_examples=CHANGE_EXAMPLES)],
) -> SubscriptionOut:
    row = await schedule.replace(
        collab,
        subscription_id,
        department=body.department,
        recipient_ids=body.recipient_ids,
        active=body.active,
        audit=audit,
    )
    return SubscriptionOut.model_validate(row)


@subscriptions_router.delete(
    "/{subscription_id}",
    summary="Delete a report subscription; the reports already produced are kept.",
    status_code=204,
    responses=responses(401, 403, 404, 429),
)
async def delete_report_subscription(
    collab: CollabDep, _: AdminPrincipal, audit: AuditDep, subscription_id: SubscriptionPath
) -> Response:
    await schedule.remove(collab, subscription_id, audit=audit)
    return Response(status_code=204)


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,18}$")
    limit: int = Field(default=50, ge=1, le=200)
    count: bool = Field(default=False, description="Also count the matches (`total`)")


@runs_router.get(
    "",
    summary="List the scheduled reports produced so far, newest first.",
    response_model=RunPage,
    responses=responses(401, 403, 422, 429),
)
async def list_report_runs(
    collab: CollabDep, principal: CurrentPrincipal, query: Annotated[RunsQuery, Query()]
) -> RunPage:
    items, next_id, total = await schedule.runs(
        collab,
        principal,
        before_id=int(query.cursor) if query.cursor else None,
        limit=query.limit,
        count=query.count,
    )
    return RunPage(
        items=[RunOut.model_validate(r) for r in items],
        next_cursor=str(next_id) if next_id is not None else None,
        total=total,
    )


class RunQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str | None = Field(default=None, pattern="^(json|xlsx|html)$")


@runs_router.get(
    "/{run_id}",
    summary="Get one scheduled report: its JSON, or `format=xlsx` / `format=html` for its files.",
    response_model=RunDetail,
    responses={
        **responses(401, 403, 404, 422, 429),
        200: {
            "description": "The report",
            "content": {
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
    },
)
async def get_report_run(
    collab: CollabDep,
    principal: CurrentPrincipal,
    run_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID, examples=[1])],
    query: Annotated[RunQuery, Query()],
) -> RunDetail | Response:
    found = await schedule.run(collab, principal, run_id)
    files = found.pop("files")
    if query.format in ("xlsx", "html"):
        media_type = XLSX_MEDIA_TYPE if query.format == "xlsx" else HTML_MEDIA_TYPE
        return Response(
            bytes(files[query.format]),
            media_type=media_type,
            headers={"Content-Disposition": disposition(f"{files['file_stem']}.{query.format}")},
        )
    return RunDetail.model_validate(found)
