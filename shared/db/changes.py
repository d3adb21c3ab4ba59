"""Writing complaint changes: events, projections and companion rows in ONE statement.

Every change to a complaint is a `ComplaintChange`: the events it appends, the projection after
them, the rows that must commit with them (idempotency keys, deadlines, outbox, audit) and the
stored companion rows it changes (deadlines met, paused, breached …). One SQL statement of
data-modifying CTEs, fed by one JSON document, writes a change — or a batch of changes (the SLA
worker escalates hundreds of complaints per statement) — so it costs one round trip and commits
atomically without an explicit transaction.

Optimistic concurrency: an update names the version it was computed from; if another change won
in between, that complaint's UPDATE matches no row and none of its rows are written (they are
tied to the complaints actually updated); `StaleVersion` is raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import fetch, json_dumps
from shared.db.tables import Base
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.errors import PreconditionFailed
from shared.domain.events import Event

Rows = Mapping[str, Sequence[Mapping[str, Any]]]


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
    rows: Rows = field(default_factory=dict)  # inserted
    updates: Rows = field(default_factory=dict)  # stored rows changed, by `id`
    # The state the change started from: only the columns that differ are written then
    # (smaller statements: the SLA worker changes a level, not the complaint's text).
    previous: ComplaintState | None = None

    def changed_columns(self) -> frozenset[str]:
        if self.previous is None:
            return _ALL_STATE_COLUMNS
        before, after = self.previous, self.state
        return frozenset(
            name
            for name in ComplaintState.model_fields
            if getattr(before, name) != getattr(after, name)
        ) | {"id"}


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


def _check(name: str, columns: tuple[str, ...], allowed: set[str]) -> str:
    if not set(columns) <= allowed:
        raise ValueError(f"{name} has no columns {sorted(set(columns) - allowed)}")
    return ", ".join(columns)


def _tied(name: str) -> str:
    """Rows tied to a complaint are written only with that complaint's projection."""
    if "complaint_id" in _table(name).columns:
        return " WHERE s.complaint_id IN (SELECT id FROM proj)"
    return " WHERE EXISTS (SELECT 1 FROM proj)"


def _insert_cte(name: str, columns: tuple[str, ...]) -> str:
    cols = _check(name, columns, set(_columns(_table(name))))
    source = f"jsonb_populate_recordset(NULL::{name}, (SELECT d FROM doc) -> '{name}') AS s"
    picked = ", ".join(f"s.{c}" for c in columns)
    return (
        f"w_{name} AS (INSERT INTO {name} ({cols}) SELECT {picked} FROM {source}"
        f"{_tied(name)} RETURNING 1)"
    )


def _update_cte(name: str, columns: tuple[str, ...]) -> str:
    changed = tuple(c for c in columns if c != "id")
    cols = _check(name, changed, set(_columns(_table(name))))
    source = f"jsonb_populate_recordset(NULL::{name}, (SELECT d FROM doc) -> 'u:{name}') AS s"
    picked = ", ".join(f"s.{c}" for c in changed)
    return (
        f"u_{name} AS (UPDATE {name} AS t SET ({cols}) = ROW({picked}) FROM {source}"
        f"{_tied(name)} AND t.id = s.id RETURNING 1)"
    )


_ALL_STATE_COLUMNS = frozenset(ComplaintState.model_fields)


@cache
def _statement(
    is_update: bool,
    state_columns: tuple[str, ...],
    inserts: tuple[tuple[str, tuple[str, ...]], ...],
    updates: tuple[tuple[str, tuple[str, ...]], ...],
) -> str:
    """The statement for a shape of change: the projection columns it writes, and for each
    companion table the columns its rows give (columns inserts omit take their defaults).
    Cached: a few shapes cover every change."""
    written = tuple(c for c in _columns(_table("complaints")) if c in state_columns)
    cols = ", ".join(c for c in written if c != "id") if is_update else ", ".join(written)
    picked = ", ".join(f"s.{c}" for c in written if c != "id" or not is_update)
    states = "jsonb_populate_recordset(NULL::complaints, (SELECT d FROM doc) -> 'complaints') AS s"
    if is_update:
        proj = (
            f"proj AS (UPDATE complaints AS t SET ({cols}) = ROW({picked}) FROM {states} "
            "JOIN jsonb_to_recordset((SELECT d FROM doc) -> 'expected') AS e(id uuid, version int)"
            " ON e.id = s.id WHERE t.id = s.id AND t.version = e.version RETURNING t.id)"
        )
    else:
        proj = (
            f"proj AS (INSERT INTO complaints ({cols}) SELECT {picked} FROM {states} RETURNING id)"
        )
    ctes = [
        "doc AS (SELECT CAST(CAST($1 AS text) AS jsonb) AS d)",
        proj,
        *(_insert_cte(t, columns) for t, columns in inserts),
        *(_update_cte(t, columns) for t, columns in updates),
    ]
    return "WITH " + ",\n".join(ctes) + "\nSELECT count(*) FROM proj"


def _same_columns(table: str, rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The columns the rows of one table give. They must all give the same ones: a column one
    row omits would be written as NULL for it, not as the column's default."""
    columns = set(rows[0])
    if any(set(row) != columns for row in rows):
        raise ValueError(f"rows for {table} give different columns")
    return tuple(sorted(columns))


def _merge(target: dict[str, list[Mapping[str, Any]]], source: Rows) -> None:
    for table, rows in source.items():
        if rows:
            target.setdefault(table, []).extend(rows)


async def write_changes(conn: AsyncConnection, changes: Sequence[ComplaintChange]) -> None:
    """Write changes, all new complaints or all updates, in one statement. Raises `StaleVersion`
    if a complaint had moved on: that complaint's rows are not written; inside a transaction
    (the SLA worker's batches, whose complaints are locked) the caller rolls back the rest."""
    if not changes:
        return
    is_update = changes[0].expected_version is not None
    if any((c.expected_version is not None) != is_update for c in changes):
        raise ValueError("a batch is either new complaints or updates, not both")
    columns = frozenset().union(*(c.changed_columns() for c in changes))
    document: dict[str, Any] = {
        "complaints": [c.state.model_dump(mode="json", include=set(columns)) for c in changes],
        "complaint_events": [event_row(e, m) for c in changes for e, m in c.events],
    }
    if is_update:
        document["expected"] = [
            {"id": c.complaint_id, "version": c.expected_version} for c in changes
        ]
    inserts: dict[str, list[Mapping[str, Any]]] = {}
    updates: dict[str, list[Mapping[str, Any]]] = {}
    for change in changes:
        _merge(inserts, change.rows)
        _merge(updates, change.updates)
    document.update(inserts)
    document.update({f"u:{table}": rows for table, rows in updates.items()})
    insert_shape = tuple(
        (t, _same_columns(t, rows))
        for t, rows in sorted({**inserts, "complaint_events": document["complaint_events"]}.items())
        if rows
    )
    update_shape = tuple((t, _same_columns(t, rows)) for t, rows in sorted(updates.items()))
    statement = _statement(is_update, tuple(sorted(columns)), insert_shape, update_shape)
    try:
        (row,) = await fetch(conn, statement, json_dumps(document))
    except UniqueViolationError as exc:
        raise DuplicateKey(exc.constraint_name or "") from exc
    if row["count"] != len(changes):
        raise StaleVersion("the complaint was changed by someone else; reload it and try again")


async def write_change(conn: AsyncConnection, change: ComplaintChange) -> None:
    """Append one change's events and update its projection, atomically, in one round trip."""
    await write_changes(conn, [change])
