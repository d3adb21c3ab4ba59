"""`make run` as a black box, for the fault tests (tests/test_devstack_recovery.py) and
bench/recovery.py: the whole system on embedded servers in a data directory of its own, a
registration load, a SIGKILL, and the time until everything works again.

- `DevStack`: `python -m services.devstack run` with its own data directory and port (never the
  servers named by DATABASE_URL / REDIS_URL), and the pids of what it runs.
- `RegistrationLoad`: one client registering complaints back to back, each with its own
  Idempotency-Key, retrying that key until it is answered 2xx — what a telephony integration does.
- `kill_under_load`: SIGKILL one part under that load, measure the time to healthy, then count
  what the integration can list: every acknowledged registration must be there exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.factories import complaint_body
from tests.support.live import free_port

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "first-admin-password"
TARGETS = ("worker", "api", "postgres", "redis")


class DevStack:
    """`python -m services.devstack run` on embedded servers in `data_dir`, logging to a file
    (a pipe nobody reads would fill up and stall it)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-devstack.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            {
                "KESU_DATA_DIR": str(self.data_dir),
                "PORT": str(self.port),
                "KESU_ADMIN_USERNAME": ADMIN_USERNAME,
                "KESU_ADMIN_PASSWORD": ADMIN_PASSWORD,
            }
        )
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.devstack", "run"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self._everything_up():
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"devstack exited with {code}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"devstack not up within {timeout}s: {self.log_tail()}")
            time.sleep(0.2)

    def _everything_up(self) -> bool:
        try:
            ready = readyz(self.base)
        except httpx.HTTPError:
            return False
        return ready.get("status") == "ready" and ready["worker"]["state"] == "ok"

    def stop(self, signum: int = signal.SIGINT, timeout: float = 90) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self) -> str:
        """The end of the log, without the access log, for failure messages."""
        lines = [line for line in self.log().splitlines() if "kesu.access" not in line]
        return "\n".join(lines[-60:])

    def pid(self, target: str) -> int:
        """The pid of the worker, the API, the postmaster or Redis, as running now."""
        if target == "postgres":
            return int((self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        fragment = {
            "worker": "services.sla_worker",
            "api": "uvicorn",
            "redis": "redis-server",
        }[target]
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if fragment in " ".join(child.cmdline()) and child.status() != "zombie":
                    pid: int = child.pid
                    return pid
            except psutil.Error:
                continue
        raise LookupError(f"no {target} process under the devstack")

    def processes_left(self) -> list[psutil.Process]:
        """Processes still working on this data directory (embedded servers, orphans)."""
        left = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                cmdline = " ".join(proc.info["cmdline"] or [])
                cwd = proc.cwd() if proc.info["cmdline"] else ""
            except psutil.Error:
                continue
            if str(self.data_dir) in cmdline or cwd.startswith(str(self.data_dir)):
                left.append(proc)
        return left

    def integration_headers(self) -> dict[str, str]:
        """A fresh integration key that may register and list what it registered."""
        signed = httpx.post(
            f"{self.base}/api/v1/auth/token",
            data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
            timeout=30,
        )
        signed.raise_for_status()
        admin = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        created = httpx.post(
            f"{self.base}/api/v1/api-keys",
            headers=admin,
            json={
                "name": f"呼叫中心-{uuid.uuid4().hex[:6]}",
                "scopes": ["complaints:create", "complaints:read"],
                "rate_limit_per_minute": 100_000,
            },
            timeout=30,
        )
        created.raise_for_status()
        return {"X-API-Key": created.json()["key"]}


def readyz(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/readyz", timeout=3).json()
    return body


@dataclass
class RegistrationLoad:
    """Registers complaints one after another; each Idempotency-Key is retried (transport
    errors, 5xx, 429) until a 2xx answer acknowledges it. Then the next key."""

    base: str
    headers: dict[str, str]
    pause: float = 0.02
    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → id
    last_ack_at: datetime | None = None
    failed_attempts: int = 0
    refused: list[str] = field(default_factory=list)  # 4xx other than 429: a test bug
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RegistrationLoad:
        self._thread = threading.Thread(target=self._run, name="registration-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finishes the registration in hand (acknowledged, or retried until it is) first."""
        self._stopping.set()
        assert self._thread is not None
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "the load could not finish its last registration"

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=5) as client:
            while not self._stopping.is_set():
                self._register(client, f"load-{uuid.uuid4().hex}")
                time.sleep(self.pause)

    def _register(self, client: httpx.Client, key: str) -> None:
        body = complaint_body(channel="phone")
        while True:
            try:
                answer = client.post(
                    "/api/v1/complaints", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.is_success:
                self.acknowledged[key] = answer.json()["id"]
                self.last_ack_at = datetime.now(UTC)
                return
            if answer is not None and answer.status_code < 500 and answer.status_code != 429:
                self.refused.append(f"{answer.status_code} {answer.text[:300]}")
                return
            self.failed_attempts += 1
            time.sleep(0.1)


def listed_ids(base: str, headers: dict[str, str]) -> list[str]:
    """Every complaint the key may list (what it registered), page by page."""
    ids: list[str] = []
    params: dict[str, str | int] = {"limit": 200}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while True:
            page = client.get("/api/v1/complaints", params=params)
            page.raise_for_status()
            body = page.json()
            ids += [item["id"] for item in body["items"]]
            cursor = body.get("next_cursor")
            if not cursor:
                return ids
            params["cursor"] = cursor


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def time_to_healthy(stack: DevStack, load: RegistrationLoad, killed_at: datetime) -> float:
    """Seconds from the kill until everything worked again: /readyz ready, and after the last
    moment anything was seen broken, a registration acknowledged, a worker heartbeat and a
    finished deadline sweep (the worker does SLA work again, on PostgreSQL and Redis)."""
    broken_until = killed_at
    while True:
        now = datetime.now(UTC)
        try:
            ready = readyz(stack.base)
        except httpx.HTTPError:
            ready = {}
        if ready.get("status") != "ready":
            broken_until = now
        else:
            worker = ready["worker"]
            evidence = [
                load.last_ack_at,
                _at(worker.get("last_seen_at")),
                _at(worker.get("last_sweep_at")),
            ]
            if all(at is not None and at > broken_until for at in evidence):
                return (max(a for a in evidence if a is not None) - killed_at).total_seconds()
        time.sleep(0.1)


@dataclass
class Recovery:
    target: str
    seconds: float
    acknowledged: int
    listed: int
    lost: int  # acknowledged yet not listed
    duplicated: int  # listed beyond one complaint per acknowledged key
    failed_attempts: int
    refused: list[str]


def kill_under_load(
    stack: DevStack, target: str, *, before: float = 1.5, after: float = 1.0, limit: float = 90
) -> Recovery:
    """SIGKILL `target` while an integration registers, wait until healthy (at most `limit`
    seconds), let the load run `after` seconds more, then count through the list."""
    headers = stack.integration_headers()
    load = RegistrationLoad(stack.base, headers).start()
    try:
        time.sleep(before)
        os.kill(stack.pid(target), signal.SIGKILL)
        killed_at = datetime.now(UTC)
        result: list[float] = []
        waiter = threading.Thread(
            target=lambda: result.append(time_to_healthy(stack, load, killed_at)), daemon=True
        )
        waiter.start()
        waiter.join(timeout=limit)
        if not result:
            raise AssertionError(f"not healthy {limit}s after killing {target}:\n{stack.log()}")
        time.sleep(after)
    finally:
        load.stop()
    listed = listed_ids(stack.base, headers)
    acknowledged = set(load.acknowledged.values())
    return Recovery(
        target=target,
        seconds=round(result[0], 2),
        acknowledged=len(load.acknowledged),
        listed=len(listed),
        # Two keys answered with one complaint count as one lost.
        lost=len(acknowledged - set(listed)) + len(load.acknowledged) - len(acknowledged),
        # Every key the load sent was acknowledged: a complaint no answer named is a duplicate.
        duplicated=len(listed) - len(set(listed)) + len(set(listed) - acknowledged),
        failed_attempts=load.failed_attempts,
        refused=load.refused,
    )
