"""Concurrent sweeps over complaints with several overdue deadlines each: the claim unit is the
complaint, so two sweeps never hold parts of each other's complaints (which deadlocked: each
locked some deadline rows of both complaints, then updated all of its own complaint's rows).

On a database of this module's own: the sweeps act on everything due in it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_batch
from shared.db.engine import Database
from tests.support.desk import (
    Desk,
    events_of,
    raise_level_on_breach,
    sweep_all,
    wait_for_lock_waiters,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)  # a Monday
# First contact, resolution and progress update all overdue; the level-2 resolution (7 working
# days from registration, SPEC §4) not yet.
LATER = START + timedelta(days=8)


@pytest.fixture(scope="module", autouse=True)
async def company_raises_the_level_on_a_breach(desk: Desk) -> None:
    """Escalation marks "handled once" here: this company raises the level on a breach (off by
    default since seed 002 §4.3; tests/worker/test_breach_consequences.py has the default)."""
    await raise_level_on_breach(desk)


async def _outcome(db: Database, ids: list[str]) -> tuple[Counter[str], Counter[int], int]:
    """Escalations per complaint, breach events per deadline, and open deadlines overdue."""
    uuids = [uuid.UUID(i) for i in ids]
    async with db.connect() as conn:
        escalated = Counter(
            str(r.complaint_id)
            for r in await conn.execute(
                text(
                    "SELECT complaint_id FROM complaint_events "
                    "WHERE type = 'complaint.escalated' AND complaint_id = ANY(:ids)"
                ),
                {"ids": uuids},
            )
        )
        breached = Counter(
            int(r.deadline_id)
            for r in await conn.execute(
                text(
                    "SELECT payload->>'deadline_id' AS deadline_id FROM complaint_events "
                    "WHERE type = 'deadline.breached' AND complaint_id = ANY(:ids)"
                ),
                {"ids": uuids},
            )
        )
        missed = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM deadlines WHERE complaint_id = ANY(:ids) "
                    "AND status IN ('pending', 'warned') AND paused_at IS NULL "
                    "AND due_at <= :now"
                ),
                {"ids": uuids, "now": LATER},
            )
        ).scalar_one()
    return escalated, breached, int(missed)


async def test_two_claims_over_the_same_two_complaints_do_not_deadlock(desk: Desk) -> None:
    """The interleaving that deadlocked, forced with locks the test holds: sweep A claims while
    complaint 2 is held elsewhere, sweep B claims once it is free; both then write."""
    first = await desk.register(START)
    second = await desk.register(START + timedelta(minutes=1))
    async with desk.db.begin() as audit_lock, desk.db.begin() as holder:
        # Both sweeps stop at their write (it appends an audit entry) until the test lets go.
        await audit_lock.execute(text("LOCK TABLE audit_events IN SHARE MODE"))
        await holder.execute(
            text("SELECT id FROM complaints WHERE id = :id FOR UPDATE"),
            {"id": uuid.UUID(second["id"])},
        )
        a = asyncio.create_task(sweep_batch(Collaborators(desk.db), now=LATER, limit=2))
        await wait_for_lock_waiters(desk.db, 1, like="WITH doc%")
        await holder.rollback()
        b = asyncio.create_task(sweep_batch(Collaborators(desk.db), now=LATER, limit=2))
        await wait_for_lock_waiters(desk.db, 2, like="WITH doc%")
        await audit_lock.rollback()
        results = await asyncio.gather(a, b, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sorted(taken for taken, _ in results) == [1, 1]  # one complaint each
    await sweep_all(desk.db, LATER)
    escalated, breached, missed = await _outcome(desk.db, [first["id"], second["id"]])
    assert escalated == Counter({first["id"]: 1, second["id"]: 1})
    assert set(breached.values()) == {1}
    assert len(breached) == 6  # first contact, resolution and progress update, twice
    assert missed == 0


async def test_many_concurrent_sweeps_escalate_each_complaint_once(desk: Desk) -> None:
    """Four sweepers with two loops each and tiny batches, over complaints whose overdue
    deadlines interleave in due order (so batches split complaints' deadlines)."""
    complaints = [await desk.register(START + timedelta(minutes=i)) for i in range(40)]
    dbs = [
        Database(desk.settings.require_database_url(), pool_size=2, max_overflow=0)
        for _ in range(4)
    ]
    try:

        async def sweeper(db: Database) -> None:
            while True:
                count, _ = await sweep_batch(Collaborators(db), now=LATER, limit=3)
                if count == 0:
                    return

        results = await asyncio.gather(
            *(sweeper(db) for db in dbs for _ in range(2)), return_exceptions=True
        )
    finally:
        for db in dbs:
            await db.dispose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    ids = [c["id"] for c in complaints]
    escalated, breached, missed = await _outcome(desk.db, ids)
    assert escalated == Counter(dict.fromkeys(ids, 1))
    assert set(breached.values()) == {1}
    assert len(breached) == 3 * len(ids)
    assert missed == 0
    for complaint in complaints[:3]:
        types = [e["type"] for e in await events_of(desk.db, complaint["id"])]
        assert types.count("complaint.escalated") == 1
