"""Writing a complaint change: events, projection and companion rows in ONE statement.

Every change to a complaint is a `ComplaintChange`: the events it appends, the projection after
them, and the rows that must commit with them (idempotency keys, deadlines, outbox, audit). It is
written by a single SQL statement of data-modifying CTEs fed by one JSON document, so it costs one
round trip, commits atomically, and needs no explicit transaction.

Optimistic concurrency: an update names the version it was computed from; if another change won
in between, the UPDATE matches no row, nothing else is written, and `StaleVersion` is raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import Table, TextClause, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import json_dumps
from shared.db.tables import Base
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.errors import PreconditionFailed
from shared.domain.events import Event


class DuplicateKey(Exception):
    """A unique constraint refused the change (e.g. an idempotency key already used)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class StaleVersion(PreconditionFailed):
    pass


@dataclass(frozen=True)
class ComplaintChange:
    complaint_id: uuid.UUID
    expected_version: int | None  # None: a new complaint
    state: ComplaintState
    events: Sequence[tuple[Event, EventMeta]]
    rows: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


def event_row(event: Event, meta: EventMeta) -> dict[str, Any]:
    return {
        "complaint_id": meta.complaint_id,
        "seq": meta.seq,
        "type": event.type,
        "actor_kind": meta.actor.kind,
        "actor_id": meta.actor.id,
        "occurred_at": meta.occurred_at,
        "payload": event.payload(),
    }


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _columns(table: Table) -> list[str]:
    return [
        c.name
        for c in table.columns
        if c.computed is None and not (c.identity is not None and c.identity.always)
    ]


def _insert_cte(name: str, columns: tuple[str, ...], guarded: bool) -> str:
    if not set(columns) <= set(_columns(_table(name))):
        raise ValueError(
            f"{name} has no columns {sorted(set(columns) - set(_columns(_table(name))))}"
        )
    cols = ", ".join(columns)
    guard = " WHERE EXISTS (SELECT 1 FROM proj)" if guarded else ""
    return (
        f"w_{name} AS (INSERT INTO {name} ({cols}) SELECT {cols} "
        f"FROM jsonb_populate_recordset(NULL::{name}, (SELECT d FROM doc) -> '{name}'){guard} "
        f"RETURNING 1)"
    )


@cache
def _statement(is_update: bool, tables: tuple[tuple[str, tuple[str, ...]], ...]) -> TextClause:
    """The statement for a change; `tables` names each companion table and the columns its rows
    give (columns they omit take their defaults). Cached: a few shapes cover every change."""
    cols = ", ".join(_columns(_table("complaints")))
    one = "jsonb_populate_record(NULL::complaints, (SELECT d FROM doc) -> 'complaints')"
    if is_update:
        proj = (
            f"proj AS (UPDATE complaints AS t SET ({cols}) = (SELECT {cols} FROM {one}) "
            "WHERE t.id = CAST(:complaint_id AS uuid) AND t.version = :expected_version "
            "RETURNING t.id)"
        )
    else:
        proj = f"proj AS (INSERT INTO complaints ({cols}) SELECT {cols} FROM {one} RETURNING id)"
    ctes = [
        "doc AS (SELECT CAST(CAST(:doc AS text) AS jsonb) AS d)",
        proj,
        *(_insert_cte(t, columns, guarded=is_update) for t, columns in tables),
    ]
    return text("WITH " + ",\n".join(ctes) + "\nSELECT count(*) FROM proj")


def _same_columns(table: str, rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The columns the rows of one table give. They must all give the same ones: a column one
    row omits would be written as NULL for it, not as the column's default."""
    columns = set(rows[0])
    if any(set(row) != columns for row in rows):
        raise ValueError(f"rows for {table} give different columns")
    return tuple(sorted(columns))


async def write_change(conn: AsyncConnection, change: ComplaintChange) -> None:
    """Append the change's events and update the projection, atomically, in one round trip."""
    document: dict[str, Any] = {
        "complaints": change.state.model_dump(mode="json"),
        "complaint_events": [event_row(e, m) for e, m in change.events],
    }
    for table, rows in change.rows.items():
        if rows:
            document[table] = list(rows)
    tables = tuple(
        (t, _same_columns(t, rows)) for t, rows in sorted(document.items()) if t != "complaints"
    )
    is_update = change.expected_version is not None
    params: dict[str, Any] = {"doc": json_dumps(document)}
    if is_update:
        params["complaint_id"] = str(change.complaint_id)
        params["expected_version"] = change.expected_version
    try:
        result = await conn.execute(_statement(is_update, tables), params)
    except IntegrityError as exc:
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if isinstance(cause, UniqueViolationError):
            raise DuplicateKey(cause.constraint_name or "") from exc
        raise
    if result.scalar_one() != 1:
        raise StaleVersion("the complaint was changed by someone else; reload it and try again")
