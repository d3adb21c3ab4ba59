"""The SLA workers as the API sees them: the heartbeats each worker process writes to Redis
(`shared.keys`), read by `GET /readyz` and `GET /api/v1/ops/status`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from shared.domain.reference import SHANGHAI
from shared.keys import (
    WORKER_HEARTBEAT_STALE_SECONDS,
    worker_heartbeat_pattern,
    worker_of_heartbeat_key,
)


async def heartbeats(client: aioredis.Redis, prefix: str) -> list[dict[str, Any]]:
    """Every heartbeat still in Redis (a killed worker's until its TTL ends), by worker id."""
    workers = []
    async for key in client.scan_iter(match=worker_heartbeat_pattern(prefix), count=1000):
        raw = await client.get(key)
        if raw is None:
            continue
        name = worker_of_heartbeat_key(prefix, key.decode())
        text = raw.decode()
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            workers.append({**value, "worker": name, "seen_at": value.get("at", "")})
        else:  # workers before revision 0004 stored the time only
            workers.append({"worker": name, "seen_at": text})
    return sorted(workers, key=lambda w: w["worker"])


def worker_state(beats: list[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    """`ok` while some worker beat within `WORKER_HEARTBEAT_STALE_SECONDS`; `stale` when the
    newest heartbeat is older (the worker hangs, or was just killed and no other took over);
    `missing` when none is left. `workers` counts the fresh ones; `last_sweep_at` is the newest
    finished deadline sweep any of them reported."""
    seen = [t for t in (_time(b.get("seen_at")) for b in beats) if t is not None]
    sweeps = [t for t in (_time(b.get("last_sweep_at")) for b in beats) if t is not None]
    if not seen:
        return {"state": "missing", "workers": 0, "last_seen_at": None, "last_sweep_at": None}
    fresh_since = now - timedelta(seconds=WORKER_HEARTBEAT_STALE_SECONDS)
    fresh = [t for t in seen if t >= fresh_since]
    return {
        "state": "ok" if fresh else "stale",
        "workers": len(fresh),
        "last_seen_at": _shown(max(seen)),
        "last_sweep_at": _shown(max(sweeps)) if sweeps else None,
    }


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _shown(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat()
