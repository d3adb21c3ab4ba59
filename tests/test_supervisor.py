"""The supervisor of `make run` on real (small) processes: a killed process is started again
after a pause, deaths in a row lengthen the pause, and a process that dies at every start makes
it give up instead of looping forever."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable

import pytest

from services.devstack.supervisor import ChildProcess, GaveUp, Supervisor, stop_children

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]


def _until(condition: Callable[[], bool], supervisor: Supervisor, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        supervisor.check()
        time.sleep(0.02)


def test_a_killed_process_is_started_again_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kesu.devstack")
    child = ChildProcess("sleeper", SLEEPER, dict(os.environ))
    supervisor = Supervisor([child], pauses=(0.1, 0.2))
    try:
        first = child.process.pid
        os.kill(first, signal.SIGKILL)
        _until(lambda: child.alive() and child.process.pid != first, supervisor)
        second = child.process.pid
        os.kill(second, signal.SIGKILL)  # again, soon after its start: a longer pause
        _until(lambda: child.alive() and child.process.pid != second, supervisor)
    finally:
        stop_children([child])
    assert not child.alive()
    messages = [r.getMessage() for r in caplog.records]
    assert f"sleeper (pid {first}) killed by SIGKILL; starting it again in 0.1s" in messages[0]
    assert f"sleeper started again (pid {second})" in messages[1]
    assert f"sleeper (pid {second}) killed by SIGKILL; starting it again in 0.2s" in messages[2]


def test_a_crash_loop_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    child = ChildProcess("crasher", CRASHER, dict(os.environ))
    supervisor = Supervisor([child], pauses=(0.05, 0.05, 0.05))
    with pytest.raises(GaveUp, match="crasher died 4 times in a row"):
        _until(lambda: False, supervisor)
    assert "exited with 3" in caplog.text


def test_a_process_up_long_enough_starts_from_the_shortest_pause_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    child = ChildProcess("sleeper", SLEEPER, dict(os.environ))
    supervisor = Supervisor([child], pauses=(0.05,), stable_seconds=0.5)
    try:
        for _ in range(3):  # one pause only, yet never gives up: each time it ran long enough
            time.sleep(0.6)
            supervisor.check()
            pid = child.process.pid
            os.kill(pid, signal.SIGKILL)
            _until(lambda: child.alive() and child.process.pid != pid, supervisor)  # noqa: B023
    finally:
        stop_children([child])
