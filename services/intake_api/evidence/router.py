"""Evidence files (证据附件): upload (staff, integrations, the customer), list, download."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from services.intake_api.deps import (
    AuditDep,
    ClientIpDep,
    CollabDep,
    ComplaintDep,
    CurrentPrincipal,
    LimiterDep,
    NowDep,
    SettingsDep,
)
from services.intake_api.downloads import file_headers
from services.intake_api.evidence import service
from services.intake_api.evidence.upload import received_upload
from services.intake_api.paging import Page, PagingDep
from services.intake_api.problems import responses
from services.intake_api.public.router import LOOKUP_BACK_OFF
from shared.db.audit import AuditContext
from shared.domain.complaint import ActorKind
from shared.domain.errors import NotFound
from shared.storage import staging_dir

router = APIRouter(tags=["evidence"])


class EvidenceOut(BaseModel):
    id: uuid.UUID
    complaint_id: uuid.UUID
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str
    uploaded_by_kind: str
    uploaded_at: datetime


def _multipart_body(*fields: str) -> dict[str, Any]:
    properties: dict[str, Any] = {f: {"type": "string"} for f in fields}
    properties["file"] = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [*fields, "file"],
                        "properties": properties,
                    }
                }
            },
        }
    }


UPLOAD_DOC = """One file per request in the form field `file` (multipart/form-data), at most
20 MB (`KESU_UPLOAD_MAX_BYTES`) and 20 files per complaint (`KESU_UPLOAD_MAX_FILES`). What the
file is comes from its own bytes — images, PDF, MP4/MOV video, Word/Excel/PowerPoint — never
from the Content-Type the client sends. The SHA-256 is kept and returned; an event
(`complaint.evidence_attached`) records the upload in the complaint's history."""


class EvidencePage(Page[EvidenceOut]):
    pass


@router.post(
    "/api/v1/complaints/{complaint_id}/attachments",
    status_code=201,
    summary="Upload an evidence file (证据附件) to the complaint.",
    response_model=EvidenceOut,
    responses=responses(401, 403, 404, 409, 413, 415, 422, 429),
    openapi_extra=_multipart_body(),
    description="For staff who work the complaint (agents, handlers, managers, directors who "
    "may read it) and integrations with `complaints:create` on what they registered. " + UPLOAD_DOC,
)
async def upload_evidence(
    request: Request,
    collab: CollabDep,
    settings: SettingsDep,
    audit: AuditDep,
    principal: CurrentPrincipal,
    complaint: ComplaintDep,
) -> EvidenceOut:
    service.precheck(principal, complaint)
    async with received_upload(
        request, staging=staging_dir(settings), max_bytes=settings.upload_max_bytes
    ) as form:
        stored = await service.attach(
            collab, complaint["id"], form, principal=principal, audit=audit
        )
    return EvidenceOut.model_validate(stored)


@router.get(
    "/api/v1/complaints/{complaint_id}/attachments",
    summary="List the complaint's evidence files.",
    response_model=EvidencePage,
    responses=responses(401, 404, 422, 429),
)
async def list_evidence(
    collab: CollabDep, complaint: ComplaintDep, paging: PagingDep
) -> EvidencePage:
    files = [EvidenceOut.model_validate(f) for f in await service.listed(collab, complaint)]
    return EvidencePage.of_all(files, paging)


@router.get(
    "/api/v1/complaints/{complaint_id}/attachments/{attachment_id}",
    summary="Download an evidence file (audited).",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The file's bytes", "content": {"application/octet-stream": {}}},
        **responses(401, 404, 429),
    },
)
async def download_evidence(
    collab: CollabDep, audit: AuditDep, complaint: ComplaintDep, attachment_id: str
) -> StreamingResponse:
    """Streamed to whoever may read the complaint; every download writes an audit entry
    (`evidence.download`: who, when, from where, which file)."""
    try:
        wanted = uuid.UUID(attachment_id)
    except ValueError:
        raise NotFound("no such evidence file") from None
    found = await service.download(collab, complaint, wanted, audit=audit)
    meta = found.file
    return StreamingResponse(
        found.chunks,
        media_type=meta["media_type"],
        headers={**file_headers(meta["file_name"]), "Content-Length": str(meta["size_bytes"])},
    )


class CustomerEvidenceOut(BaseModel):
    file_name: str
    size_bytes: int
    sha256: str


@router.post(
    "/api/v1/public/attachments",
    status_code=201,
    summary="Upload the customer's evidence with the reference number and phone number.",
    response_model=CustomerEvidenceOut,
    responses=responses(400, 404, 409, 413, 415, 422, 429),
    openapi_extra=_multipart_body("reference", "phone"),
    tags=["public"],
    description="The form's `reference` (受理号) and `phone` prove the complaint, as in the "
    "status lookup: a wrong pair gets the same 404 as an unknown reference. Limited per client "
    "address (`KESU_PUBLIC_UPLOAD_IP_LIMIT`). " + UPLOAD_DOC,
)
async def customer_upload(
    request: Request,
    collab: CollabDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    ip: ClientIpDep,
    now: NowDep,
) -> CustomerEvidenceOut:
    await limiter.hit(settings.public_upload_ip_limit, "upload-ip", ip, what="uploads")
    audit = AuditContext(ActorKind.CUSTOMER.value, None, "public-upload", ip, now)
    async with received_upload(
        request, staging=staging_dir(settings), max_bytes=settings.upload_max_bytes
    ) as form:
        # Wrong phone numbers back off per client address and reference, as in the lookup.
        reference = form.fields.get("reference", "").strip().upper()
        await limiter.blocked("lookup", ip, reference, what="lookups of this reference")
        try:
            stored = await service.attach_for_customer(collab, form, audit=audit)
        except NotFound:
            await limiter.failed("lookup", ip, reference, policy=LOOKUP_BACK_OFF)
            raise
        await limiter.succeeded("lookup", ip, reference)
    return CustomerEvidenceOut.model_validate(stored)
