"""The SLA worker (arq on Redis). PostgreSQL decides what is owed; Redis only schedules jobs.

Run with `python -m services.sla_worker` (what `make worker` does); several may run at once.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings
from sqlalchemy import text

from services.sla_worker.serialization import deserialize, serialize
from shared.config import get_settings
from shared.db.engine import Database

log = logging.getLogger("kesu.worker")
settings = get_settings()

HEARTBEAT_TTL_SECONDS = 60


def heartbeat_key(worker_id: str) -> str:
    return f"{settings.redis_prefix}:worker:heartbeat:{worker_id}"


async def startup(ctx: dict[str, Any]) -> None:
    ctx["db"] = Database(settings.require_database_url(), pool_size=5, max_overflow=5)
    async with ctx["db"].connect() as conn:
        await conn.execute(text("SELECT 1"))
    ctx["worker_id"] = f"{socket.gethostname()}:{os.getpid()}"
    log.info("SLA worker %s connected to PostgreSQL and Redis", ctx["worker_id"])
    await heartbeat(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    db: Database | None = ctx.get("db")
    if db is not None:
        await db.dispose()
    redis = ctx.get("redis")
    if redis is not None and "worker_id" in ctx:
        await redis.delete(heartbeat_key(ctx["worker_id"]))
    log.info("SLA worker stopped")


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Shows ops that this worker is alive (`kesu:worker:heartbeat:*` keys with a TTL)."""
    now = datetime.now(UTC).isoformat()
    await ctx["redis"].set(heartbeat_key(ctx["worker_id"]), now, ex=HEARTBEAT_TTL_SECONDS)


class WorkerSettings:
    functions: ClassVar[list[Any]] = []
    cron_jobs: ClassVar[list[Any]] = [
        cron(heartbeat, second={0, 15, 30, 45}, run_at_startup=False, unique=False)
    ]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = settings.queue_name
    redis_settings = RedisSettings.from_dsn(settings.redis_url or "redis://127.0.0.1:6379")
    job_serializer = serialize
    job_deserializer = deserialize
    handle_signals = True
    health_check_key = f"{settings.redis_prefix}:worker:health-check"
    health_check_interval = 20
