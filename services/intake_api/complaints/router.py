"""`/api/v1/complaints`: registration and queries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from services.intake_api.complaints import service
from services.intake_api.complaints.schemas import (
    ComplaintOut,
    ComplaintPage,
    ComplaintQuery,
    DeadlineOut,
    EventOut,
    PersonalData,
    SearchMatch,
    SimilarOut,
    json_response,
    mask_event,
)
from services.intake_api.deps import (
    AuditDep,
    CollabDep,
    ComplaintDep,
    CurrentPrincipal,
    LimiterDep,
    NowDep,
    SettingsDep,
    require_json,
)
from services.intake_api.etags import etag
from services.intake_api.examples import COMPLAINT_EXAMPLES
from services.intake_api.problems import responses
from shared.domain.access import Principal, sees_contact_data
from shared.domain.intake import ComplaintIntake

router = APIRouter(
    prefix="/api/v1/complaints", tags=["complaints"], dependencies=[Depends(require_json)]
)

IDEMPOTENCY_DOC = (
    "Makes retries safe: a retry with the same key and the same body returns the same complaint "
    "(201) instead of registering a second one; the same key with a different body is refused "
    "(422). Keys are kept at least 24 hours (48 by default). For `channel=phone` the call id "
    "(`channel_meta.call_id`) de-duplicates the same way."
)


def _view(row: dict[str, Any], principal: Principal) -> ComplaintOut:
    return ComplaintOut.from_row(
        row, contact_visible=sees_contact_data(principal), principal=principal
    )


@router.post(
    "",
    status_code=201,
    summary="Register a complaint (受理登记)",
    response_model=ComplaintOut,
    responses=responses(400, 401, 403, 413, 415, 422, 429),
)
async def register_complaint(
    collab: CollabDep,
    audit: AuditDep,
    principal: CurrentPrincipal,
    intake: Annotated[ComplaintIntake, Body(openapi_examples=COMPLAINT_EXAMPLES)],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$", description=IDEMPOTENCY_DOC
        ),
    ] = None,
) -> Response:
    """Registers the complaint at once and returns it with its reference number (受理号)."""
    registration = await service.register(
        collab,
        intake,
        principal=principal,
        idempotency_key=idempotency_key,
        audit=audit,
        present=lambda row: _view(row, principal),
    )
    out = registration.answer
    headers = {"Location": f"{router.prefix}/{out.id}", "ETag": etag(out.version)}
    if not registration.created:
        headers["Idempotent-Replayed"] = "true"
    return json_response(out, 201, headers)


@router.get(
    "",
    summary="List complaints (filters, cursor pagination)",
    response_model=ComplaintPage,
    responses=responses(401, 403, 422, 429),
)
async def list_complaints(
    collab: CollabDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
    query: Annotated[ComplaintQuery, Query()],
) -> ComplaintPage:
    """Newest first by default; a text search (`q`) is ranked by relevance, then recency.
    Pages are stable while complaints are being registered.
    Searching by `customer_phone` needs access to contact data (403 otherwise), is audited and
    is limited per caller (429)."""

    async def guard_contact_search() -> None:
        await limiter.hit(
            settings.contact_search_limit,
            "contact-search",
            principal.kind,
            principal.id,
            what="searches by contact data",
        )

    limit = min(query.limit, settings.max_page_size)
    rows, next_cursor = await service.list_page(
        collab,
        principal,
        query,
        now=now,
        limit=limit,
        audit=audit,
        guard_contact_search=guard_contact_search,
    )
    contact_visible = sees_contact_data(principal)
    text = service.text_query(query, principal)
    items = []
    for r in rows:
        out = ComplaintOut.from_row(r, contact_visible=contact_visible, principal=principal)
        if text is not None:
            out.match = SearchMatch.of(r, text.terms)
        items.append(out)
    return ComplaintPage(items=items, next_cursor=next_cursor.encode() if next_cursor else None)


@router.get(
    "/by-reference/{reference}",
    summary="Get a complaint by its reference number (受理号)",
    response_model=ComplaintOut,
    responses=responses(401, 404, 429),
)
async def get_by_reference(
    collab: CollabDep, principal: CurrentPrincipal, reference: str, response: Response
) -> ComplaintOut:
    row = await service.get_by_reference(collab, principal, reference)
    out = ComplaintOut.from_row(
        row, contact_visible=sees_contact_data(principal), principal=principal
    )
    response.headers["ETag"] = etag(out.version)
    return out


@router.get(
    "/{complaint_id}",
    summary="Get a complaint",
    response_model=ComplaintOut,
    responses=responses(401, 404, 429),
)
async def get_complaint(principal: CurrentPrincipal, complaint: ComplaintDep) -> Response:
    out = _view(complaint, principal)
    return json_response(out, 200, {"ETag": etag(out.version)})


@router.get(
    "/{complaint_id}/events",
    summary="The complaint's full history, oldest first",
    response_model=list[EventOut],
    responses=responses(401, 404, 429),
)
async def list_events(
    collab: CollabDep, principal: CurrentPrincipal, complaint: ComplaintDep
) -> list[EventOut]:
    """Event payloads hold the complaint as registered, personal data included: the history is
    for those who may read the complaint, with contact data masked like the complaint itself."""
    contact_visible = sees_contact_data(principal)
    return [
        EventOut.model_validate(mask_event(e, contact_visible=contact_visible))
        for e in await service.events(collab, complaint)
    ]


@router.get(
    "/{complaint_id}/similar",
    summary="Similar complaints (相似投诉): same customer, order or product, similar text",
    response_model=list[SimilarOut],
    responses=responses(401, 404, 422, 429),
)
async def similar_complaints(
    collab: CollabDep,
    principal: CurrentPrincipal,
    complaint: ComplaintDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[SimilarOut]:
    """Complaints the caller may read that look like this one — so a repeat the rules did
    not catch can be linked: the same customer (normalised phone or e-mail), the same order
    or product unit, then similar text (same category, within 90 days, closest first). Each
    says why it matched."""
    found = await service.similar(collab, principal, complaint, limit=limit)
    return [
        SimilarOut(
            complaint=_view(s.row, principal),
            reasons=s.reasons,
            text_similarity=s.text_similarity,
        )
        for s in found
    ]


@router.post(
    "/{complaint_id}/reveal",
    summary="Reveal the complainant's personal data (audited)",
    response_model=PersonalData,
    responses=responses(401, 403, 404, 429),
)
async def reveal(
    collab: CollabDep,
    audit: AuditDep,
    principal: CurrentPrincipal,
    complaint: ComplaintDep,
    response: Response,
) -> PersonalData:
    """Phone, email, address and identity number in clear. Every call writes an audit entry
    (who, when, from where, which fields — never the values)."""
    row = await service.reveal(collab, principal, complaint, audit=audit)
    response.headers["Cache-Control"] = "no-store"
    return PersonalData.from_row(row)


@router.get(
    "/{complaint_id}/deadlines",
    summary="The complaint's deadlines (时限), with the working time left",
    response_model=list[DeadlineOut],
    responses=responses(401, 404, 429),
)
async def list_deadlines(
    collab: CollabDep, now: NowDep, complaint: ComplaintDep
) -> list[DeadlineOut]:
    """Every deadline planned for the complaint, oldest first. `remaining_seconds` counts
    working time for working-day and business-hour deadlines (a deadline at 18:00 on Friday
    seen at 17:00 has one hour left, not a weekend) and is frozen while the clock is paused."""
    return [
        DeadlineOut.model_validate(d) for d in await service.deadlines(collab, complaint, now=now)
    ]
