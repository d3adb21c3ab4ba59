"""The deadline sweep: warnings, breaches and escalations, exactly once in effect, across
concurrent sweeps, a real arq worker, workers killed mid-sweep, and catch-up after downtime.

Each test registers complaints through the API in the past (the clock is the API's `get_now`)
on a database of this module's own, then sweeps "now". The module's company has configured
breaches to raise the level (`escalate`, off by default since seed 002 §4.3: the level is the
complaint's nature; tests/worker/test_breach_consequences.py covers the default), so that the
escalation marks "handled exactly once" here."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from arq import cron
from arq.worker import Worker
from sqlalchemy import text

from services.sla_worker.jobs.sweep import sweep_deadlines
from services.sla_worker.serialization import deserialize, serialize
from services.sla_worker.worker import CRON_SECONDS, redis_settings_for
from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_batch
from shared.config import Settings
from shared.db.engine import Database
from tests.support.desk import (
    Desk,
    deadlines_of,
    events_of,
    level_of,
    raise_level_on_breach,
    sweep_all,
)
from tests.support.flow import Flow

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]


T0 = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)  # a Monday


@pytest.fixture(scope="module", autouse=True)
async def company_raises_the_level_on_a_breach(desk: Desk) -> None:
    await raise_level_on_breach(desk)


async def test_overdue_stages_breach_once_and_escalate_once(desk: Desk) -> None:
    complaint = await desk.register(T0)
    # Three working days later and then some: first contact (1 wd) and resolution (3 wd) are
    # both overdue; one sweep records both breaches and escalates once.
    later = T0 + timedelta(days=6)
    await sweep_all(desk.db, later)
    events = [e["type"] for e in await events_of(desk.db, complaint["id"])]
    assert events.count("deadline.breached") == 2
    assert events.count("complaint.escalated") == 1
    assert await level_of(desk.db, complaint["id"]) == 2
    deadlines = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, complaint["id"])}
    assert deadlines[("first_contact", 1)]["status"] == "breached"
    assert deadlines[("resolution", 1)]["status"] == "breached"
    escalated = [d for d in deadlines.values() if d["escalated_at"] is not None]
    assert len(escalated) == 1
    # The level-2 resolution counts from registration (SPEC §4): 7 working days, not yet due.
    replanned = deadlines[("resolution", 2)]
    assert replanned["status"] == "pending"
    assert replanned["started_at"] == T0
    # Sweeping again at the same moment changes nothing: exactly once.
    before = len(await events_of(desk.db, complaint["id"]))
    await sweep_all(desk.db, later)
    assert len(await events_of(desk.db, complaint["id"])) == before


async def test_warning_then_breach_then_the_next_tier(desk: Desk) -> None:
    complaint = await desk.register(T0)
    # Tuesday 16:00: first contact (1 working day, due Tuesday 18:00) is past its 75 % warning.
    tuesday = datetime(2026, 10, 13, 16, 0, tzinfo=SHANGHAI)
    await sweep_all(desk.db, tuesday)
    events = [e["type"] for e in await events_of(desk.db, complaint["id"])]
    assert events.count("deadline.warned") == 1
    await sweep_all(desk.db, tuesday + timedelta(minutes=5))
    assert [e["type"] for e in await events_of(desk.db, complaint["id"])].count(
        "deadline.warned"
    ) == 1
    await sweep_all(desk.db, tuesday + timedelta(hours=17))
    events = [e["type"] for e in await events_of(desk.db, complaint["id"])]
    assert events.count("deadline.breached") == 1
    assert await level_of(desk.db, complaint["id"]) == 2
    # Much later the level-2 resolution breaches too: level 3, and management is alerted.
    await sweep_all(desk.db, T0 + timedelta(days=30))
    assert await level_of(desk.db, complaint["id"]) == 3
    async with desk.db.connect() as conn:
        alerts = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM outbox WHERE complaint_id = :id "
                    "AND template_key IN ('escalation', 'deadline_breach', 'deadline_warning')"
                ),
                {"id": uuid.UUID(complaint["id"])},
            )
        ).scalar_one()
    assert alerts >= 1


async def test_withdrawn_and_paused_complaints_are_not_acted_on(desk: Desk) -> None:
    withdrawn = await desk.register(T0)
    paused = await desk.register(T0)
    manager = desk.manager.headers
    flow = Flow(desk.client, withdrawn)
    await flow.act("withdraw", manager, {"reason": "客户撤诉"})
    flow = Flow(desk.client, paused)
    await flow.act("assign", manager, {"assignee_id": desk.manager.id})
    await flow.act("await_customer", manager, {"reason": "等待客户提供照片"})
    before = {c["id"]: len(await events_of(desk.db, c["id"])) for c in (withdrawn, paused)}
    await sweep_all(desk.db, T0 + timedelta(days=10))
    after = {c["id"]: len(await events_of(desk.db, c["id"])) for c in (withdrawn, paused)}
    assert after == before


async def test_concurrent_sweeps_handle_each_deadline_exactly_once(desk: Desk) -> None:
    start = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    complaints = [await desk.register(start + timedelta(minutes=i)) for i in range(60)]
    # Past first contact and the level-1 resolution, before the level-2 one (from registration).
    later = start + timedelta(days=8)
    dbs = [
        Database(desk.settings.require_database_url(), pool_size=2, max_overflow=0)
        for _ in range(4)
    ]
    try:

        async def worker(db: Database) -> int:
            done = 0
            while True:
                count, escalations = await sweep_batch(Collaborators(db), now=later, limit=7)
                done += escalations
                if count == 0:
                    return done

        escalations = await asyncio.gather(*(worker(db) for db in dbs))
    finally:
        for db in dbs:
            await db.dispose()
    assert sum(escalations) == len(complaints)  # one each, whoever did it
    for complaint in complaints:
        payloads = [
            e["payload"]
            for e in await events_of(desk.db, complaint["id"])
            if e["type"] == "deadline.breached"
        ]
        breached_ids = [p["deadline_id"] for p in payloads]
        assert len(breached_ids) == len(set(breached_ids)) >= 2


# arq 0.28 closes its pool with redis-py's deprecated close() (arq is maintenance-only, #510).
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_a_burst_worker_catches_up_through_the_cron(desk: Desk) -> None:
    """After downtime: the first sweep (run at start-up) handles what fell due meanwhile."""
    past = datetime.now(UTC) - timedelta(days=20)
    complaints = [await desk.register(past + timedelta(minutes=i)) for i in range(5)]
    worker = Worker(
        functions=[],
        cron_jobs=[cron(sweep_deadlines, second=set(CRON_SECONDS), run_at_startup=True)],
        redis_settings=redis_settings_for(desk.settings.redis_url),
        queue_name=f"{desk.settings.queue_name}:sweep-burst",
        job_serializer=serialize,
        job_deserializer=deserialize,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        ctx={"collab": Collaborators(desk.db, desk.settings)},
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    for complaint in complaints:
        types = [e["type"] for e in await events_of(desk.db, complaint["id"])]
        assert "deadline.breached" in types
        assert types.count("complaint.escalated") >= 1


def _worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.require_database_url(),
        "REDIS_URL": settings.require_redis_url(),
        "KESU_QUEUE_NAME": f"{settings.queue_name}:sweep-kill",
        "KESU_REDIS_PREFIX": f"{settings.redis_prefix}-sweep-kill",
        "KESU_LOG_LEVEL": "WARNING",
        "KESU_DELIVERY_RUN_SECONDS": "1",
    }


async def test_workers_killed_mid_sweep_handle_everything_once(desk: Desk) -> None:
    """Two worker processes sweep 800 overdue complaints; they are SIGKILLed and replaced
    several times while sweeping. In the end every overdue deadline is breached exactly once
    and every complaint escalated exactly once."""
    # Past the level-1 resolution (3 working days), before the level-2 one counted from
    # registration (7): eight calendar days hold at most six working days.
    past = datetime.now(UTC) - timedelta(days=8)
    complaints = [await desk.register(past + timedelta(seconds=i)) for i in range(800)]
    ids = {uuid.UUID(c["id"]) for c in complaints}
    env = _worker_env(desk.settings)
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.sla_worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        return process

    async def escalated_count() -> int:
        async with desk.db.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT complaint_id FROM complaint_events "
                    "WHERE type = 'complaint.escalated' AND complaint_id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            )
            return len(list(rows))

    try:
        live = [start(), start()]
        kills = mid_sweep = 0
        for _ in range(5):
            # As soon as a batch has committed, kill both: the others are in flight.
            seen = await escalated_count()
            for _ in range(500):
                await asyncio.sleep(0.02)
                now_done = await escalated_count()
                if now_done != seen:
                    break
            mid_sweep += 0 < now_done < len(ids)
            for process in live:
                process.send_signal(signal.SIGKILL)
                kills += 1
            for process in live:
                await asyncio.to_thread(process.wait)
            live = [start(), start()]
            if now_done >= len(ids):
                break
        for _ in range(120):  # let the last pair finish
            if await escalated_count() >= len(ids):
                break
            await asyncio.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
    async with desk.db.connect() as conn:
        per_complaint = Counter(
            r.complaint_id
            for r in await conn.execute(
                text(
                    "SELECT complaint_id FROM complaint_events "
                    "WHERE type = 'complaint.escalated' AND complaint_id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            )
        )
        breaches = Counter(
            (r.complaint_id, r.deadline_id)
            for r in await conn.execute(
                text(
                    "SELECT complaint_id, (payload->>'deadline_id')::bigint AS deadline_id "
                    "FROM complaint_events WHERE type = 'deadline.breached' "
                    "AND complaint_id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            )
        )
    assert set(per_complaint) == ids
    # Once each at level 1 → 2; the fresh level-2 deadline is not due yet.
    assert set(per_complaint.values()) == {1}
    assert set(breaches.values()) == {1}
    assert kills >= 2
    assert mid_sweep >= 1, "no SIGKILL landed while the sweep was under way"


async def test_ops_status_shows_the_sweep_lag(desk: Desk) -> None:
    await desk.register(datetime.now(UTC) - timedelta(days=9))
    desk.now = datetime.now(UTC)
    lagging = (await desk.client.get("/api/v1/ops/status", headers=desk.admin)).json()
    assert lagging["sweep"]["lag_seconds"] > 3600
    assert lagging["status"] == "degraded"
    await sweep_all(desk.db, datetime.now(UTC))
    caught_up = (await desk.client.get("/api/v1/ops/status", headers=desk.admin)).json()
    assert caught_up["sweep"]["lag_seconds"] < 60
