"""`/api/v1/complaints`: registration and queries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from services.intake_api.complaints import service
from services.intake_api.complaints.schemas import (
    ComplaintOut,
    ComplaintPage,
    ComplaintQuery,
    DeadlineOut,
    DeadlinePage,
    EventOut,
    EventPage,
    PersonalData,
    SimilarOut,
    SimilarPage,
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
from services.intake_api.paging import PagingDep, encode_cursor, int_cursor
from services.intake_api.problems import responses
from shared.domain.access import sees_contact_data
from shared.domain.intake import ComplaintIntake

# The similar complaints shown at most (closest first), paged by position.
SIMILAR_MAX = 50

router = APIRouter(
    prefix="/api/v1/complaints", tags=["complaints"], dependencies=[Depends(require_json)]
)

IDEMPOTENCY_DOC = (
    "Makes retries safe: a retry with the same key and the same body returns the same complaint "
    "(201) instead of registering a second one; the same key with a different body is refused "
    "(422). Keys are kept at least 24 hours (48 by default). For `channel=phone` the call id "
    "(`channel_meta.call_id`) de-duplicates the same way."
)


@router.post(
    "",
    status_code=201,
    summary="Register a complaint (受理登记) and give it its reference number.",
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
        present=lambda row, viewer, state: ComplaintOut.from_row(row, viewer=viewer, state=state),
    )
    out = registration.answer
    headers = {"Location": f"{router.prefix}/{out.id}", "ETag": etag(out.version)}
    if not registration.created:
        headers["Idempotent-Replayed"] = "true"
    return json_response(out, 201, headers)


@router.get(
    "",
    summary="List the complaints the caller may see, filtered, a page at a time.",
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
    items, next_cursor, total = await service.list_page(
        collab,
        principal,
        query,
        now=now,
        limit=limit,
        audit=audit,
        guard_contact_search=guard_contact_search,
    )
    return ComplaintPage(
        items=items, next_cursor=next_cursor.encode() if next_cursor else None, total=total
    )


@router.get(
    "/by-reference/{reference}",
    summary="Get a complaint by its reference number (受理号).",
    response_model=ComplaintOut,
    responses=responses(401, 404, 429),
)
async def get_complaint_by_reference(
    collab: CollabDep, principal: CurrentPrincipal, now: NowDep, reference: str, response: Response
) -> ComplaintOut:
    out = await service.get_by_reference(collab, principal, reference, now=now)
    response.headers["ETag"] = etag(out.version)
    return out


@router.get(
    "/{complaint_id}",
    summary="Get a complaint with what the caller may do to it now.",
    response_model=ComplaintOut,
    responses=responses(401, 404, 429),
)
async def get_complaint(
    collab: CollabDep, principal: CurrentPrincipal, now: NowDep, complaint: ComplaintDep
) -> Response:
    (out,) = await service.present_rows(collab, principal, [complaint], now=now)
    return json_response(out, 200, {"ETag": etag(out.version)})


@router.get(
    "/{complaint_id}/events",
    summary="List the complaint's full history, oldest first.",
    response_model=EventPage,
    responses=responses(401, 404, 422, 429),
)
async def list_complaint_events(
    collab: CollabDep, principal: CurrentPrincipal, complaint: ComplaintDep, paging: PagingDep
) -> EventPage:
    """Event payloads hold the complaint as registered, personal data included: the history is
    for those who may read the complaint, with contact data masked like the complaint itself."""
    contact_visible = sees_contact_data(principal)
    after = int_cursor(paging, "s") or 0
    log = await service.events(collab, complaint, after_seq=after, limit=paging.limit)
    page = log[: paging.limit]
    return EventPage(
        items=[
            EventOut.model_validate(mask_event(e, contact_visible=contact_visible)) for e in page
        ],
        next_cursor=encode_cursor({"s": page[-1]["seq"]}) if len(log) > paging.limit else None,
        # Every event adds one to the version: the log holds `version` events.
        total=complaint["version"] if paging.count else None,
    )


@router.get(
    "/{complaint_id}/similar",
    summary="List similar complaints (相似投诉): same customer, order or product, similar text.",
    response_model=SimilarPage,
    responses=responses(401, 404, 422, 429),
)
async def similar_complaints(
    collab: CollabDep,
    principal: CurrentPrincipal,
    now: NowDep,
    complaint: ComplaintDep,
    paging: PagingDep,
) -> SimilarPage:
    """Complaints the caller may read that look like this one — so a repeat the rules did
    not catch can be linked: the same customer (normalised phone or e-mail), the same order
    or product unit, then similar text (same category, within 90 days, closest first). Each
    says why it matched. At most the 50 most similar, paged."""
    found = await service.similar(collab, principal, complaint, limit=SIMILAR_MAX)
    shown = await service.present_rows(collab, principal, [s.row for s in found], now=now)
    items = [
        SimilarOut(complaint=out, reasons=s.reasons, text_similarity=s.text_similarity)
        for s, out in zip(found, shown, strict=True)
    ]
    return SimilarPage.of_all(items, paging)


@router.post(
    "/{complaint_id}/reveal",
    summary="Reveal the complainant's personal data (audited).",
    response_model=PersonalData,
    responses=responses(401, 403, 404, 429),
)
async def reveal_personal_data(
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
    summary="List the complaint's deadlines (时限) with the working time left.",
    response_model=DeadlinePage,
    responses=responses(401, 404, 422, 429),
)
async def list_complaint_deadlines(
    collab: CollabDep, now: NowDep, complaint: ComplaintDep, paging: PagingDep
) -> DeadlinePage:
    """Every deadline planned for the complaint, oldest first. `remaining_seconds` counts
    working time for working-day and business-hour deadlines (a deadline at 18:00 on Friday
    seen at 17:00 has one hour left, not a weekend) and is frozen while the clock is paused."""
    rows = await service.deadlines(collab, complaint, now=now)
    return DeadlinePage.of_all([DeadlineOut.model_validate(d) for d in rows], paging)
