"""Readiness for orchestrators and ops: PostgreSQL, Redis, the business calendar's range and
the SLA workers' heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from services.intake_api.calendar.service import readiness as calendar_readiness
from services.intake_api.ops.workers import heartbeats, worker_state
from shared.db import health
from shared.db.engine import Database

CHECK_TIMEOUT = 2.0  # seconds per dependency


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]  # "ok" or "error: <exception type>" per dependency
    calendar: dict[str, Any] | None  # None when the database is not reachable
    worker: dict[str, Any]  # `ops.workers.worker_state`, or state `unknown` without Redis

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


async def readiness(
    db: Database, client: aioredis.Redis, *, prefix: str, now: datetime
) -> Readiness:
    """Each dependency checked with a timeout. Besides, never making the API unready: the
    calendar's known range (a warning 60 days before it ends) when the database answers, and
    the SLA workers' state from their heartbeats when Redis does."""

    async def database() -> None:
        async with db.connect() as conn:
            await health.ping(conn)

    async def redis() -> None:
        await client.ping()

    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": database, "redis": redis}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}"
    calendar = await calendar_readiness(db, now=now) if results["database"] == "ok" else None
    worker: dict[str, Any] = {"state": "unknown"}
    if results["redis"] == "ok":
        try:
            beats = await asyncio.wait_for(heartbeats(client, prefix), timeout=CHECK_TIMEOUT)
            worker = worker_state(beats, now=now)
        except Exception as exc:
            worker = {"state": "unknown", "error": type(exc).__name__}
    return Readiness(results, calendar, worker)
