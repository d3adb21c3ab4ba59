"""`python -m services.sla_worker check` (the container health check) against real worker
processes and a real Redis: healthy only while a live worker process of this host reports;
a replica on another host, or the key a killed worker left behind, does not count."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import redis

from shared.config import Settings
from tests.conftest import make_settings
from tests.worker.test_deliveries_receivers import Receiver
from tests.worker.test_deliveries_worker import ROOT, _start, _worker_env, _workers


def _check(env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "services.sla_worker", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


async def _wait_for_health_key(client: redis.Redis, prefix: str, pid: int) -> str:
    """Until arq in worker `pid` recorded its health (its first poll, after start-up)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        keys = [k.decode() for k in client.scan_iter(match=f"{prefix}:worker:health-check:*")]
        mine = [k for k in keys if k.endswith(f":{pid}")]
        if mine:
            return mine[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker {pid} recorded no health")


async def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "condition not met within a minute"
        await asyncio.sleep(0.5)


async def test_check_is_healthy_only_while_a_worker_of_this_host_lives(
    own_url: str, settings: Settings, receiver: Receiver
) -> None:
    env = _worker_env(make_settings(own_url, settings.require_redis_url()), receiver)
    prefix = env["KESU_REDIS_PREFIX"]
    client = redis.Redis.from_url(env["REDIS_URL"])
    try:
        assert await asyncio.to_thread(_check, env) == 1  # nobody reported yet
        # A replica in another container is healthy: that says nothing about this one.
        client.set(f"{prefix}:worker:health-check:another-host:{1}", b"ok", ex=60)
        assert await asyncio.to_thread(_check, env) == 1

        with _workers(env) as processes:
            worker = _start(env)
            processes.append(worker)
            key = await _wait_for_health_key(client, prefix, worker.pid)
            assert key == f"{prefix}:worker:health-check:{socket.gethostname()}:{worker.pid}"
            assert await asyncio.to_thread(_check, env) == 0

            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
            assert client.exists(key)  # left behind until its TTL runs out
            assert await asyncio.to_thread(_check, env) == 1

            second = _start(env)
            processes.append(second)
            await _wait_for_health_key(client, prefix, second.pid)
            assert await asyncio.to_thread(_check, env) == 0
            # Its heartbeat for ops (/ops/status) is refreshed by the process itself.
            beat = f"{prefix}:worker:heartbeat:{socket.gethostname()}:{second.pid}"
            first_beat = json.loads(client.get(beat) or b"{}")["at"]
            await _wait_until(lambda: json.loads(client.get(beat) or b"{}")["at"] != first_beat)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
            assert await asyncio.to_thread(_check, env) == 1
    finally:
        client.close()
