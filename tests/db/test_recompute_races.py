"""A calendar change recomputing open deadlines while the SLA worker breaches one of them: the
recompute must not put the breached deadline back to pending (which meant a second breach and
escalation later). Interleaved for real through two transactions, on a database of this
module's own (it loads the 2027 schedule, and the sweep acts on everything due). The module's
company raises the level on a breach (off by default, seed 002 §4.3), so the re-planned
resolution is there to be recomputed."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_batch
from tests.support.desk import (
    Desk,
    deadlines_of,
    events_of,
    raise_level_on_breach,
    sweep_all,
    wait_for_lock_waiters,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2026, 12, 30, 16, 0, tzinfo=SHANGHAI)  # Wednesday
# After the resolution's due time on either calendar (5 January provisionally, 6 January once
# the schedule below is loaded).
SWEPT = datetime(2027, 1, 7, 10, 0, tzinfo=SHANGHAI)
SCHEDULE_2027 = {
    "year": 2027,
    "days": [
        {"day": "2027-01-01", "type": "holiday", "name": "元旦"},
        {"day": "2027-01-04", "type": "holiday", "name": "元旦"},
    ],
}


@pytest.fixture(scope="module", autouse=True)
async def company_raises_the_level_on_a_breach(desk: Desk) -> None:
    await raise_level_on_breach(desk)


async def test_a_breach_committed_during_a_recompute_stays_breached(desk: Desk) -> None:
    complaint = await desk.register(REGISTERED)
    before = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, complaint["id"])}
    assert before[("resolution", 1)]["provisional"] is True
    desk.now = SWEPT
    async with desk.db.begin() as audit_lock:
        # The sweep takes the complaint, then waits at its write (it appends an audit entry)...
        await audit_lock.execute(text("LOCK TABLE audit_events IN SHARE MODE"))
        sweep = asyncio.create_task(sweep_batch(Collaborators(desk.db), now=SWEPT))
        await wait_for_lock_waiters(desk.db, 1, like="WITH doc%")
        # ... while the admin loads 2027, whose recompute waits for the complaint's lock.
        load = asyncio.create_task(
            desk.client.post(
                "/api/v1/calendars/default/years", json=SCHEDULE_2027, headers=desk.admin
            )
        )
        await wait_for_lock_waiters(desk.db, 2)
        await audit_lock.rollback()
        taken, escalations = await sweep
        loaded = await load
    assert (taken, escalations) == (1, 1)
    assert loaded.status_code in (200, 201), loaded.text

    after = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, complaint["id"])}
    resolution = after[("resolution", 1)]
    assert (resolution["status"], resolution["breached_at"]) == ("breached", SWEPT)
    assert resolution["due_at"] == before[("resolution", 1)]["due_at"]  # breached as planned
    assert after[("first_contact", 1)]["status"] == "breached"
    # What was still open after the breach was recomputed on the 2027 schedule.
    assert after[("resolution", 2)]["provisional"] is False
    assert after[("resolution", 2)]["status"] == "pending"
    types = [e["type"] for e in await events_of(desk.db, complaint["id"])]
    assert types.count("deadlines.recomputed") == 1

    # Sweeping again breaches nothing twice and escalates no further.
    await sweep_all(desk.db, SWEPT)
    again = await events_of(desk.db, complaint["id"])
    breached_ids = [e["payload"]["deadline_id"] for e in again if e["type"] == "deadline.breached"]
    assert len(breached_ids) == len(set(breached_ids))
    assert [e["type"] for e in again].count("complaint.escalated") == 1
