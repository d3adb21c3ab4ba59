"""The SLA worker's claims (时限巡检): which complaints have deadlines due, and locking them.

PostgreSQL decides what is owed and who handles it: a worker locks the complaints it takes with
FOR UPDATE SKIP LOCKED, so replicas share the work and never handle one twice; everything it
writes for them commits in the same transaction as the deadlines' new status, so a crash in the
middle releases the batch untouched for the next sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.enums import Status
from shared.domain.lifecycle import TERMINAL_STATES

# Complaints whose deadlines are not acted on: handling is over, or the clock is paused.
NOT_SWEPT = tuple(sorted(s.value for s in (*TERMINAL_STATES, Status.AWAITING_CUSTOMER)))

# Warnings and breaches due, oldest first; each arm walks its partial index
# (ix_deadlines_warn_at_pending, ix_deadlines_due_at_open) and stops after `scan` rows.
_DUE = text(
    "SELECT x.complaint_id, min(x.at) AS first_at FROM ("
    "  (SELECT complaint_id, due_at AS at FROM deadlines"
    "   WHERE status IN ('pending', 'warned') AND paused_at IS NULL AND due_at <= :now"
    "   ORDER BY due_at LIMIT :scan)"
    "  UNION ALL"
    "  (SELECT complaint_id, warn_at FROM deadlines"
    "   WHERE status = 'pending' AND paused_at IS NULL AND warn_at <= :now"
    "   ORDER BY warn_at LIMIT :scan)"
    ") AS x JOIN complaints AS c ON c.id = x.complaint_id AND c.status NOT IN :not_swept "
    "GROUP BY x.complaint_id ORDER BY first_at LIMIT :limit"
).bindparams(bindparam("not_swept", expanding=True))

_LOCK = text(
    "SELECT * FROM complaints WHERE id = ANY(:ids) AND status NOT IN :not_swept "
    "FOR UPDATE SKIP LOCKED"
).bindparams(bindparam("not_swept", expanding=True))

_DEADLINES = text("SELECT * FROM deadlines WHERE complaint_id = ANY(:ids) ORDER BY id")

_OLDEST_DUE = text(
    "SELECT min(at) FROM ("
    "  (SELECT min(d.due_at) AS at FROM deadlines d JOIN complaints c ON c.id = d.complaint_id"
    "   WHERE d.status IN ('pending', 'warned') AND d.paused_at IS NULL AND d.due_at <= :now"
    "   AND c.status NOT IN :not_swept)"
    "  UNION ALL"
    "  (SELECT min(d.warn_at) FROM deadlines d JOIN complaints c ON c.id = d.complaint_id"
    "   WHERE d.status = 'pending' AND d.paused_at IS NULL AND d.warn_at <= :now"
    "   AND c.status NOT IN :not_swept)"
    ") AS x"
).bindparams(bindparam("not_swept", expanding=True))


async def due_complaints(conn: AsyncConnection, *, now: datetime, limit: int) -> list[uuid.UUID]:
    """Complaints with a warning or breach due, the most overdue first (catch-up order)."""
    params = {"now": now, "scan": limit * 4, "limit": limit, "not_swept": list(NOT_SWEPT)}
    return [row.complaint_id for row in await conn.execute(_DUE, params)]


async def lock_complaints(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """The complaints this worker takes, locked until its transaction ends; those another
    worker holds are skipped (it is handling them)."""
    rows = await conn.execute(_LOCK, {"ids": list(ids), "not_swept": list(NOT_SWEPT)})
    return [dict(r) for r in rows.mappings()]


async def deadlines_of(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    out: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in (await conn.execute(_DEADLINES, {"ids": list(ids)})).mappings():
        out[row["complaint_id"]].append(dict(row))
    return out


async def oldest_unhandled(conn: AsyncConnection, *, now: datetime) -> datetime | None:
    """The oldest warning or breach moment not handled yet: now minus this is the sweep lag."""
    at: datetime | None = (
        await conn.execute(_OLDEST_DUE, {"now": now, "not_swept": list(NOT_SWEPT)})
    ).scalar_one()
    return at
