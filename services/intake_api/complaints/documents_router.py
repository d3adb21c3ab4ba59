"""`/api/v1/complaints/export` (the 台帐) and `/api/v1/complaints/{id}/form` (投诉处理单)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from services.intake_api.complaints import documents
from services.intake_api.complaints.documents import ExportQuery
from services.intake_api.deps import (
    AuditDep,
    CollabDep,
    ComplaintDep,
    CurrentPrincipal,
    LimiterDep,
    NowDep,
    SettingsDep,
)
from services.intake_api.downloads import file_headers
from services.intake_api.problems import responses

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])


@router.get(
    "/export",
    summary="Export the list as the 台帐 (Excel or CSV), streamed.",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The ledger file",
            "content": {m: {} for m in documents.MEDIA_TYPES.values()},
        },
        **responses(401, 403, 422, 429),
    },
)
async def export_ledger(
    collab: CollabDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
    query: Annotated[ExportQuery, Query()],
) -> StreamingResponse:
    """Every complaint the list would show with the same filters (cursor and limit aside),
    oldest first, for a period of at most a year (default: the last 365 days): one line per
    complaint with its reference (受理号), times (Asia/Shanghai), classification, customer
    (contact data masked as in the list), product, content, wishes, department, responsibility,
    solution, satisfaction and result. CSV is UTF-8 with a BOM (opens in Excel). The file
    name is Chinese (`Content-Disposition: filename*`). Audited (`complaint.export`)."""

    async def guard_contact_search() -> None:
        await limiter.hit(
            settings.contact_search_limit,
            "contact-search",
            principal.kind,
            principal.id,
            what="searches by contact data",
        )

    found = await documents.export(
        collab, principal, query, now=now, audit=audit, guard_contact_search=guard_contact_search
    )
    return StreamingResponse(
        found.chunks, media_type=found.media_type, headers=file_headers(found.file_name)
    )


@router.get(
    "/{complaint_id}/form",
    summary="Print the complaint's handling form 《投诉处理单》 as a PDF.",
    response_class=Response,
    responses={
        200: {"description": "A4 PDF", "content": {"application/pdf": {}}},
        **responses(401, 404, 429),
    },
)
async def handling_form(
    collab: CollabDep, now: NowDep, principal: CurrentPrincipal, complaint: ComplaintDep
) -> Response:
    """Registration, the timeline of every event, findings and responsibility, the solution
    and its approvals, the customer's agreement, the result, satisfaction, corrective actions,
    evidence files and the sign-offs, with the Chinese font embedded (prints anywhere).
    Personal data is masked as in the reader's view of the complaint."""
    pdf = await documents.form_pdf(collab, principal, complaint, now=now)
    name = f"投诉处理单_{complaint['reference']}.pdf"
    return Response(pdf, media_type="application/pdf", headers=file_headers(name, inline=True))
