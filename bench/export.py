"""The 台帐 export at a year of 100,000 complaints: rows per second and the API's memory.

    .venv/bin/python bench/export.py                 # 100,000 complaints over 12 months
    .venv/bin/python bench/export.py --n 20000       # a smaller corpus

Seeds (or reuses) the shared benchmark corpus (bench/corpus.py: realistic Chinese complaints in
a database of their own, `kesu_corpus_<n>_<seed>`, made once) on the server of `DATABASE_URL`
(else the embedded PostgreSQL), starts the API under uvicorn on it as a separate process, signs
in as the first admin and creates an integration key that reads everything with contact data
(`complaints:read:all`, `pii:read`: the widest export; `--masked`: without `pii:read`, so
every phone is masked), then downloads
`GET /api/v1/complaints/export` for the whole last year as CSV and as Excel, streaming.

For each format: seconds to the last byte, rows, rows/s, bytes, and the API process's resident
memory before the export and at its peak (VmHWM, reset before each export through
/proc/<pid>/clear_refs), so `rss_growth_mb` is what the export itself took, and the API
process's CPU seconds during it (`api_cpu_s`: less noisy than wall time on a busy machine;
PostgreSQL's work is not in it). `--days 30` exports a month of the same corpus: memory flat
means the same growth as for the year. Target: 100,000
rows in at most 10 s with memory flat (growth independent of the row count). Prints a line
per format, then as its LAST line one JSON object with the figures. Figures are never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import csv
import importlib
import io
import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from services.intake_api.auth.secrets import password_hasher

corpus = importlib.import_module("bench.corpus")
test_servers = importlib.import_module("tests.support.servers")

SEED = 2613  # a corpus of this benchmark's own (bench/search.py's uses 2026)
ADMIN = "bench-admin"
PASSWORD = secrets.token_urlsafe(16)  # this run's admin only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _status(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])  # kB
    return found


def _cpu_seconds(pid: int) -> float:
    """The process's CPU time so far, user and system, all threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int) -> None:
    """Resets VmHWM to the current RSS (Linux 4.0+: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _bench_admin(url: str) -> None:
    """This benchmark's admin in the corpus database (its staff have no usable passwords)."""
    now = datetime.now(UTC)
    hashed = password_hasher(cheap=True).hash(PASSWORD)
    conn = await asyncpg.connect(**test_servers._asyncpg_dsn(url))
    try:
        await conn.execute(
            "INSERT INTO users (id, username, display_name, role, department, password_hash, "
            "is_active, token_version, created_at, updated_at) "
            "VALUES ($1, $2, $2, 'admin', NULL, $3, true, 0, $4, $4) "
            "ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
            "role = 'admin', is_active = true",
            uuid.uuid4(),
            ADMIN,
            hashed,
            now,
        )
    finally:
        await conn.close()


def _start_api(url: str, redis_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "KESU_JWT_SECRET": secrets.token_hex(32),
        "KESU_REDIS_PREFIX": f"bench-export-{port}",
        "KESU_USER_RATE_LIMIT": "100000/minute",
        "KESU_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.intake_api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API exited")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the API did not start")


def _export(base: str, key: str, fmt: str, pid: int, days: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    params = {"format": fmt, "created_from": (now - timedelta(days=days)).isoformat()}
    before = _status(pid)["VmRSS"]
    _reset_peak(pid)
    cpu = _cpu_seconds(pid)
    started = time.perf_counter()
    size = 0
    body = bytearray() if fmt == "csv" else None  # kept in this (client) process only
    first_byte = None
    with httpx.stream(
        "GET",
        f"{base}/api/v1/complaints/export",
        params=params,
        headers={"X-API-Key": key},
        timeout=120,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            if body is not None:
                body += chunk
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(pid) - cpu
    peak = _status(pid)["VmHWM"]
    # CSV: records less the header; Excel: the same query's rows, counted from its CSV.
    rows = _records(bytes(body)) if body is not None else _csv_rows(base, key, params)
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "first_byte_s": round(first_byte or 0.0, 2),
        "rows_per_s": round(rows / seconds),
        "api_cpu_s": round(cpu, 2),
        "bytes": size,
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "rss_growth_mb": round((peak - before) / 1024, 1),
    }


def _records(body: bytes) -> int:
    """CSV records (a complaint's text may hold line breaks), less the header."""
    return sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig")))) - 1


def _csv_rows(base: str, key: str, params: dict[str, str]) -> int:
    answer = httpx.get(
        f"{base}/api/v1/complaints/export",
        params={**params, "format": "csv"},
        headers={"X-API-Key": key},
        timeout=120,
    )
    return _records(answer.content)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument(
        "--days", type=int, default=365, help="the period exported (memory flat: try 30)"
    )
    parser.add_argument(
        "--masked", action="store_true", help="a key without pii:read (phones masked)"
    )
    args = parser.parse_args()
    with test_servers.servers() as found:
        url = corpus.ensure_seeded(found.admin_url, args.n, months=12, seed=SEED)
        asyncio.run(_bench_admin(url))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        api = _start_api(url, found.redis_url, port)
        try:
            _wait_ready(base, api)
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}
            ).json()["access_token"]
            key = httpx.post(
                f"{base}/api/v1/api-keys",
                json={
                    "name": f"台帐导出-{port}",
                    "scopes": ["complaints:read:all"] + ([] if args.masked else ["pii:read"]),
                    "rate_limit_per_minute": 100000,
                },
                headers={"Authorization": f"Bearer {token}"},
            ).json()["key"]
            results = [_export(base, key, fmt, api.pid, args.days) for fmt in ("csv", "xlsx")]
        finally:
            api.terminate()
            api.wait(20)
    for r in results:
        print(
            f"{r['format']:>4}: {r['rows']:,} rows in {r['seconds']} s "
            f"({r['rows_per_s']:,}/s, API CPU {r['api_cpu_s']} s), {r['bytes'] / 1e6:.1f} MB, "
            "API RSS "
            f"{r['rss_before_mb']} → peak {r['rss_peak_mb']} MB (+{r['rss_growth_mb']})"
        )
    figures: dict[str, Any] = {
        "complaints_seeded": args.n,
        "days": args.days,
        "masked": args.masked,
    }
    for r in results:
        for k, v in r.items():
            if k != "format":
                figures[f"{r['format']}_{k}"] = v
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
