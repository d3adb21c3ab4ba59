"""`make run`'s supervisor on a fresh data directory: embedded PostgreSQL and Redis, migrations,
the API and the worker come up; SIGINT stops all of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.support.factories import complaint_body
from tests.support.live import free_port, wait_until_up


def _processes_using(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(str(path) in part for part in cmdline):
            found.append(proc)
    return found


def test_run_starts_everything_and_stops_it_on_sigint(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "KESU_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "KESU_ADMIN_USERNAME": "admin",
            "KESU_ADMIN_PASSWORD": "first-admin-password",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "services.devstack", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/readyz", process, timeout=90)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        # The first admin (from the environment) signs in and makes a key for an integration.
        signed = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "admin", "password": "first-admin-password"},
        )
        admin = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        key = httpx.post(
            f"{base}/api/v1/api-keys",
            headers=admin,
            json={"name": "呼叫中心", "scopes": ["complaints:create"]},
        ).json()["key"]
        created = httpx.post(
            f"{base}/api/v1/complaints", json=complaint_body(), headers={"X-API-Key": key}
        )
        assert created.status_code == 201
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert (data_dir / "redis").is_dir()
        assert any(
            "services.sla_worker" in " ".join(p.cmdline())
            for p in psutil.Process(process.pid).children(recursive=True)
        )
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=90)[0].decode(errors="replace")
    assert process.returncode == 0, output[-3000:]
    assert "SLA worker" in output
    deadline = time.monotonic() + 10
    while _processes_using(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_using(data_dir), "embedded servers left running"
