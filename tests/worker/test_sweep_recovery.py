"""The sweep after trouble: catching up after downtime in due order, and real worker processes
whose Redis is flushed, then stopped and restarted, while deadlines keep falling due. PostgreSQL
holds what is owed, so nothing is lost and nothing is done twice.

On a database of this module's own: the sweeps and workers act on everything due in it."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_batch
from tests.conftest import make_settings
from tests.support.desk import (
    Desk,
    deadlines_of,
    events_of,
    raise_level_on_breach,
)
from tests.worker.test_deliveries_worker import (
    _redis_server,
    _start,
    _stop_gracefully,
    _supervise,
    _workers,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)  # a Monday
# First contact, resolution and progress update all overdue; the level-2 resolution (7 working
# days from registration, SPEC §4) not yet.
LATER = START + timedelta(days=8)


async def test_catch_up_handles_the_earliest_due_first(desk: Desk) -> None:
    # Registered out of order, so neither insertion order nor ids follow the due order.
    minutes = [5, 2, 7, 0, 3, 6, 1, 4, 8]
    complaints = {m: await desk.register(START + timedelta(minutes=m)) for m in minutes}
    # Back after downtime: everything fell due long ago; each sweep takes three complaints.
    sweeps = [LATER + timedelta(seconds=k) for k in range(3)]
    for now in sweeps:
        taken, _ = await sweep_batch(Collaborators(desk.db), now=now, limit=3)
        assert taken == 3
    # Nothing due is left unbreached (the level-2 resolution, counted from registration, may
    # owe its warning by now: a later sweep's business).
    for complaint in complaints.values():
        for d in await deadlines_of(desk.db, complaint["id"]):
            assert not (d["status"] in ("pending", "warned") and d["due_at"] <= sweeps[-1]), d

    handled_by = {}
    for m, complaint in complaints.items():
        stored = await deadlines_of(desk.db, complaint["id"])
        first_contact = next(d for d in stored if d["stage"] == "first_contact")
        handled_by[m] = sweeps.index(first_contact["breached_at"])
    # The complaints due first (registered first) went in the first sweep, and so on.
    by_due = sorted(minutes)
    assert [handled_by[m] for m in by_due] == sorted(handled_by.values())
    assert {handled_by[m] for m in by_due[:3]} == {0}
    # Within a complaint, its breaches are recorded in due order, then one escalation.
    history = await events_of(desk.db, complaints[0]["id"])
    types = [e["type"] for e in history]
    assert types[-1] == "complaint.escalated"
    due = [
        datetime.fromisoformat(e["payload"]["due_at"])
        for e in history
        if e["type"] == "deadline.breached"
    ]
    assert len(due) == 3
    assert due == sorted(due)


async def _outcome(
    desk: Desk, ids: list[uuid.UUID], cutoff: datetime
) -> tuple[Counter[str], Counter[str], int]:
    """Escalation events per complaint, breach events per deadline, and the running deadlines
    of these complaints due by `cutoff` and not handled."""
    async with desk.db.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT complaint_id, type, payload->>'deadline_id' AS deadline_id "
                    "FROM complaint_events WHERE complaint_id = ANY(:ids) "
                    "AND type IN ('complaint.escalated', 'deadline.breached')"
                ),
                {"ids": ids},
            )
        ).all()
        missed = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM deadlines WHERE complaint_id = ANY(:ids) "
                    "AND status IN ('pending', 'warned') AND paused_at IS NULL "
                    "AND due_at <= :cutoff"
                ),
                {"ids": ids, "cutoff": cutoff},
            )
        ).scalar_one()
    escalated = Counter(str(r.complaint_id) for r in rows if r.type == "complaint.escalated")
    breached = Counter(str(r.deadline_id) for r in rows if r.type == "deadline.breached")
    return escalated, breached, int(missed)


@pytest.fixture(scope="module", autouse=True)
async def company_raises_the_level_on_a_breach(desk: Desk) -> None:
    """Escalation marks "handled once" here: this company raises the level on a breach (off by
    default since seed 002 §4.3; tests/worker/test_breach_consequences.py has the default), and
    its first contact is due in 24 calendar hours, so complaints registered minutes apart fall
    due minutes apart (the catch-up order)."""
    await raise_level_on_breach(desk, first_contact_hours=24)


async def test_redis_flushed_and_restarted_while_sweeping_loses_nothing(desk: Desk) -> None:
    # Within the last week: the worker's housekeeping drops older days' reference sequences.
    # Long enough ago that first contact (1 working day) and the level-1 resolution are overdue;
    # the level-2 resolution (7 working days from registration) is not.
    past = datetime.now(UTC) - timedelta(days=6)

    async def wave(count: int) -> list[uuid.UUID]:
        made = [await desk.register(past + timedelta(seconds=i)) for i in range(count)]
        return [uuid.UUID(c["id"]) for c in made]

    ids = await wave(450)
    with (
        tempfile.TemporaryDirectory(prefix="kesu-redis-") as directory,
        _redis_server(Path(directory)) as own_redis,
    ):
        run = make_settings(desk.settings.require_database_url(), own_redis.url)
        env = {
            **os.environ,
            "DATABASE_URL": run.require_database_url(),
            "REDIS_URL": own_redis.url,
            "KESU_QUEUE_NAME": run.queue_name,
            "KESU_REDIS_PREFIX": run.redis_prefix,
            "KESU_LOG_LEVEL": "WARNING",
            "KESU_DELIVERY_RUN_SECONDS": "1",
        }
        stop = asyncio.Event()
        with _workers(env) as processes:
            processes.append(_start(env))
            supervisor = asyncio.create_task(_supervise(processes, env, stop))
            for _ in range(1500):  # until the sweep is under way
                if (await _outcome(desk, ids, past))[0]:
                    break
                await asyncio.sleep(0.02)
            own_redis.flushall()  # the queue and the cron's job keys: all gone
            ids += await wave(50)
            restart = asyncio.create_task(asyncio.to_thread(own_redis.restart, 3.0))
            ids += await wave(50)  # falling due while Redis is down
            await restart
            cutoff = datetime.now(UTC)
            for _ in range(300):
                escalated, _, missed = await _outcome(desk, ids, cutoff)
                if len(escalated) == len(ids) and missed == 0:
                    break
                await asyncio.sleep(0.2)
            stop.set()
            await supervisor
            await _stop_gracefully(processes, env["REDIS_URL"], env["KESU_REDIS_PREFIX"])
    escalated, breached, missed = await _outcome(desk, ids, cutoff)
    assert set(escalated) == {str(i) for i in ids}
    assert set(escalated.values()) == {1}  # once each (the level-2 deadline is not due yet)
    assert len(breached) >= len(ids)
    assert set(breached.values()) == {1}
    assert missed == 0
