"""Deadlines (时限) in PostgreSQL: rows for new plans, state changes, and the list filters.

A stored deadline changes only with its complaint: in the complaint change's own statement
(shared.application.deadline_rows), guarded by the complaint's version, or while its
complaint is locked (a calendar recompute, shared.application.recompute). Nothing here writes
one on its own.

A deadline is planned in the domain (`shared.domain.sla`) and stored as one row per
(complaint, stage, cycle). Two insert paths:

- inside the complaint's own statement: `row_for(...)` as a `PlannedDeadlineRow` of the
  `ComplaintChange` (one round trip for the change and its deadlines);
- in bulk, outside a complaint change (imports, benchmarks): `insert_many` (multi-row INSERT)
  or `copy_rows` (COPY, the fastest for tens of thousands of rows).

Open means `pending` or `warned`; a paused deadline (`paused_at` set, the complaint awaits the
customer) is open but its clock is stopped, so it is neither due, nor overdue, nor swept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import Complaint, Deadline, SlaPolicyVersion, table_of
from shared.domain.enums import OPEN_DEADLINE_STATUSES, DeadlineStatus, DurationUnit, Stage
from shared.domain.lifecycle import TERMINAL_STATES
from shared.domain.sla import PlannedDeadline

deadlines = table_of(Deadline)
complaints = table_of(Complaint)

# A condition on `complaints` (over `complaints.c.id`) to AND into the complaint list query.
ComplaintClause = ColumnElement[bool]

# Open deadlines (shared.domain.enums.OPEN_DEADLINE_STATUSES) as SQL values.
OPEN_STATUSES = sorted(s.value for s in OPEN_DEADLINE_STATUSES)
# Columns a new row carries (the rest take their defaults); the order of `copy_rows`.
PLAN_COLUMNS = (
    "complaint_id",
    "stage",
    "cycle",
    "policy_id",
    "policy_version",
    "calendar_version",
    "unit",
    "amount",
    "warn_ratio",
    "started_at",
    "due_at",
    "warn_at",
    "provisional",
    "paused_at",
)


def row_for(
    complaint_id: uuid.UUID, planned: PlannedDeadline, *, calendar_version: int
) -> dict[str, Any]:
    """The row of a planned deadline, for `ComplaintChange.rows["deadlines"]` or
    `insert_many`. The policy must be a stored one (it has an id)."""
    if planned.policy_id is None:
        raise ValueError("a deadline must come from a stored policy (policy_id is None)")
    return {
        "complaint_id": complaint_id,
        "stage": planned.stage.value,
        "cycle": planned.cycle,
        "policy_id": planned.policy_id,
        "policy_version": planned.policy_version,
        "calendar_version": calendar_version,
        "unit": planned.unit.value,
        "amount": planned.amount,
        "warn_ratio": planned.warn_ratio,
        "started_at": planned.started_at,
        "due_at": planned.due_at,
        "warn_at": planned.warn_at,
        "provisional": planned.provisional,
        "paused_at": planned.paused_at,
        "paused_total": planned.paused_total,
    }


def planned_from_row(row: Mapping[str, Any]) -> PlannedDeadline:
    """A stored deadline back as the domain's plan (to recompute or move it)."""
    return PlannedDeadline(
        Stage(row["stage"]),
        row["cycle"],
        row["policy_id"],
        row["policy_version"],
        DurationUnit(row["unit"]),
        row["amount"],
        row["warn_ratio"],
        row["started_at"],
        row["due_at"],
        row["warn_at"],
        row["provisional"],
        row["paused_at"],
    )


async def insert_many(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT the rows (all with the same keys, as `row_for` makes them). An executemany:
    SQLAlchemy batches it into multi-row statements of a cached shape, within asyncpg's limit
    of 32,767 parameters. The unique (complaint, stage, cycle) refuses a double plan."""
    if rows:
        await conn.execute(insert(deadlines), list(rows))


async def copy_rows(conn: AsyncConnection, rows: Iterable[Mapping[str, Any]]) -> int:
    """COPY rows into `deadlines` through the asyncpg connection (bulk paths only)."""
    records = [tuple(r[c] for c in PLAN_COLUMNS) for r in rows]
    if not records:
        return 0
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table("deadlines", records=records, columns=list(PLAN_COLUMNS))
    return len(records)


# --- reading ---------------------------------------------------------------------------------


async def list_for_complaint(
    conn: AsyncConnection, complaint_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every deadline of a complaint, in planning order."""
    c = deadlines.c
    stmt = select(deadlines).where(c.complaint_id == complaint_id).order_by(c.started_at, c.id)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def next_deadline(conn: AsyncConnection, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    """The open deadline due first (running clocks before paused ones), for the public status
    lookup: stage, due_at, provisional, paused_at. None when nothing is owed."""
    c = deadlines.c
    stmt = (
        select(c.stage, c.due_at, c.unit, c.provisional, c.paused_at)
        .where(c.complaint_id == complaint_id, c.status.in_(OPEN_STATUSES))
        .order_by(c.paused_at.is_not(None), c.due_at)
        .limit(1)
    )
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row is not None else None


# --- the calendar changed --------------------------------------------------------------------

# Which open deadlines a recompute considers: conditions on `deadlines`.
Selection = list[ColumnElement[bool]]


def affected_by(first_day: date | None, last_day: date | None) -> Selection:
    """Open deadlines a change of the days first_day..last_day may move (every open one counted
    on the calendar when no range is given: the working hours changed)."""
    c = deadlines.c
    clauses: Selection = [
        c.status.in_(OPEN_STATUSES),
        c.unit != DurationUnit.HOURS.value,  # calendar hours do not depend on the calendar
    ]
    if first_day is not None and last_day is not None:
        # A changed day can only move a deadline whose counting spans it. Compared in UTC with
        # a day's margin either side (the calendar's zone is within ±14 h of UTC); paused
        # deadlines have no end yet and are always included.
        lo = datetime.combine(first_day - timedelta(days=1), time(), tzinfo=UTC)
        hi = datetime.combine(last_day + timedelta(days=2), time(), tzinfo=UTC)
        clauses += [c.started_at < hi, or_(c.due_at >= lo, c.paused_at.is_not(None))]
    return clauses


def stale(calendar_version: int) -> Selection:
    """Open provisional deadlines computed on an older calendar version. Every calendar change
    recomputes what it moves in its own transaction, except seeding the years the library
    knows on first use (`CalendarCache.get`): that only adds years the calendar did not know,
    so only deadlines that counted such days (provisional ones) can move."""
    c = deadlines.c
    return [
        *affected_by(None, None),
        c.provisional.is_(True),
        c.calendar_version < calendar_version,
    ]


def on_superseded_policies() -> Selection:
    """Open deadlines planned on a policy version that was superseded retroactively: one whose
    span is empty (`valid_until <= valid_from`), as a correction of the rules leaves it
    (migration 0013). Their complaints are planned again (shared.application.replan)."""
    c = deadlines.c
    v = table_of(SlaPolicyVersion).c
    return [
        c.status.in_(OPEN_STATUSES),
        exists().where(
            v.policy_id == c.policy_id,
            v.version == c.policy_version,
            v.valid_until.is_not(None),
            v.valid_until <= v.valid_from,
        ),
    ]


async def complaints_with(
    conn: AsyncConnection, which: Selection, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """The next `limit` complaints (by id, after `after`) with a deadline in `which`."""
    c = deadlines.c
    stmt = select(c.complaint_id).where(*which).distinct().order_by(c.complaint_id).limit(limit)
    if after is not None:
        stmt = stmt.where(c.complaint_id > after)
    return [r[0] for r in await conn.execute(stmt)]


async def of_complaints(
    conn: AsyncConnection, which: Selection, complaint_ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The deadlines in `which` of these complaints (read after locking them: see
    shared.application.recompute)."""
    c = deadlines.c
    stmt = select(deadlines).where(*which, c.complaint_id.in_(complaint_ids)).order_by(c.id)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def mark_checked(conn: AsyncConnection, ids: Sequence[int], calendar_version: int) -> None:
    """Record that these deadlines were recomputed on `calendar_version` and did not move, so
    the stale check does not take them again. Only the version column: nothing a complaint
    change writes (the caller holds the complaints' locks anyway)."""
    if ids:
        c = deadlines.c
        await conn.execute(
            update(deadlines)
            .where(c.id.in_(ids), c.calendar_version < calendar_version)
            .values(calendar_version=calendar_version)
        )


# --- filters for the complaint list ----------------------------------------------------------


def _running() -> list[ColumnElement[bool]]:
    c = deadlines.c
    return [c.complaint_id == complaints.c.id, c.status.in_(OPEN_STATUSES), c.paused_at.is_(None)]


def due_within_clause(now: datetime, within: timedelta) -> ComplaintClause:
    """Complaints with a running deadline due in [now, now + within): not yet overdue."""
    c = deadlines.c
    return exists().where(*_running(), c.due_at >= now, c.due_at < now + within)


def overdue_clause(now: datetime) -> ComplaintClause:
    """Complaints with a running deadline past due (breached or about to be recorded so), or
    whose resolution was breached and is still not given: the overdue queue of the supervisor
    tier a breach alerts (seed 002 §5.4; a breach no longer moves the case up a level)."""
    c, k = deadlines.c, complaints.c
    late_resolution = exists().where(
        c.complaint_id == k.id,
        c.stage == Stage.RESOLUTION.value,
        c.status == DeadlineStatus.BREACHED.value,
        k.resolved_at.is_(None),
        k.status.not_in([s.value for s in TERMINAL_STATES]),
    )
    return or_(exists().where(*_running(), c.due_at < now), late_resolution)


def breached_clause() -> ComplaintClause:
    """Complaints with at least one recorded breach (超时), whatever happened since."""
    c = deadlines.c
    return exists().where(
        c.complaint_id == complaints.c.id, c.status == DeadlineStatus.BREACHED.value
    )
