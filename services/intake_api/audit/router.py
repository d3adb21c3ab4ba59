"""`/api/v1/audit-events`: the audit log, for auditors and admins (newest first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from services.intake_api.audit import service
from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.deps import AuditReader, DbDep
from services.intake_api.problems import responses
from shared.db.audit import AuditFilters
from shared.domain.values import MAX_ROW_ID, Identifier, Instant

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


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_before_id: int | None = Field(description="Pass as `before_id` for the next page")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor_id: Identifier | None = None
    action: Identifier | None = Field(default=None, examples=["complaint.reveal"])
    outcome: Identifier | None = Field(default=None, examples=["denied"])
    target_type: Identifier | None = None
    target_id: Identifier | None = None
    occurred_from: Instant | None = None
    occurred_to: Instant | None = None
    before_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    limit: int = Field(default=50, ge=1, le=200)


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
    rows, next_id = await service.audit_page(
        db, filters, before_id=query.before_id, limit=query.limit
    )
    return AuditPage(items=[AuditEventOut.model_validate(r) for r in rows], next_before_id=next_id)
