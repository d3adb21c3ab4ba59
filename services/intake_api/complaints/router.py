"""`/api/v1/complaints`: registration and queries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake_api.complaints import service
from services.intake_api.complaints.schemas import ComplaintOut, ComplaintPage, EventOut
from services.intake_api.deps import ComplaintIdDep, DbDep, NowDep, SettingsDep, require_json
from services.intake_api.examples import COMPLAINT_EXAMPLES
from services.intake_api.problems import responses
from shared.db.complaints import ComplaintFilters, Cursor
from shared.domain.complaint import Actor, ActorKind
from shared.domain.enums import Category, Channel, Kind, Level, Status
from shared.domain.errors import FieldError, InvalidInput
from shared.domain.intake import ComplaintIntake
from shared.domain.reference import REFERENCE_PATTERN
from shared.domain.values import Code, normalize_phone

router = APIRouter(
    prefix="/api/v1/complaints", tags=["complaints"], dependencies=[Depends(require_json)]
)

IDEMPOTENCY_DOC = (
    "Makes retries safe: a retry with the same key and the same body returns the same complaint "
    "(201) instead of registering a second one; the same key with a different body is refused "
    "(422). Keys are kept at least 24 hours (48 by default). For `channel=phone` the call id "
    "(`channel_meta.call_id`) de-duplicates the same way."
)


def _etag(version: int) -> str:
    return f'"{version}"'


@router.post(
    "",
    status_code=201,
    summary="Register a complaint (受理登记)",
    response_model=ComplaintOut,
    responses=responses(400, 413, 415, 422),
)
async def register_complaint(
    db: DbDep,
    now: NowDep,
    response: Response,
    intake: Annotated[ComplaintIntake, Body(openapi_examples=COMPLAINT_EXAMPLES)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$", description=IDEMPOTENCY_DOC
        ),
    ] = None,
) -> ComplaintOut:
    """Registers the complaint at once and returns it with its reference number (受理号)."""
    actor = Actor(kind=ActorKind.INTEGRATION, id=None)
    registration = await service.register(
        db, intake, actor=actor, scope="anonymous", idempotency_key=idempotency_key, now=now
    )
    out = ComplaintOut.from_row(registration.row)
    response.headers["Location"] = f"{router.prefix}/{out.id}"
    response.headers["ETag"] = _etag(out.version)
    if not registration.created:
        response.headers["Idempotent-Replayed"] = "true"
    return out


class ComplaintQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[Status] = Field(default_factory=list, description="One or more statuses")
    kind: Kind | None = None
    category: Category | None = None
    level: Level | None = None
    channel: Channel | None = None
    department: Code | None = None
    assignee_id: uuid.UUID | None = None
    created_from: datetime | None = Field(default=None, description="Inclusive, with offset")
    created_to: datetime | None = Field(default=None, description="Exclusive, with offset")
    customer_phone: str | None = Field(default=None, max_length=32)
    reference: str | None = Field(default=None, pattern=REFERENCE_PATTERN)
    sort: Literal["created_at", "-created_at"] = "-created_at"
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)

    @field_validator("created_from", "created_to")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-11-25T00:00:00+08:00")
        return value


@router.get(
    "",
    summary="List complaints (filters, cursor pagination)",
    response_model=ComplaintPage,
    responses=responses(422),
)
async def list_complaints(
    db: DbDep, settings: SettingsDep, query: Annotated[ComplaintQuery, Query()]
) -> ComplaintPage:
    """Newest first by default. Pages are stable while complaints are being registered."""
    phone = None
    if query.customer_phone is not None:
        try:
            phone = normalize_phone(query.customer_phone)
        except ValueError as exc:
            raise InvalidInput([FieldError(("query", "customer_phone"), str(exc))]) from None
    descending = query.sort == "-created_at"
    after = None
    if query.cursor is not None:
        try:
            after = Cursor.decode(query.cursor)
        except ValueError:
            raise InvalidInput([FieldError(("query", "cursor"), "invalid cursor")]) from None
        if after.descending != descending:
            raise InvalidInput([FieldError(("query", "cursor"), "cursor is for another sort")])
    filters = ComplaintFilters(
        status=tuple(query.status),
        kind=query.kind,
        category=query.category,
        level=query.level,
        channel=query.channel,
        department=query.department,
        assignee_id=query.assignee_id,
        created_from=query.created_from,
        created_to=query.created_to,
        customer_phone=phone,
        reference=query.reference,
    )
    limit = min(query.limit, settings.max_page_size)
    rows, next_cursor = await service.list_page(
        db, filters, limit=limit, descending=descending, after=after
    )
    return ComplaintPage(
        items=[ComplaintOut.from_row(r) for r in rows],
        next_cursor=next_cursor.encode() if next_cursor else None,
    )


@router.get(
    "/by-reference/{reference}",
    summary="Get a complaint by its reference number (受理号)",
    response_model=ComplaintOut,
    responses=responses(404),
)
async def get_by_reference(db: DbDep, reference: str, response: Response) -> ComplaintOut:
    out = ComplaintOut.from_row(await service.get_by_reference(db, reference))
    response.headers["ETag"] = _etag(out.version)
    return out


@router.get(
    "/{complaint_id}",
    summary="Get a complaint",
    response_model=ComplaintOut,
    responses=responses(404),
)
async def get_complaint(
    db: DbDep, complaint_id: ComplaintIdDep, response: Response
) -> ComplaintOut:
    out = ComplaintOut.from_row(await service.get(db, complaint_id))
    response.headers["ETag"] = _etag(out.version)
    return out


@router.get(
    "/{complaint_id}/events",
    summary="The complaint's full history, oldest first",
    response_model=list[EventOut],
    responses=responses(404),
)
async def list_events(db: DbDep, complaint_id: ComplaintIdDep) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in await service.events(db, complaint_id)]
