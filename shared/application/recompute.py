"""Recomputing open deadlines when the business calendar changes (工作日历变更).

Two callers, one way of doing it:

- a calendar change (API or CLI), inside its own transaction: every open deadline the changed
  days (or hours) can move, all of it committing with the change or none of it;
- the worker's housekeeping, one batch per transaction: open deadlines still computed on an
  older calendar version than the one that made them definite (years seeded on first use,
  `deadlines.stale`).

Each deadline is counted again from its start on the new calendar (paused time kept), and each
complaint whose deadlines moved gets a `deadlines.recomputed` event, written with the moved
deadlines through the complaint-change pipeline (shared.application.complaint_changes), in one
statement per batch of complaints.

The complaints of a batch are locked (in id order) before their deadlines are read: the SLA
worker and the API change deadlines only together with their complaint, so a breach, warning or
"met" committed meanwhile is seen and never overwritten by a plan read before it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application import deadline_rows
from shared.application.bootstrap import Caches, Collaborators
from shared.application.complaint_changes import Context, Decision, change_complaints
from shared.db import deadlines
from shared.db.calendars import DEFAULT_CALENDAR, LoadedCalendar, load_calendar
from shared.db.changes import DeadlineUpdate
from shared.db.complaints import ROW_COLUMNS_SQL, state_from_row
from shared.db.sla import policy_history
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.enums import Stage
from shared.domain.events import DeadlinesRecomputed, RecomputedDeadline
from shared.domain.sla import recompute

BATCH = 200

_LOCK = text(
    f"SELECT {ROW_COLUMNS_SQL} FROM complaints WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
)


async def recompute_open_deadlines(
    conn: AsyncConnection,
    *,
    first_day: date | None,
    last_day: date | None,
    now: datetime,
    code: str = DEFAULT_CALENDAR,
    caches: Caches | None = None,
) -> int:
    """Recompute what the change of `first_day..last_day` (None: the working hours) may move;
    returns how many deadlines moved. Only the default calendar plans deadlines."""
    if code != DEFAULT_CALENDAR:
        return 0
    loaded = await load_calendar(conn, code)  # this transaction's calendar, not a cached one
    which = deadlines.affected_by(first_day, last_day)
    moved, after = 0, None
    while ids := await deadlines.complaints_with(conn, which, after=after, limit=BATCH):
        moved += await _recompute(conn, loaded, which, ids, now=now, caches=caches or Caches())
        after = ids[-1]
    return moved


async def recompute_stale_batch(
    conn: AsyncConnection, *, after: uuid.UUID | None, now: datetime, caches: Caches | None = None
) -> tuple[uuid.UUID | None, int]:
    """One batch of stale open deadlines (see `deadlines.stale`), by complaint id after
    `after`: (the last complaint id taken, None when there were none; deadlines moved)."""
    loaded = await load_calendar(conn, DEFAULT_CALENDAR)
    which = deadlines.stale(loaded.version)
    ids = await deadlines.complaints_with(conn, which, after=after, limit=BATCH)
    if not ids:
        return None, 0
    return ids[-1], await _recompute(conn, loaded, which, ids, now=now, caches=caches or Caches())


async def recompute_stale(collab: Collaborators, *, now: datetime) -> int:
    """Seed the calendar if this process has not yet, then recompute the open deadlines left
    stale, one batch of complaints per transaction; returns how many moved."""
    async with collab.db.connect() as conn:
        await collab.caches.calendars.get(conn)
    moved, after = 0, None
    while True:
        async with collab.db.begin() as tx:
            last, count = await recompute_stale_batch(
                tx, after=after, now=now, caches=collab.caches
            )
        if last is None:
            return moved
        moved, after = moved + count, last


async def _recompute(
    conn: AsyncConnection,
    loaded: LoadedCalendar,
    which: deadlines.Selection,
    ids: list[uuid.UUID],
    *,
    now: datetime,
    caches: Caches,
) -> int:
    complaints = (await conn.execute(_LOCK, {"ids": ids})).mappings().all()
    moved: dict[uuid.UUID, list[tuple[DeadlineUpdate, RecomputedDeadline]]] = defaultdict(list)
    unmoved: list[int] = []
    for row in await deadlines.of_complaints(conn, which, ids):
        planned = deadlines.planned_from_row(row)
        again = recompute(planned, calendar=loaded.calendar, paused=row["paused_total"])
        if (again.due_at, again.warn_at, again.provisional) == (
            row["due_at"],
            row["warn_at"],
            row["provisional"],
        ):
            unmoved.append(row["id"])
            continue
        new = {c: row[c] for c in deadline_rows.CHANGEABLE}
        new.update(
            due_at=again.due_at,
            warn_at=again.warn_at,
            provisional=again.provisional,
            calendar_version=loaded.version,
        )
        moved[row["complaint_id"]].append(
            (
                DeadlineUpdate(**new),
                RecomputedDeadline(
                    deadline_id=row["id"],
                    stage=Stage(row["stage"]),
                    cycle=row["cycle"],
                    due_before=row["due_at"],
                    due_at=again.due_at,
                    provisional=again.provisional,
                ),
            )
        )
    await deadlines.mark_checked(conn, unmoved, loaded.version)
    if not moved:
        return 0
    history = await policy_history(conn)
    decisions = []
    for complaint in complaints:
        entries = moved.get(complaint["id"])
        if not entries:
            continue
        event = DeadlinesRecomputed(
            calendar_version=loaded.version, deadlines=[e for _, e in entries]
        )
        decisions.append(
            Decision(
                before=state_from_row(dict(complaint)),
                events=[event],
                actor=SYSTEM_ACTOR,
                moved_deadlines=[r for r, _ in entries],
            )
        )
    # The deadlines moved here are the whole effect: the event itself moves none of them.
    context = Context(
        stored={d.before.id: () for d in decisions if d.before},
        books={d.before.id: history.book_as_of(d.before.created_at) for d in decisions if d.before},
    )
    await change_complaints(conn, decisions, now=now, audit=[], caches=caches, context=context)
    return sum(len(v) for v in moved.values())
