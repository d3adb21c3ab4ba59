"""The SLA worker (arq on Redis). PostgreSQL decides what is owed; Redis only schedules jobs.

Run with `python -m services.sla_worker` (what `make worker` does); several may run at once.
Cron jobs carry no data and may run twice (arq #196, #343): each asks PostgreSQL what is due
and claims it with FOR UPDATE SKIP LOCKED, so duplicates find nothing left to do.

SIGTERM: arq stops taking jobs and waits up to `job_completion_wait` for the running ones (a
delivery run ends within its time budget plus one send timeout), then cancels them; a cancelled
run hands its unsent rows back (`services/sla_worker/delivery/batch.py`).

Settings are read when the process starts, never at import: `worker_settings(settings)` builds
arq's settings (`__main__` calls it) and puts the `Settings` in `ctx`, where `startup` finds them.

Liveness is per process, never through the shared queue (any worker could run a queued job):
each process writes its own heartbeat from a task of its own (what ops see), and arq records its
own health under a key naming the process (what `python -m services.sla_worker check` reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text

from services.sla_worker.delivery.message_deliveries import resume_waiting
from services.sla_worker.delivery.runtime import DeliveryRuntime, runtime_from_settings
from services.sla_worker.jobs.case_files import build_case_files
from services.sla_worker.jobs.deliveries import deliver_notifications
from services.sla_worker.jobs.housekeeping import housekeeping
from services.sla_worker.jobs.reports import produce_reports
from services.sla_worker.jobs.sweep import SweepRecord, sweep_deadlines
from services.sla_worker.logs import worker_logger
from services.sla_worker.serialization import deserialize, serialize
from shared.application import bootstrap
from shared.application.bootstrap import Collaborators
from shared.application.sweep import RUN_SECONDS as SWEEP_RUN_SECONDS
from shared.config import Settings
from shared.keys import (
    WORKER_HEARTBEAT_SECONDS,
    WORKER_HEARTBEAT_TTL_SECONDS,
    worker_heartbeat_key,
)
from shared.runtime import settle_garbage_collector

log = worker_logger("kesu.worker")

# One pool per worker process, every connection kept open: overflow connections were opened
# and closed by the dozen per second under load (a PostgreSQL process start and authentication
# each, bench/system.py). Claims, the sweep and housekeeping hold one connection each at most;
# sends settle one by one on short checkouts, and a settle waiting for a connection costs ~1 ms.
# Ten per worker keep several replicas (and the API) within PostgreSQL's max_connections.
WORKER_POOL_SIZE = 10
HEALTH_CHECK_SECONDS = 20
# A year's case file reads every closed case and its evidence: a long job, run rarely.
CASE_FILES_TIMEOUT = 4 * 3600

# Seconds of the minute the sweep and the delivery cron jobs fire on: every 2 s.
CRON_SECONDS = frozenset(range(0, 60, 2))
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
# hostname:pid. The host part is what `check` matches: in a container the container itself,
# where compose runs the check; the worker is a child of services.devstack there, so the
# check cannot know its pid, only whether a live process of its host reported.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def redis_settings_for(url: str | None) -> RedisSettings:
    """arq's connection, retrying commands across a Redis restart: without this, the first
    failed poll while Redis restarts ends the worker (arq's main loop does not catch it).
    About a minute of retries; PostgreSQL keeps what is owed meanwhile."""
    redis_settings = RedisSettings.from_dsn(url or DEFAULT_REDIS_URL)
    redis_settings.retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=40)
    redis_settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    redis_settings.conn_retries = 30
    return redis_settings


def health_check_key_for(prefix: str, worker_id: str) -> str:
    return f"{prefix}:worker:health-check:{worker_id}"


# The heartbeat task of this process, a module global rather than in ctx: after losing Redis
# arq may end without running `shutdown`, and the next start in this process stops the old task.
_beating: asyncio.Task[None] | None = None


async def startup(ctx: dict[str, Any]) -> None:
    """arq's `on_startup`: `ctx["settings"]` (put there by `worker_settings`) in, the process's
    collaborators out (`ctx["collab"]`, its database as `ctx["db"]`, the delivery runtime)."""
    global _beating
    settings: Settings = ctx["settings"]
    collab = bootstrap.build(settings, pool_size=WORKER_POOL_SIZE, max_overflow=0)
    ctx["collab"] = collab
    ctx["db"] = collab.db
    async with collab.db.connect() as conn:
        await conn.execute(text("SELECT 1"))
    ctx["worker_id"] = WORKER_ID
    ctx["started_at"] = datetime.now(UTC)
    ctx["sweeps"] = SweepRecord()
    ctx["deliveries"] = runtime_from_settings(settings, collab.db, ctx["worker_id"])
    # Gateways are configured when a worker starts: what waited for ours is owed again.
    await resume_waiting(ctx["deliveries"])
    log.info("SLA worker %s connected to PostgreSQL and Redis", ctx["worker_id"])
    await _stop_beating()
    await heartbeat(ctx)
    _beating = asyncio.create_task(_beat(ctx), name="heartbeat")
    settle_garbage_collector()


async def _beat(ctx: dict[str, Any]) -> None:
    while True:
        await asyncio.sleep(WORKER_HEARTBEAT_SECONDS)
        try:
            await heartbeat(ctx)
        except (RedisError, OSError) as exc:  # Redis restarting: the next beat will tell
            log.warning("heartbeat not written (%s)", type(exc).__name__)


async def _stop_beating() -> None:
    global _beating
    if _beating is not None:
        _beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _beating
        _beating = None


async def shutdown(ctx: dict[str, Any]) -> None:
    await _stop_beating()
    runtime: DeliveryRuntime | None = ctx.get("deliveries")
    if runtime is not None:
        await runtime.aclose()
    collab: Collaborators | None = ctx.get("collab")
    if collab is not None:
        await collab.aclose()
    redis = ctx.get("redis")
    if redis is not None and "worker_id" in ctx:
        prefix = ctx["settings"].redis_prefix
        await redis.delete(worker_heartbeat_key(prefix, ctx["worker_id"]))
    log.info("SLA worker stopped")


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Shows ops that this worker is alive (`shared.keys.worker_heartbeat_key`, with a TTL),
    when it last finished a sweep and what it has delivered since it started (read by
    `GET /readyz` and `GET /api/v1/ops/status`)."""
    runtime: DeliveryRuntime | None = ctx.get("deliveries")
    sweeps: SweepRecord | None = ctx.get("sweeps")
    last_sweep_at = sweeps.last_finished_at if sweeps else None
    value = {
        "at": datetime.now(UTC).isoformat(),
        "worker": ctx["worker_id"],
        "started_at": ctx["started_at"].isoformat() if "started_at" in ctx else None,
        "last_sweep_at": last_sweep_at.isoformat() if last_sweep_at else None,
        "last_delivery_run_at": (
            runtime.last_run_at.isoformat() if runtime and runtime.last_run_at else None
        ),
        "deliveries": dict(runtime.totals) if runtime else {},
    }
    key = worker_heartbeat_key(ctx["settings"].redis_prefix, ctx["worker_id"])
    await ctx["redis"].set(key, json.dumps(value), ex=WORKER_HEARTBEAT_TTL_SECONDS)


async def check_health(settings: Settings) -> int:
    """`python -m services.sla_worker check`: 0 when a live worker process of this host recorded
    its health within arq's interval, 1 otherwise. Workers of other hosts (replicas in other
    containers) do not count, nor the key a killed process of this host left behind."""
    host_key = health_check_key_for(settings.redis_prefix, socket.gethostname())
    pattern = _glob_escape(host_key) + ":*"
    client = Redis.from_url(
        settings.redis_url or DEFAULT_REDIS_URL, socket_timeout=5, socket_connect_timeout=5
    )
    try:
        async for key in client.scan_iter(match=pattern, count=100):
            pid = key.decode().rpartition(":")[2]
            if pid.isdigit() and _alive(int(pid)):
                log.info("healthy: %s", key.decode())
                return 0
    except (RedisError, OSError) as exc:
        log.warning("health check failed: Redis unreachable (%s)", type(exc).__name__)
        return 1
    finally:
        await client.aclose()
    log.warning("health check failed: no live worker of this host reported recently")
    return 1


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, run by another user
        return True
    return True


def worker_settings(settings: Settings) -> dict[str, Any]:
    """arq's settings for one worker of this deployment (`arq.worker.run_worker` takes a dict).
    Build them anew for each start: `ctx` is the dict `startup` fills."""
    # Finish the batch in hand on SIGTERM: one run's budget plus a send timeout. A sweep run
    # cancelled meanwhile rolls its batch back (one transaction): nothing half-done is left.
    completion_wait = settings.delivery_run_seconds + settings.webhook_timeout_seconds + 5
    return {
        "functions": [func(build_case_files, timeout=CASE_FILES_TIMEOUT, max_tries=1)],
        "cron_jobs": cron_jobs(settings),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "queue_name": settings.queue_name,
        "redis_settings": redis_settings_for(settings.redis_url),
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "handle_signals": True,
        "job_completion_wait": int(completion_wait),
        "health_check_key": health_check_key_for(settings.redis_prefix, WORKER_ID),
        "health_check_interval": HEALTH_CHECK_SECONDS,
    }


def cron_jobs(settings: Settings) -> list[CronJob]:
    return [
        # unique: one run per tick across workers (arq may still run two; harmless).
        # Hourly: purge old idempotency keys, prepare tomorrow's reference-number sequence.
        cron(
            housekeeping, minute={7}, second={17}, run_at_startup=True, unique=True, keep_result=0
        ),
        # The deadline sweep: at startup too, to catch up on what fell due while it was down.
        cron(
            sweep_deadlines,
            second=set(CRON_SECONDS),
            run_at_startup=True,
            unique=True,
            timeout=SWEEP_RUN_SECONDS + 60,
            max_tries=1,
            keep_result=0,
        ),
        cron(
            deliver_notifications,
            second=set(CRON_SECONDS),
            run_at_startup=True,
            unique=True,
            timeout=settings.delivery_run_seconds + 3 * settings.webhook_timeout_seconds + 30,
            max_tries=1,
            keep_result=0,
        ),
        # Scheduled reports: due at 09:00 on a working day, produced once per period.
        cron(
            produce_reports,
            minute=set(range(0, 60, 5)),
            second={31},
            run_at_startup=True,
            unique=True,
            timeout=600,
            max_tries=1,
            keep_result=0,
        ),
        # The year before's case file (案宗), early each January (02:40 UTC = 10:40 北京时间).
        cron(
            build_case_files,
            month={1},
            day={10},
            hour={2},
            minute={40},
            second={0},
            unique=True,
            timeout=CASE_FILES_TIMEOUT,
            max_tries=1,
            keep_result=0,
        ),
    ]
