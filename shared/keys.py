"""Redis key formats that more than one process reads (the worker writes, the API reads).

Every key starts with the deployment's `Settings.redis_prefix`: several deployments (or test
runs) may share one Redis.
"""

from __future__ import annotations

# Each worker process writes its heartbeat this often, with this TTL: a killed worker's key
# lives on until the TTL ends, so readers call a heartbeat stale once it is older than
# WORKER_HEARTBEAT_STALE_SECONDS (a few beats missed), and the worker missing once none is left.
WORKER_HEARTBEAT_SECONDS = 2
WORKER_HEARTBEAT_TTL_SECONDS = 60
WORKER_HEARTBEAT_STALE_SECONDS = 10


def worker_heartbeat_key(prefix: str, worker_id: str) -> str:
    """Where worker `worker_id` (hostname:pid) writes its heartbeat, with a TTL; the API's ops
    status lists the live workers from these keys."""
    return f"{prefix}:worker:heartbeat:{worker_id}"


def worker_heartbeat_pattern(prefix: str) -> str:
    """The SCAN pattern matching every worker's heartbeat key."""
    return worker_heartbeat_key(prefix, "*")


def worker_of_heartbeat_key(prefix: str, key: str) -> str:
    """The worker id a heartbeat key names."""
    return key.removeprefix(worker_heartbeat_key(prefix, ""))
