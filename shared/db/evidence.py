"""Reading evidence files (证据附件); they are written with their event (shared.db.changes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import EvidenceFile, table_of

evidence_files = table_of(EvidenceFile)


async def count_for_complaint(conn: AsyncConnection, complaint_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(evidence_files.c.complaint_id == complaint_id)
    return int((await conn.execute(stmt)).scalar_one())


async def list_for_complaint(
    conn: AsyncConnection, complaint_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The complaint's evidence files, oldest first."""
    stmt = (
        select(evidence_files)
        .where(evidence_files.c.complaint_id == complaint_id)
        .order_by(evidence_files.c.event_seq, evidence_files.c.id)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def list_for_complaints(
    conn: AsyncConnection, complaint_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    stmt = (
        select(evidence_files)
        .where(evidence_files.c.complaint_id.in_(complaint_ids))
        .order_by(evidence_files.c.complaint_id, evidence_files.c.event_seq)
    )
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in await conn.execute(stmt):
        found.setdefault(row.complaint_id, []).append(dict(row._mapping))
    return found


async def get(
    conn: AsyncConnection, complaint_id: uuid.UUID, attachment_id: uuid.UUID
) -> dict[str, Any] | None:
    stmt = select(evidence_files).where(
        evidence_files.c.complaint_id == complaint_id, evidence_files.c.id == attachment_id
    )
    row = (await conn.execute(stmt)).first()
    return dict(row._mapping) if row else None


async def known_keys(conn: AsyncConnection, keys: Sequence[str]) -> set[str]:
    """Which of these storage keys an evidence row names."""
    stmt = select(evidence_files.c.storage_key).where(evidence_files.c.storage_key.in_(keys))
    return {row.storage_key for row in await conn.execute(stmt)}
