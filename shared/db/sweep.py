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

from sqlalchemy import Result, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.enums import Status
from shared.domain.lifecycle import TERMINAL_STATES

# Complaints whose deadlines are not acted on: handling is over, or the clock is paused.
NOT_SWEPT = tuple(sorted(s.value for s in (*TERMINAL_STATES, Status.AWAITING_CUSTOMER)))

# Breaches due and warnings due, oldest first, each walking its partial index
# (ix_deadlines_due_at_open, ix_deadlines_warn_at_pending). The deadline rows are locked with
# SKIP LOCKED, so concurrent workers take disjoint batches instead of all reading the head of
# the same queue.
_BREACHES_DUE = text(
    "SELECT d.complaint_id, d.due_at AS at FROM deadlines d "
    "JOIN complaints c ON c.id = d.complaint_id AND c.status NOT IN :not_swept "
    "WHERE d.status IN ('pending', 'warned') AND d.paused_at IS NULL AND d.due_at <= :now "
    "ORDER BY d.due_at LIMIT :limit FOR UPDATE OF d SKIP LOCKED"
).bindparams(bindparam("not_swept", expanding=True))

_WARNINGS_DUE = text(
    "SELECT d.complaint_id, d.warn_at AS at FROM deadlines d "
    "JOIN complaints c ON c.id = d.complaint_id AND c.status NOT IN :not_swept "
    "WHERE d.status = 'pending' AND d.paused_at IS NULL AND d.warn_at <= :now "
    "ORDER BY d.warn_at LIMIT :limit FOR UPDATE OF d SKIP LOCKED"
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
    """Complaints with a warning or breach due that no other worker is handling, the most
    overdue first (catch-up order). Their due deadlines stay locked until the transaction
    ends."""
    params = {"now": now, "limit": limit, "not_swept": list(NOT_SWEPT)}
    due: dict[uuid.UUID, datetime] = {}
    for statement in (_BREACHES_DUE, _WARNINGS_DUE):
        for row in await conn.execute(statement, params):
            if row.complaint_id not in due or row.at < due[row.complaint_id]:
                due[row.complaint_id] = row.at
    return sorted(due, key=due.__getitem__)[:limit]


def _dicts(result: Result[Any]) -> list[dict[str, Any]]:
    """Rows as plain dicts (zip with the keys read once: about half the cost of RowMapping's
    dict(), which shows in a batch of hundreds of complaints and their deadlines)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


async def lock_complaints(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """The complaints this worker takes, locked until its transaction ends; those another
    worker holds are skipped (it is handling them)."""
    return _dicts(await conn.execute(_LOCK, {"ids": list(ids), "not_swept": list(NOT_SWEPT)}))


async def deadlines_of(
    conn: AsyncConnection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    out: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in _dicts(await conn.execute(_DEADLINES, {"ids": list(ids)})):
        out[row["complaint_id"]].append(row)
    return out


async def oldest_unhandled(conn: AsyncConnection, *, now: datetime) -> datetime | None:
    """The oldest warning or breach moment not handled yet: now minus this is the sweep lag."""
    at: datetime | None = (
        await conn.execute(_OLDEST_DUE, {"now": now, "not_swept": list(NOT_SWEPT)})
    ).scalar_one()
    return at
