"""An idle worker process (`python -m services.sla_worker`) is quiet at INFO: arq's lines for
each run of the 2-second crons (→ / ←), its health records and httpx's line per request sent
are DEBUG; a run that did
something says so in one summary line."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import make_settings
from tests.worker.test_deliveries_receivers import (
    Receiver,
    insert_outbox,
    insert_subscription,
    topic,
    webhook_row,
)
from tests.worker.test_deliveries_worker import _start, _wait_alive, _worker_env, _workers

IDLE_SECONDS = 6.0  # three ticks of each 2-second cron


@pytest_asyncio.fixture(scope="module")
async def db(own_url: str) -> AsyncIterator[Database]:
    database = Database(own_url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


def _log_of(env: dict[str, str]) -> Path:
    return Path(tempfile.gettempdir()) / f"kesu-worker-test-{env['KESU_REDIS_PREFIX']}.log"


async def _run_worker(
    env: dict[str, str], db: Database, receiver: Receiver, *, work: bool
) -> list[str]:
    """The lines a worker logs from its start to its stop, idle for IDLE_SECONDS and, with
    `work`, delivering one webhook in the meantime."""
    with _workers(env) as processes:
        worker = _start(env)
        processes.append(worker)
        await _wait_alive(env["REDIS_URL"], env["KESU_REDIS_PREFIX"], [worker.pid])
        if work:
            event, name = topic(), uuid.uuid4().hex[:8]
            await insert_subscription(db, receiver.url(f"/ok/{name}"), [event])
            await insert_outbox(db, [webhook_row(event)])
            deadline = time.monotonic() + 30
            while not receiver.on(f"/ok/{name}"):
                assert time.monotonic() < deadline, "the webhook was not delivered"
                await asyncio.sleep(0.1)
        await asyncio.sleep(IDLE_SECONDS)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
    return _log_of(env).read_text(encoding="utf-8").splitlines()


def _routine(lines: list[str]) -> list[str]:
    marks = (" → ", " ← ", "recording health", "HTTP Request:")
    return [line for line in lines if any(mark in line for mark in marks)]


async def test_an_idle_worker_logs_nothing_per_tick_at_info(
    own_url: str, settings: Settings, db: Database, receiver: Receiver
) -> None:
    env = _worker_env(
        make_settings(own_url, settings.require_redis_url()), receiver, KESU_LOG_LEVEL="INFO"
    )
    lines = await _run_worker(env, db, receiver, work=False)

    assert any("connected to PostgreSQL and Redis" in line for line in lines), lines
    assert _routine(lines) == []
    assert not any("deliveries:" in line or "sweep:" in line for line in lines), lines
    # Start-up (arq's banner, ours) and shutdown only: not a line per tick.
    assert len(lines) < 15, lines


async def test_a_run_that_did_something_is_summed_up_at_info(
    own_url: str, settings: Settings, db: Database, receiver: Receiver
) -> None:
    env = _worker_env(
        make_settings(own_url, settings.require_redis_url()), receiver, KESU_LOG_LEVEL="INFO"
    )
    lines = await _run_worker(env, db, receiver, work=True)

    summaries = [line for line in lines if "kesu.worker.deliveries deliveries:" in line]
    assert len(summaries) == 1, lines
    assert "'webhook_delivered': 1" in summaries[0]
    assert _routine(lines) == []


async def test_the_ticks_show_at_debug(
    own_url: str, settings: Settings, db: Database, receiver: Receiver
) -> None:
    env = _worker_env(
        make_settings(own_url, settings.require_redis_url()), receiver, KESU_LOG_LEVEL="DEBUG"
    )
    lines = await _run_worker(env, db, receiver, work=False)

    ticks = [line for line in _routine(lines) if "cron:sweep_deadlines" in line]
    assert len(ticks) >= 4, lines  # → and ← of at least two sweeps
