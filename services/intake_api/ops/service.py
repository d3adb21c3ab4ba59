"""Readiness for orchestrators and ops: PostgreSQL, Redis, the business calendar's range, the
SLA workers' heartbeats and notifications waiting for a gateway that is not configured."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from services.intake_api.calendar.service import readiness as calendar_readiness
from services.intake_api.ops.workers import heartbeats, worker_state
from shared.config import GATEWAY_SETTINGS
from shared.db import health, outbox
from shared.db.engine import Database
from shared.domain.templates import MessageChannel

CHECK_TIMEOUT = 2.0  # seconds per dependency


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]  # "ok" or "error: <exception type>" per dependency
    calendar: dict[str, Any] | None  # None when the database is not reachable
    worker: dict[str, Any]  # `ops.workers.worker_state`, or state `unknown` without Redis
    notifications: dict[str, Any] | None = None  # None when the database is not reachable

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
    worker: dict[str, Any] = {"state": "unknown"}
    if results["redis"] == "ok":
        try:
            beats = await asyncio.wait_for(heartbeats(client, prefix), timeout=CHECK_TIMEOUT)
            worker = worker_state(beats, now=now)
        except Exception as exc:
            worker = {"state": "unknown", "error": type(exc).__name__}
    if results["database"] != "ok":
        return Readiness(results, None, worker)
    calendar = await calendar_readiness(db, now=now)
    return Readiness(results, calendar, worker, await _notifications(db))


_GATEWAY_NAMES = {MessageChannel.SMS: "短信网关", MessageChannel.EMAIL: "邮件网关（SMTP）"}


async def _notifications(db: Database) -> dict[str, Any]:
    """The channels whose messages wait (`not_configured`) for a gateway no worker has, with a
    warning for ops; it never makes the service unready, nor raises."""

    async def waiting() -> list[str]:
        async with db.connect() as conn:
            return await outbox.waiting_channels(conn, [c.value for c in MessageChannel])

    try:
        channels = await asyncio.wait_for(waiting(), timeout=CHECK_TIMEOUT)
    except Exception as exc:
        return {"status": f"error: {type(exc).__name__}"}
    return {"waiting_for": channels, "warning": gateway_warning(channels)}


def gateway_warning(channels: list[str]) -> str | None:
    if not channels:
        return None
    gateways = "、".join(
        f"{_GATEWAY_NAMES[MessageChannel(c)]}（{GATEWAY_SETTINGS[c]}）" for c in channels
    )
    return (
        f"有通知在等待未配置的{gateways}（not_configured）：配置后重启 SLA worker，"
        "等待的通知即会发出。"
    )
