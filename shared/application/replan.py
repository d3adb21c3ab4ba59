"""Moving open cases to corrected SLA rules (issue 11: the migration of open cases).

When the rules are corrected retroactively (migration 0013 stores the SPEC §2–§4 defaults as a
version in force from the start, leaving the old version with an empty span), the open
deadlines planned on the old version are planned again: each such complaint gets a
`deadlines.replanned` event through the complaint-change pipeline, whose deadline rules cancel
every open deadline and plan it again under the policies in force from its own start (the
first contact and the resolution from registration: shared.domain.deadline_rules). Nothing is
rewritten in place: the old deadlines stay, cancelled, beside the new ones, and the events say
why.

The worker's housekeeping runs it (at start-up and hourly); it is idempotent — a complaint done
has no open deadline on a superseded version left. One batch of complaints per transaction,
locked in id order like a calendar recompute.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.bootstrap import Caches, Collaborators
from shared.application.complaint_changes import Context, Decision, change_complaints
from shared.db import deadlines
from shared.db.complaints import state_from_row
from shared.db.sla import policy_history
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.events import DeadlinesReplanned

BATCH = 200
REASON = "时限规则已更正（SPEC §2–§4）：未完成的时限按新规则重新计划"

_LOCK = text("SELECT * FROM complaints WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")


async def replan_batch(
    conn: AsyncConnection, *, after: uuid.UUID | None, now: datetime, caches: Caches
) -> tuple[uuid.UUID | None, int]:
    """One batch of complaints with open deadlines on superseded policy versions, by id after
    `after`: (the last id taken, None when none were left; how many were planned again)."""
    ids = await deadlines.complaints_with(
        conn, deadlines.on_superseded_policies(), after=after, limit=BATCH
    )
    if not ids:
        return None, 0
    complaints = (await conn.execute(_LOCK, {"ids": ids})).mappings().all()
    history = await policy_history(conn)
    decisions = [
        Decision(
            before=state_from_row(dict(row)),
            events=[DeadlinesReplanned(reason=REASON)],
            actor=SYSTEM_ACTOR,
        )
        for row in complaints
    ]
    books = {d.before.id: history.book_as_of(d.before.created_at) for d in decisions if d.before}
    await change_complaints(
        conn, decisions, now=now, audit=[], caches=caches, context=Context(books=books)
    )
    return ids[-1], len(decisions)


async def replan_superseded(collab: Collaborators, *, now: datetime) -> int:
    """Every complaint with open deadlines on superseded policy versions, one batch per
    transaction; returns how many complaints were planned again."""
    done, after = 0, None
    while True:
        async with collab.db.begin() as tx:
            last, count = await replan_batch(tx, after=after, now=now, caches=collab.caches)
        if last is None:
            return done
        done, after = done + count, last
