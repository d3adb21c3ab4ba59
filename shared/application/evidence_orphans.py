"""Evidence objects without their row (证据附件孤儿): an upload is stored before its event is
written, and a failed write deletes the object again; only a process killed between the two
leaves an object no row names. The hourly housekeeping removes those once they are an hour old
(an upload in flight is younger)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.application.bootstrap import Collaborators
from shared.db import evidence as evidence_repo

PREFIX = "evidence"
GRACE = timedelta(hours=1)
BATCH = 500


async def remove_orphans(collab: Collaborators, *, now: datetime, grace: timedelta = GRACE) -> int:
    storage = collab.require_storage()
    removed = 0
    batch: list[str] = []

    async def settle() -> int:
        async with collab.db.connect() as conn:
            known = await evidence_repo.known_keys(conn, batch)
        orphans = [k for k in batch if k not in known]
        for key in orphans:
            await storage.delete(key)
        batch.clear()
        return len(orphans)

    async for key, written_at in storage.listed(PREFIX):
        if now - written_at < grace:
            continue
        batch.append(key)
        if len(batch) >= BATCH:
            removed += await settle()
    if batch:
        removed += await settle()
    return removed
