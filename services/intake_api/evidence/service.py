"""Evidence files (证据附件): store an upload and record it, list them, hand one out.

Storing: the upload (already streamed to a temporary file, hashed and measured) is checked —
its type from its own bytes, its name, the complaint's file count — then copied to storage, and
only then recorded by a `complaint.evidence_attached` event written through the complaint-change
pipeline with its `evidence_files` row. If the record cannot be written, the stored object is
deleted again: no object without its row, no row without its object.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import filetype
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake_api.complaints.service import customer_complaint
from services.intake_api.evidence.upload import ReceivedForm
from shared.application.bootstrap import Collaborators
from shared.application.complaint_changes import Decision, change_complaints
from shared.db import audit as audit_repo
from shared.db import complaints as repo
from shared.db import evidence as evidence_repo
from shared.db.audit import AuditContext
from shared.db.changes import StaleVersion
from shared.domain.access import Principal
from shared.domain.complaint import Actor, ActorKind, ComplaintState
from shared.domain.errors import NotFound
from shared.domain.events import EvidenceAttached
from shared.domain.evidence import (
    EvidenceLimits,
    check_count,
    check_may_attach,
    check_media_type,
    clean_file_name,
    file_error,
)
from shared.storage import ObjectMissing, StorageUnavailable

ATTEMPTS = 3  # a concurrent change of the complaint: reload and record again


def limits(collab: Collaborators) -> EvidenceLimits:
    settings = collab.require_settings()
    return EvidenceLimits(max_bytes=settings.upload_max_bytes, max_files=settings.upload_max_files)


def detected_media_type(head: bytes) -> str | None:
    """What the file is, from its first bytes (magic numbers), whatever the client said."""
    kind = filetype.guess(head)
    return None if kind is None else str(kind.mime)


def precheck(principal: Principal, complaint: dict[str, Any]) -> None:
    """Refuse before the body is read what would be refused after it (role, closed case)."""
    check_may_attach(principal, repo.state_from_row(complaint))


async def attach(
    collab: Collaborators,
    complaint_id: uuid.UUID,
    form: ReceivedForm,
    *,
    principal: Principal | None,
    audit: AuditContext,
) -> dict[str, Any]:
    """Store the form's file as evidence of the complaint and record it (one event). The
    complaint was already found visible to `principal` (None: the customer, proven by
    reference and phone)."""
    received = form.file
    if received is None:
        raise file_error("send the file in a form field named `file`")
    if received.size == 0:
        raise file_error("the file is empty (0 bytes)")
    name = clean_file_name(received.raw_name)
    media_type = check_media_type(detected_media_type(received.head))
    attachment_id = uuid.uuid4()
    key = f"evidence/{complaint_id}/{attachment_id}"
    actor = principal.actor if principal is not None else Actor(kind=ActorKind.CUSTOMER)
    event = EvidenceAttached(
        attachment_id=attachment_id,
        file_name=name,
        media_type=media_type,
        size_bytes=received.size,
        sha256=received.sha256,
        storage_key=key,
    )
    storage = collab.require_storage()
    stored = False
    try:
        for attempt in range(ATTEMPTS):
            async with collab.db.connect() as conn:
                state = await _attachable(conn, collab, complaint_id, principal)
            if not stored:  # copied once, outside any database connection
                try:
                    await storage.put_file(key, received.path, media_type)
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        await storage.delete(key)
                    raise StorageUnavailable("the evidence store cannot be written") from exc
                stored = True
            record = audit.record(
                "complaint.evidence_attached",
                target_type="complaint",
                target_id=str(complaint_id),
                details={
                    "attachment_id": str(attachment_id),
                    "sha256": received.sha256,
                    "size_bytes": received.size,
                    "media_type": media_type,
                },
            )
            try:
                async with collab.db.connect() as conn:
                    # The version guard: had the complaint moved on since the check (another
                    # upload counted against the limit), nothing is written and we check again.
                    await change_complaints(
                        conn,
                        [Decision(before=state, events=[event], actor=actor)],
                        now=audit.now,
                        audit=[record],
                        caches=collab.caches,
                        survey_url=collab.survey_url,
                    )
            except StaleVersion:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            break
    except BaseException:
        if stored:
            await storage.delete(key)
        raise
    return {
        "id": attachment_id,
        "complaint_id": complaint_id,
        "file_name": name,
        "media_type": media_type,
        "size_bytes": received.size,
        "sha256": received.sha256,
        "uploaded_by_kind": actor.kind.value,
        "uploaded_at": audit.now,
    }


async def _attachable(
    conn: AsyncConnection,
    collab: Collaborators,
    complaint_id: uuid.UUID,
    principal: Principal | None,
) -> ComplaintState:
    row = await repo.get_row(conn, complaint_id)
    if row is None:
        raise NotFound("no such complaint")
    state = repo.state_from_row(row)
    check_may_attach(principal, state)
    check_count(await evidence_repo.count_for_complaint(conn, complaint_id), limits(collab))
    return state


async def attach_for_customer(
    collab: Collaborators, form: ReceivedForm, *, audit: AuditContext
) -> dict[str, Any]:
    """The customer's upload: the form's `reference` and `phone` prove the complaint."""
    reference, phone = form.fields.get("reference", ""), form.fields.get("phone", "")
    async with collab.db.connect() as conn:
        row = await customer_complaint(conn, reference, phone)
    return await attach(collab, row["id"], form, principal=None, audit=audit)


async def listed(collab: Collaborators, complaint: dict[str, Any]) -> list[dict[str, Any]]:
    async with collab.db.connect() as conn:
        return await evidence_repo.list_for_complaint(conn, complaint["id"])


@dataclass(frozen=True)
class Download:
    file: dict[str, Any]
    chunks: AsyncIterator[bytes]


async def download(
    collab: Collaborators,
    complaint: dict[str, Any],
    attachment_id: uuid.UUID,
    *,
    audit: AuditContext,
) -> Download:
    """One evidence file of a complaint the caller may read, as a stream; audited
    (`evidence.download`) before the first byte is sent."""
    async with collab.db.connect() as conn:
        found = await evidence_repo.get(conn, complaint["id"], attachment_id)
        if found is None:
            raise NotFound("no such evidence file")
        record = audit.record(
            "evidence.download",
            target_type="complaint",
            target_id=str(complaint["id"]),
            details={"attachment_id": str(attachment_id), "sha256": found["sha256"]},
        )
        await audit_repo.append(conn, [record])
    source = collab.require_storage().chunks(found["storage_key"])
    try:
        first = await anext(source)
    except (ObjectMissing, StopAsyncIteration):
        raise NotFound("the evidence file is missing from storage") from None

    async def stream() -> AsyncIterator[bytes]:
        yield first
        async for chunk in source:
            yield chunk

    return Download(found, stream())
