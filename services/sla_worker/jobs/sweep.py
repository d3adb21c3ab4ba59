"""The deadline sweep (时限巡检): warn, breach and escalate what is due, exactly once in effect.

An arq cron every couple of seconds; it carries no data and may run twice or on several workers
at once (arq #196, #343): PostgreSQL decides. Each batch locks its complaints (SKIP LOCKED), then
reads their deadlines, decides in the domain (shared.domain.sweep), and writes every event,
projection, outbox row and deadline status of the batch in one statement of one transaction. A
deadline is warned at most once and breached at most once because its status moves in that same
transaction; a crash before commit leaves everything for the next sweep, which handles what
fell due meanwhile in due order (catch-up).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from shared.db import sweep as claims
from shared.db.audit import AuditRecord
from shared.db.changes import ComplaintChange, write_changes
from shared.db.complaint_effects import Effects, change_for, staff_directory
from shared.db.complaints import state_from_row
from shared.db.deadlines import OPEN_STATUSES
from shared.db.engine import Database
from shared.db.sla import PolicyHistory, policy_history
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.enums import DeadlineStatus, Stage
from shared.domain.events import Escalated, stamp
from shared.domain.sweep import DueDeadline, sla_events

log = logging.getLogger("kesu.worker.sweep")

BATCH = 200
CONCURRENCY = 2  # batches in flight per worker process
RUN_SECONDS = 50.0  # one run stops taking batches after this; the next tick goes on
CRON_SECONDS = tuple(range(0, 60, 2))


def _due(rows: list[dict[str, Any]], history: PolicyHistory, now: datetime) -> list[DueDeadline]:
    due = []
    for row in rows:
        if row["status"] not in OPEN_STATUSES or row["paused_at"] is not None:
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
    db: Database, effects: Effects, *, now: datetime, limit: int = BATCH
) -> tuple[int, int]:
    """One batch: (complaints taken, escalations made). 0 taken: nothing due is free (none
    due, or every due one held by another worker)."""
    async with db.begin() as tx:
        ids = await claims.due_complaints(tx, now=now, limit=limit)
        if not ids:
            return 0, 0
        rows = await claims.complaints_of(tx, ids)
        stored = await claims.deadlines_of(tx, [r["id"] for r in rows])
        history = await policy_history(tx)
        staff = await staff_directory(tx, effects)
        changes: list[ComplaintChange] = []
        escalations = 0
        for row in rows:
            state = state_from_row(row)
            events = sla_events(state, _due(stored[state.id], history, now), now=now)
            if not events:
                continue
            escalations += sum(isinstance(e, Escalated) for e in events)
            stamped, states = stamp(state, events, actor=SYSTEM_ACTOR, now=now)
            changes.append(
                await change_for(
                    tx,
                    effects,
                    stamped,
                    states,
                    before=state,
                    now=now,
                    audit=None,
                    stored=stored[state.id],
                    staff=staff,
                    book=history.book_as_of(state.created_at),
                )
            )
        if changes:
            # One audit entry for the batch: the events on each complaint say the rest.
            audit = AuditRecord(
                occurred_at=now,
                actor_kind=SYSTEM_ACTOR.kind.value,
                actor_id=SYSTEM_ACTOR.id,
                actor_label="sla-worker",
                action="complaint.sla_sweep",
                details={
                    "complaints": [str(c.complaint_id) for c in changes],
                    "escalations": escalations,
                },
            )
            first = changes[0]
            changes[0] = replace(first, rows={**first.rows, "audit_events": [audit.row()]})
            await write_changes(tx, changes)
    return len(rows), escalations


async def sweep_until_done(
    db: Database,
    effects: Effects,
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
            count, escalations = await sweep_batch(db, effects, now=now())
            totals[0] += count
            totals[1] += escalations
            if count == 0:
                return

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return totals[0], totals[1]


async def sweep_deadlines(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron: batches until nothing due is left free, or the run's time is up."""
    db: Database = ctx["db"]
    effects: Effects = ctx.setdefault("effects", Effects())
    taken, escalated = await sweep_until_done(db, effects, now=lambda: datetime.now(UTC))
    if taken:
        log.info("sweep: %d complaints, %d escalations", taken, escalated)
    ctx["last_sweep_at"] = datetime.now(UTC)
    return {"complaints": taken, "escalations": escalated}
