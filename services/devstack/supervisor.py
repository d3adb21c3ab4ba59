"""Keeping `make run`'s processes up, as production's orchestrator would: the API, the SLA worker
and the embedded PostgreSQL and Redis each start again after they die, whatever killed them.

- A process that dies is started again after a pause that grows with each death in a row
  (`RESTART_PAUSES`: 0.5 s, then 1, 2, 4, 8 s); once it has run `STABLE_SECONDS` the next
  death starts from the shortest pause again. Every death and every start is logged.
- A process that keeps dying soon after each start (a crash loop: its port taken, a broken
  configuration) makes the supervisor give up after `len(RESTART_PAUSES)` tries (`GaveUp`):
  `make run` then stops everything with an error rather than run half a system.
- A restarted server restarts nothing else: the API and the worker reconnect by themselves (the
  engine replaces closed connections, redis-py and arq retry), and PostgreSQL keeps what is owed.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("kesu.devstack")

RESTART_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)
STABLE_SECONDS = 30.0
STOP_GRACE_SECONDS = 30


class Unit(Protocol):
    """Something the supervisor keeps up: a child process or an embedded server."""

    name: str

    def alive(self) -> bool: ...

    def pid(self) -> int | None: ...

    def exit_reason(self) -> str: ...

    def restart(self) -> None:
        """Start it again after it died; raises when it could not start."""


def describe_exit(returncode: int | None) -> str:
    """How a process ended, for the log: `exited with 1`, `killed by SIGKILL`."""
    if returncode is None:
        return "ended"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with {returncode}"


def _die_with_parent() -> None:
    # Linux: children get SIGTERM if the supervisor itself is killed, so nothing is orphaned.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own so that Ctrl-C reaches it once, from us, in order.
    return subprocess.Popen(  # noqa: S603
        args, env=env, start_new_session=True, preexec_fn=_die_with_parent
    )


class ChildProcess:
    """A process of ours (the API, the SLA worker), started at once."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self._args = args
        self._env = env
        self.process = _spawn(args, env)

    def alive(self) -> bool:
        return self.process.poll() is None

    def pid(self) -> int | None:
        return self.process.pid

    def exit_reason(self) -> str:
        return describe_exit(self.process.returncode)

    def restart(self) -> None:
        self.process = _spawn(self._args, self._env)


def stop_children(children: Sequence[ChildProcess]) -> None:
    """SIGTERM to all at once, then wait for each (SIGKILL past the grace period)."""
    processes = [child.process for child in children]
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning("pid %s did not stop in %ss; killing it", process.pid, STOP_GRACE_SECONDS)
            process.kill()
            process.wait()


class GaveUp(RuntimeError):
    """A unit kept dying right after each start."""


@dataclass
class _Watch:
    unit: Unit
    pid: int | None
    started_at: float
    deaths: int = 0  # in a row, each within STABLE_SECONDS of its start
    restart_at: float | None = None  # set while it is down


class Supervisor:
    """Call `check()` every fraction of a second: it notices deaths and restarts when due. It
    never blocks except while a unit starts (PostgreSQL: a second or two)."""

    def __init__(
        self,
        units: Sequence[Unit],
        *,
        pauses: Sequence[float] = RESTART_PAUSES,
        stable_seconds: float = STABLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pauses = pauses
        self._stable_seconds = stable_seconds
        self._clock = clock
        now = clock()
        self._watches = [_Watch(unit, unit.pid(), now) for unit in units]

    def check(self) -> None:
        for watch in self._watches:
            if watch.restart_at is None and not watch.unit.alive():
                self._died(watch, watch.unit.exit_reason())
            if watch.restart_at is not None and self._clock() >= watch.restart_at:
                self._restart(watch)

    def _died(self, watch: _Watch, reason: str) -> None:
        now = self._clock()
        if now - watch.started_at >= self._stable_seconds:
            watch.deaths = 0
        name = watch.unit.name
        if watch.deaths >= len(self._pauses):
            raise GaveUp(f"{name} died {watch.deaths + 1} times in a row soon after starting")
        pause = self._pauses[watch.deaths]
        watch.deaths += 1
        log.error(
            "%s (pid %s) %s; starting it again in %ss (restart %d in a row)",
            name,
            watch.pid,
            reason,
            pause,
            watch.deaths,
        )
        watch.restart_at = now + pause

    def _restart(self, watch: _Watch) -> None:
        watch.restart_at = None
        try:
            watch.unit.restart()
        except Exception as exc:
            watch.started_at = self._clock()
            watch.pid = None
            self._died(watch, f"did not start ({type(exc).__name__}: {exc})")
            return
        watch.started_at = self._clock()
        watch.pid = watch.unit.pid()
        log.info("%s started again (pid %s)", watch.unit.name, watch.pid)
