"""The SLA worker's claims (时限巡检): which complaints have deadlines due, and locking them.

PostgreSQL decides what is owed and who handles it. The unit of a claim is the complaint: a
worker locks the complaints it takes with FOR UPDATE SKIP LOCKED, so replicas share the work and
never handle one twice; everything it writes for them (events, projection, outbox, the status of
every due deadline of those complaints) commits in one transaction, so a crash in the middle
releases the batch untouched for the next sweep.

Every writer of deadlines (this sweep, the API, a calendar recompute) takes the complaint first
and its deadlines after; no claim holds deadline rows of a complaint another claim holds, which
is what let two sweeps deadlock (each waiting for deadline rows the other had locked).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Result, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.complaints import ROW_COLUMNS_SQL
from shared.db.tables import open_deadline_sql
from shared.domain.enums import Status
from shared.domain.lifecycle import TERMINAL_STATES

# Complaints whose deadlines are not acted on: handling is over, or the clock is paused.
NOT_SWEPT = tuple(sorted(s.value for s in (*TERMINAL_STATES, Status.AWAITING_CUSTOMER)))

_OPEN = open_deadline_sql("d.status")

# Breaches due and warnings due, oldest first, each walking its partial index
# (ix_deadlines_due_at_open, ix_deadlines_warn_at_pending). Their complaints are locked with
# SKIP LOCKED, so concurrent workers take disjoint batches instead of all reading the head of
# the same queue; a complaint with several due deadlines is locked once.
_BREACHES_DUE = text(
    "SELECT d.complaint_id, d.due_at AS at FROM deadlines d "
    "JOIN complaints c ON c.id = d.complaint_id AND c.status NOT IN :not_swept "
    f"WHERE {_OPEN} AND d.paused_at IS NULL AND d.due_at <= :now "
    "ORDER BY d.due_at LIMIT :limit FOR UPDATE OF c SKIP LOCKED"
).bindparams(bindparam("not_swept", expanding=True))

_WARNINGS_DUE = text(
    "SELECT d.complaint_id, d.warn_at AS at FROM deadlines d "
    "JOIN complaints c ON c.id = d.complaint_id AND c.status NOT IN :not_swept "
    "WHERE d.status = 'pending' AND d.paused_at IS NULL AND d.warn_at <= :now "
    "ORDER BY d.warn_at LIMIT :limit FOR UPDATE OF c SKIP LOCKED"
).bindparams(bindparam("not_swept", expanding=True))

_COMPLAINTS = text(f"SELECT {ROW_COLUMNS_SQL} FROM complaints WHERE id = ANY(:ids)")

_DEADLINES = text("SELECT * FROM deadlines WHERE complaint_id = ANY(:ids) ORDER BY id")

_OLDEST_DUE = text(
    "SELECT min(at) FROM ("
    "  (SELECT min(d.due_at) AS at FROM deadlines d JOIN complaints c ON c.id = d.complaint_id"
    f"   WHERE {_OPEN} AND d.paused_at IS NULL AND d.due_at <= :now"
    "   AND c.status NOT IN :not_swept)"
    "  UNION ALL"
    "  (SELECT min(d.warn_at) FROM deadlines d JOIN complaints c ON c.id = d.complaint_id"
    "   WHERE d.status = 'pending' AND d.paused_at IS NULL AND d.warn_at <= :now"
    "   AND c.status NOT IN :not_swept)"
    ") AS x"
).bindparams(bindparam("not_swept", expanding=True))


async def due_complaints(conn: AsyncConnection, *, now: datetime, limit: int) -> list[uuid.UUID]:
    """Complaints with a warning or breach due that no other worker is handling, the most
    overdue first (catch-up order), locked until the transaction ends."""
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


async def complaints_of(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """The claimed complaints' rows (`due_complaints` locked them)."""
    return _dicts(await conn.execute(_COMPLAINTS, {"ids": list(ids)}))


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
