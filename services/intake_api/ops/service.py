"""Readiness for orchestrators and ops: PostgreSQL, Redis and the business calendar's range."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from services.intake_api.calendar.service import readiness as calendar_readiness
from shared.db import health
from shared.db.engine import Database

CHECK_TIMEOUT = 2.0  # seconds per dependency


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]  # "ok" or "error: <exception type>" per dependency
    calendar: dict[str, Any] | None  # None when the database is not reachable

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


async def readiness(db: Database, client: aioredis.Redis, *, now: datetime) -> Readiness:
    """Each dependency checked with a timeout; the calendar's known range (a warning 60 days
    before it ends) when the database answers: it never makes the service unready."""

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
    return Readiness(results, calendar)
