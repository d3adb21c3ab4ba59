"""`make run` survives what production survives: SIGKILL the SLA worker, the API, the embedded
PostgreSQL (its postmaster) or the embedded Redis while an integration registers complaints, and
the supervisor brings it back; nothing acknowledged is lost or registered twice. SIGTERM still
stops everything afterwards, the restarted servers included.

One `make run` (embedded servers in a temporary data directory, never the servers named by
DATABASE_URL / REDIS_URL) serves the whole module; the tests run in file order. The measured
times go to the report (`record_property`) and bench/recovery.py; the bound asserted here is
deliberately generous (the target, 10 s, is a figure to measure, not to assert on 2 busy cores).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.stack import DevStack, kill_under_load, readyz

HEALTHY_WITHIN_SECONDS = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    running = DevStack(tmp_path_factory.mktemp("recovery") / "data")
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        running.stop()


def _survives(stack: DevStack, target: str, record_property: Any) -> None:
    killed = stack.pid(target)
    recovery = kill_under_load(stack, target, limit=HEALTHY_WITHIN_SECONDS)
    record_property(f"recovery_s_{target}", recovery.seconds)
    print(f"\n{recovery}")
    assert stack.process is not None
    assert stack.process.poll() is None, stack.log_tail()  # `make run` itself never stopped
    assert stack.pid(target) != killed
    assert recovery.refused == []
    assert recovery.acknowledged > 0
    assert recovery.lost == 0, recovery
    assert recovery.duplicated == 0, recovery
    assert recovery.listed == recovery.acknowledged, recovery


def test_a_killed_worker_is_started_again(stack: DevStack, record_property: Any) -> None:
    _survives(stack, "worker", record_property)
    assert "SLA worker started again" in stack.log()


def test_a_killed_api_is_started_again(stack: DevStack, record_property: Any) -> None:
    _survives(stack, "api", record_property)


def test_a_killed_postgres_is_started_again(stack: DevStack, record_property: Any) -> None:
    _survives(stack, "postgres", record_property)


def test_a_killed_redis_is_started_again(stack: DevStack, record_property: Any) -> None:
    _survives(stack, "redis", record_property)


def test_sigterm_still_stops_everything_after_restarts(stack: DevStack) -> None:
    assert readyz(stack.base)["status"] == "ready"
    assert stack.stop(signal.SIGTERM) == 0, stack.log_tail()
    deadline = time.monotonic() + 10
    while stack.processes_left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not stack.processes_left(), "embedded servers left running"
    log = stack.log()
    # The servers stop last: after the API and the worker.
    servers_stopped = min(
        log.rindex("embedded PostgreSQL stopped"), log.rindex("embedded Redis stopped")
    )
    assert log.rindex("SLA worker stopped") < servers_stopped
    assert log.rindex("Finished server process") < servers_stopped
