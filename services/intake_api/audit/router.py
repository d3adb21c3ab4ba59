"""`/api/v1/audit-events`: the audit log, for auditors and admins (newest first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.intake_api.audit import service
from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.deps import AuditReader, DbDep
from services.intake_api.paging import Page, PageQuery, encode_cursor, int_cursor
from services.intake_api.problems import responses
from shared.db.audit import AuditFilters
from shared.domain.values import Identifier, Instant

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    occurred_at: LocalTime
    actor_kind: str
    actor_id: str | None
    actor_label: str | None
    action: str
    outcome: str
    target_type: str | None
    target_id: str | None
    client_ip: str | None
    details: dict[str, Any]


class AuditPage(Page[AuditEventOut]):
    pass


class AuditQuery(PageQuery):
    actor_id: Identifier | None = None
    action: Identifier | None = Field(default=None, examples=["complaint.reveal"])
    outcome: Identifier | None = Field(default=None, examples=["denied"])
    target_type: Identifier | None = None
    target_id: Identifier | None = None
    occurred_from: Instant | None = None
    occurred_to: Instant | None = None


@router.get(
    "/audit-events",
    summary="Query the audit log, newest first.",
    response_model=AuditPage,
    responses=responses(401, 403, 422, 429),
)
async def list_audit_events(
    db: DbDep, _: AuditReader, query: Annotated[AuditQuery, Query()]
) -> AuditPage:
    filters = AuditFilters(
        actor_id=query.actor_id,
        action=query.action,
        outcome=query.outcome,
        target_type=query.target_type,
        target_id=query.target_id,
        occurred_from=query.occurred_from,
        occurred_to=query.occurred_to,
    )
    rows, next_id, total = await service.audit_page(
        db, filters, before_id=int_cursor(query, "b"), limit=query.limit, count=query.count
    )
    return AuditPage(
        items=[AuditEventOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor({"b": next_id}) if next_id else None,
        total=total,
    )
