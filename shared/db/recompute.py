"""Recomputing open deadlines when the business calendar changes (工作日历变更).

Called inside the transaction of the calendar change itself: every open deadline the changed
days (or hours) can move is counted again from its start on the new calendar (paused time
kept), and each complaint whose deadlines moved gets a `deadlines.recomputed` event, written
with the new deadlines in one statement per batch of complaints. Either all of it commits with
the calendar change, or none of it does.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import deadlines
from shared.db.calendars import DEFAULT_CALENDAR, load_calendar
from shared.db.changes import ComplaintChange, write_changes
from shared.db.complaint_effects import Effects, change_for
from shared.db.complaints import state_from_row
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.enums import Stage
from shared.domain.events import DeadlinesRecomputed, RecomputedDeadline, stamp
from shared.domain.sla import recompute

PAGE = 500
BATCH = 200

_LOCK = text("SELECT * FROM complaints WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")


async def recompute_open_deadlines(
    conn: AsyncConnection,
    *,
    first_day: date | None,
    last_day: date | None,
    now: datetime,
    code: str = DEFAULT_CALENDAR,
) -> int:
    """Recompute what the change of `first_day..last_day` (None: the working hours) may move;
    returns how many deadlines moved. Only the default calendar plans deadlines."""
    if code != DEFAULT_CALENDAR:
        return 0
    loaded = await load_calendar(conn, code)  # this transaction's calendar, not a cached one
    moved: dict[uuid.UUID, list[tuple[dict[str, Any], RecomputedDeadline]]] = defaultdict(list)
    after_id = 0
    while True:
        page = await deadlines.open_affected(
            conn, first_day=first_day, last_day=last_day, limit=PAGE, after_id=after_id
        )
        if not page:
            break
        after_id = page[-1]["id"]
        for row in page:
            planned = deadlines.planned_from_row(row)
            again = recompute(planned, calendar=loaded.calendar, paused=row["paused_total"])
            if (again.due_at, again.warn_at, again.provisional) == (
                row["due_at"], row["warn_at"], row["provisional"],
            ):  # fmt: skip
                continue
            new = {c: row[c] for c in deadlines.CHANGEABLE}
            new.update(due_at=again.due_at, warn_at=again.warn_at, provisional=again.provisional,
                       calendar_version=loaded.version)  # fmt: skip
            moved[row["complaint_id"]].append(
                (new, RecomputedDeadline(
                    deadline_id=row["id"], stage=Stage(row["stage"]), cycle=row["cycle"],
                    due_before=row["due_at"], due_at=again.due_at,
                    provisional=again.provisional,
                ))
            )  # fmt: skip
    ids = sorted(moved)
    effects = Effects()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        locked = await conn.execute(_LOCK, {"ids": batch})
        changes: list[ComplaintChange] = []
        for complaint in locked.mappings():
            state = state_from_row(dict(complaint))
            entries = moved[state.id]
            event = DeadlinesRecomputed(
                calendar_version=loaded.version, deadlines=[e for _, e in entries]
            )
            stamped, states = stamp(state, [event], actor=SYSTEM_ACTOR, now=now)
            change = await change_for(
                conn, effects, stamped, states, before=state, now=now, audit=None, stored=[]
            )
            changes.append(replace(change, updates={"deadlines": [r for r, _ in entries]}))
        await write_changes(conn, changes)
    return sum(len(v) for v in moved.values())
