"""/readyz tells the SLA workers' state from their heartbeats in Redis, without a missing worker
ever making the API itself unready (registrations need no worker: what one owes waits in
PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio
import redis.asyncio as aioredis

from services.intake_api.app import create_app
from shared.config import Settings
from shared.keys import WORKER_HEARTBEAT_STALE_SECONDS, worker_heartbeat_key
from tests.conftest import make_settings
from tests.support.servers import Servers


@pytest_asyncio.fixture
async def own_prefix(database_url: str, test_servers: Servers) -> AsyncIterator[Settings]:
    """An API of its own Redis prefix: no other test's worker beats in it."""
    yield make_settings(database_url, test_servers.redis_url)


@pytest_asyncio.fixture
async def api(own_prefix: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(own_prefix)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            yield c


async def _beat(settings: Settings, worker: str, at: datetime, **extra: object) -> None:
    client = aioredis.Redis.from_url(settings.require_redis_url())
    try:
        key = worker_heartbeat_key(settings.redis_prefix, worker)
        await client.set(key, json.dumps({"at": at.isoformat(), **extra}), ex=60)
    finally:
        await client.aclose()


async def test_no_worker_is_missing_and_the_api_stays_ready(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["worker"] == {
        "state": "missing",
        "workers": 0,
        "last_seen_at": None,
        "last_sweep_at": None,
    }


async def test_a_worker_that_beat_lately_is_ok(
    api: httpx.AsyncClient, own_prefix: Settings
) -> None:
    now = datetime.now(UTC)
    swept = now - timedelta(seconds=1)
    await _beat(own_prefix, "host:1", now, last_sweep_at=swept.isoformat())
    await _beat(own_prefix, "host:2", now - timedelta(seconds=WORKER_HEARTBEAT_STALE_SECONDS + 30))
    worker = (await api.get("/readyz")).json()["worker"]
    assert worker["state"] == "ok"
    assert worker["workers"] == 1  # the other one is stale
    assert datetime.fromisoformat(worker["last_seen_at"]) == now
    assert worker["last_seen_at"].endswith("+08:00")
    assert datetime.fromisoformat(worker["last_sweep_at"]) == swept


async def test_a_worker_that_stopped_beating_is_stale(
    api: httpx.AsyncClient, own_prefix: Settings
) -> None:
    last = datetime.now(UTC) - timedelta(seconds=WORKER_HEARTBEAT_STALE_SECONDS + 5)
    await _beat(own_prefix, "host:1", last)
    response = await api.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    worker = response.json()["worker"]
    assert worker["state"] == "stale"
    assert worker["workers"] == 0
    assert datetime.fromisoformat(worker["last_seen_at"]) == last
