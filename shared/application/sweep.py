"""The deadline sweep (时限巡检): warn, breach and escalate what is due, exactly once in effect.

Each batch locks its complaints (FOR UPDATE SKIP LOCKED, shared.db.due_deadlines), reads their
deadlines, lets the domain decide (shared.domain.sweep), and writes every event, projection,
outbox row and deadline status of the batch through the complaint-change pipeline in one
statement of one transaction. A deadline is warned at most once and breached at most once
because its status moves in that same transaction; a crash before commit leaves everything for
the next sweep, which handles what fell due meanwhile in due order (catch-up).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.application.bootstrap import Collaborators
from shared.application.complaint_changes import (
    Context,
    Decision,
    change_complaints,
    staff_directory,
)
from shared.db import due_deadlines
from shared.db.audit import AuditContext
from shared.db.complaints import state_from_row
from shared.db.sla import PolicyHistory, policy_history
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.enums import OPEN_DEADLINE_STATUSES, DeadlineStatus, Stage
from shared.domain.events import Escalated
from shared.domain.sweep import DueDeadline, sla_events

BATCH = 200
CONCURRENCY = 2  # batches in flight per worker process
RUN_SECONDS = 50.0  # one run stops taking batches after this; the next tick goes on


def _due(rows: list[dict[str, Any]], history: PolicyHistory, now: datetime) -> list[DueDeadline]:
    due = []
    for row in rows:
        if row["status"] not in OPEN_DEADLINE_STATUSES or row["paused_at"] is not None:
            continue
        warn = row["status"] == DeadlineStatus.PENDING and row["warn_at"] <= now
        if row["due_at"] > now and not warn:
            continue
        policy = history.rule(row["policy_id"], row["policy_version"])
        stage = Stage(row["stage"])
        due.append(
            DueDeadline(
                id=row["id"],
                stage=stage,
                cycle=row["cycle"],
                status=DeadlineStatus(row["status"]),
                due_at=row["due_at"],
                warn_at=row["warn_at"],
                escalated=row["escalated_at"] is not None,
                rule=policy.stage(stage) if policy else None,
            )
        )
    return due


async def sweep_batch(
    collab: Collaborators, *, now: datetime, limit: int = BATCH
) -> tuple[int, int]:
    """One batch: (complaints taken, escalations made). 0 taken: nothing due is free (none
    due, or every due one held by another worker)."""
    async with collab.db.begin() as tx:
        ids = await due_deadlines.due_complaints(tx, now=now, limit=limit)
        if not ids:
            return 0, 0
        rows = await due_deadlines.complaints_of(tx, ids)
        stored = await due_deadlines.deadlines_of(tx, [r["id"] for r in rows])
        history = await policy_history(tx)
        decisions = []
        for row in rows:
            state = state_from_row(row)
            events = sla_events(state, _due(stored[state.id], history, now), now=now)
            if events:
                decisions.append(Decision(before=state, events=events, actor=SYSTEM_ACTOR))
        if not decisions:
            return len(rows), 0
        escalations = sum(isinstance(e, Escalated) for d in decisions for e in d.events)
        # One audit entry for the batch: the events on each complaint say the rest.
        audit = AuditContext.system("sla-worker", now=now, actor_id=SYSTEM_ACTOR.id).record(
            "complaint.sla_sweep",
            details={
                "complaints": [str(d.before.id) for d in decisions if d.before],
                "escalations": escalations,
            },
        )
        context = Context(
            staff=await staff_directory(tx, collab.caches),
            stored=stored,
            books={
                d.before.id: history.book_as_of(d.before.created_at) for d in decisions if d.before
            },
        )
        await change_complaints(
            tx, decisions, now=now, audit=[audit], caches=collab.caches, context=context
        )
    return len(rows), escalations


async def sweep_until_done(
    collab: Collaborators,
    *,
    now: Callable[[], datetime],
    budget_seconds: float = RUN_SECONDS,
    concurrency: int = CONCURRENCY,
) -> tuple[int, int]:
    """Batches until nothing due is left free or the budget is spent: (complaints, escalations).

    `concurrency` loops on their own connections: while PostgreSQL writes one batch, Python
    prepares the next (SKIP LOCKED keeps their batches apart)."""
    started = time.monotonic()
    totals = [0, 0]

    async def loop() -> None:
        while time.monotonic() - started < budget_seconds:
            count, escalations = await sweep_batch(collab, now=now())
            totals[0] += count
            totals[1] += escalations
            if count == 0:
                return

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return totals[0], totals[1]
