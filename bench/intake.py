"""Intake API throughput and latency against a bare-asyncpg baseline on the same stack.

    .venv/bin/python bench/intake.py            # or: make bench

Starts (or reuses) PostgreSQL and Redis like the tests do (DATABASE_URL / REDIS_URL, else the
embedded servers under .data/), creates a fresh migrated database, and runs two uvicorn processes
on it (1 worker each, uvloop + httptools, uvicorn's access log off; the API's own JSON access
log stays on, as in production, into a log file):

- the API (`services.intake_api.app:create_app`), and
- the baseline (`bench/_baseline_app.py`): a raw ASGI endpoint inserting the same complaint row
  and event row in one transaction with bare asyncpg on a pool of the API's size, no validation;
  and, in the same process, the same-write baseline (`POST /same-write/complaints`): the very
  rows a registration writes (projection, event, audit entry, outbox rows, planned deadlines,
  idempotency keys), in one statement of data-modifying CTEs with bare asyncpg. Our POST
  throughput over it (`ratio_same_write_c16`) is the cost of our layers apart from the write's.

The API is called as an integration (`X-API-Key`, like a telephony bridge): the script has the
API bootstrap an admin, signs in and creates one key per measurement (100,000 requests/minute,
the most a key may have), so rate limiting runs on every request as in production but never
refuses one. The baseline has no authentication.

This process generates the load (closed loop, one keep-alive connection per worker, see
bench/_load.py): warm-up, then a fixed window per measurement, at concurrency 16 and 64.
`POST /api/v1/complaints` bodies are realistic Chinese complaints, each with a new phone number;
`GET /api/v1/complaints/{id}` reads the complaints created by the POST phase. Our POST throughput
is reported as a ratio of the baseline's. Target on our 2-core machines: ratio ≥ 0.5 and
p99 ≤ 50 ms at concurrency 16.

After the load, the rows written per registration (count per table and mean row size) are
compared between our API's complaints and the same-write baseline's: they must be the same rows,
or the same-write figures mean nothing (`same_write_rows_match`; exit 1 when they differ).

Other work on the machine skews the figures (noisy ±30 % on shared machines): every row shows
the CPU used by this client, the server, our database's PostgreSQL backends and everything else
("other"), and the server's CPU per request, which is steadier than requests/s.

Prints a table, then as its LAST line one JSON object with the figures. Exits 1 if any request
failed (non-2xx) or the same-write baseline wrote other rows: benchmark figures are never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import ctypes
import functools
import json
import logging
import os
import random
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import uvloop
from sqlalchemy.engine import make_url

from bench._baseline_app import connect_kwargs
from bench._load import LoadResult, build_request, http_load, machine_cpu_pct, wait_http_ready
from shared.config import Settings
from tests.support import servers as test_servers
from tests.support.factories import complaint_body

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
API_PREFIX = "/api/v1/complaints"
ADMIN_USERNAME = "bench-admin"
WRITER_SCOPES = ["complaints:create", "complaints:read", "pii:read"]  # a telephony bridge
READER_SCOPES = ["complaints:read:all", "pii:read"]  # a front-end reading every complaint
KEY_RATE_LIMIT = 100_000  # per minute, the most an API key may have
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
SAME_WRITE_PATH = "/same-write/complaints"  # the baseline writing what a registration writes


# --- PostgreSQL, Redis and a database of our own: as the tests get them ---------------------

servers = test_servers.servers
create_database = test_servers.create_database
drop_database = test_servers.drop_database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # Linux: the servers get SIGTERM if this script is killed, so none is left behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    database: str  # PostgreSQL backends show it in their process title

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_uvicorn(name: str, target: str, env: dict[str, str], log_dir: Path) -> Server:
    database = make_url(env["DATABASE_URL"]).database or ""
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if target.endswith("create_app"):
        args.insert(4, "--factory")
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    return Server(name, port, process, log_path, database)


@contextlib.contextmanager
def running(servers_: list[Server]) -> Iterator[list[Server]]:
    try:
        yield servers_
    finally:
        for server in servers_:
            server.stop()


# --- the measurements ------------------------------------------------------------------------


@dataclass
class Plan:
    warmup: float
    duration: float
    extras: bool


def _post_request(path: str, *, key: str | None = None, idempotent: bool = False) -> bytes:
    # complaint_body() gives every complaint a new phone number, serial and order number.
    body = orjson.dumps(complaint_body())
    headers = [("x-api-key", key)] if key else []
    if idempotent:
        headers.append(("idempotency-key", uuid.uuid4().hex))
    return build_request("POST", path, body=body, headers=headers)


def api_env(base: dict[str, str], database_url: str, redis_url: str) -> tuple[dict[str, str], str]:
    """The API's environment on our own database and Redis names, and the admin's password."""
    run = uuid.uuid4().hex[:8]
    password = secrets.token_urlsafe(24)
    env = {
        **base,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "KESU_REDIS_PREFIX": f"kesu-bench-{run}",
        "KESU_QUEUE_NAME": f"kesu-bench-{run}:queue",
        "KESU_JWT_SECRET": base.get("KESU_JWT_SECRET") or secrets.token_hex(32),
        "KESU_ADMIN_USERNAME": ADMIN_USERNAME,
        "KESU_ADMIN_PASSWORD": password,
        "KESU_CHEAP_PASSWORD_HASHING": "true",  # sign-in is not measured
        "PYTHONUNBUFFERED": "1",
    }
    return env, password


async def create_api_keys(port: int, password: str, scopes: dict[str, list[str]]) -> dict[str, str]:
    """Sign in as the bootstrapped admin and create one integration key per name."""
    keys = {}
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/token", data={"username": ADMIN_USERNAME, "password": password}
        )
        response.raise_for_status()
        admin = {"Authorization": f"Bearer {response.json()['access_token']}"}
        for name, key_scopes in scopes.items():
            response = await client.post(
                "/api/v1/api-keys",
                json={
                    "name": f"bench-{name}",
                    "scopes": key_scopes,
                    "rate_limit_per_minute": KEY_RATE_LIMIT,
                },
                headers=admin,
            )
            response.raise_for_status()
            keys[name] = response.json()["key"]
    return keys


def _choose(requests: list[bytes]) -> Any:
    if not requests:
        raise RuntimeError("no complaint was created, so there is nothing to GET")
    return functools.partial(random.choice, requests)


def _id_collector(ids: list[str]) -> Any:
    def on_response(_status: int, body: bytes) -> None:
        # Both servers answer {"id":"<uuid>",…}; fall back to parsing if that ever changes.
        if body.startswith(b'{"id":"'):
            ids.append(body[7:43].decode())
        else:
            ids.append(str(orjson.loads(body)["id"]))

    return on_response


async def measure(
    label: str,
    server: Server,
    make_request: Any,
    concurrency: int,
    plan: Plan,
    *,
    on_response: Any = None,
    warmup: float | None = None,
    duration: float | None = None,
) -> LoadResult:
    if server.process.poll() is not None:
        raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
    result = await http_load(
        HOST,
        server.port,
        make_request,
        concurrency=concurrency,
        duration=plan.duration if duration is None else duration,
        warmup=plan.warmup if warmup is None else warmup,
        on_response=on_response,
        watch={server.name: server.pid, "postgres": server.database},
    )
    print(result.row(label), flush=True)
    for sample in result.error_samples:
        print(f"    error: {sample}", flush=True)
    return result


async def run_all(
    api: Server, baseline: Server, plan: Plan, admin_password: str, database_url: str
) -> tuple[dict[str, LoadResult], float, dict[str, Written]]:
    await wait_http_ready(HOST, api.port, "/readyz", within=60)
    await wait_http_ready(HOST, baseline.port, "/healthz", within=60)
    keys = await create_api_keys(
        api.port,
        admin_password,
        {
            "post_c16": WRITER_SCOPES,
            "post_c64": WRITER_SCOPES,
            "post_idempotent": WRITER_SCOPES,
            "get_c16": READER_SCOPES,
            "get_c64": READER_SCOPES,
        },
    )
    results: dict[str, LoadResult] = {}
    background = await machine_cpu_pct(1.0)
    print(f"machine CPU before loading (other work): {background:.0f}% of one core", flush=True)
    api_ids: list[str] = []
    baseline_ids: list[str] = []
    same_write_ids: list[str] = []

    # The client's ceiling: a trivial endpoint (no database) on the same server stack.
    healthz = build_request("GET", "/healthz")
    results["healthz_c64"] = await measure(
        "baseline GET /healthz", baseline, lambda: healthz, 64, plan, warmup=1, duration=4
    )
    for c in (16, 64):
        results[f"baseline_post_c{c}"] = await measure(
            "baseline POST",
            baseline,
            lambda: _post_request("/complaints"),
            c,
            plan,
            on_response=_id_collector(baseline_ids),
        )
        if c == 16:
            results["baseline_same_write_c16"] = await measure(
                "baseline POST, same write",
                baseline,
                lambda: _post_request(SAME_WRITE_PATH),
                c,
                plan,
                on_response=_id_collector(same_write_ids),
            )
        key = keys[f"post_c{c}"]
        results[f"post_c{c}"] = await measure(
            "POST /api/v1/complaints",
            api,
            functools.partial(_post_request, API_PREFIX, key=key),
            c,
            plan,
            on_response=_id_collector(api_ids),
        )
    # Which rows each side wrote: sampled before the shuffle (ids in the order they were made).
    written = {
        "api": await rows_written(database_url, api_ids),
        "same_write": await rows_written(database_url, same_write_ids),
    }
    random.shuffle(api_ids)
    for c in (16, 64):
        headers = [("x-api-key", keys[f"get_c{c}"])]
        get_requests = [
            build_request("GET", f"{API_PREFIX}/{i}", headers=headers) for i in api_ids[:50_000]
        ]
        results[f"get_c{c}"] = await measure(
            "GET /api/v1/complaints/{id}",
            api,
            _choose(get_requests),
            c,
            plan,
        )
    if plan.extras:
        baseline_gets = [build_request("GET", f"/complaints/{i}") for i in baseline_ids[:50_000]]
        results["baseline_get_c16"] = await measure(
            "baseline GET", baseline, _choose(baseline_gets), 16, plan
        )
        results["baseline_fastapi_post_c16"] = await measure(
            "baseline POST via FastAPI",
            baseline,
            lambda: _post_request("/fastapi/complaints"),
            16,
            plan,
        )
        idempotent_ids: dict[str, list[str]] = {"api": [], "same_write": []}
        results["post_idempotent_c16"] = await measure(
            "POST with Idempotency-Key",
            api,
            lambda: _post_request(API_PREFIX, key=keys["post_idempotent"], idempotent=True),
            16,
            plan,
            on_response=_id_collector(idempotent_ids["api"]),
        )
        results["baseline_same_write_idempotent_c16"] = await measure(
            "baseline same write, Idem-Key",
            baseline,
            lambda: _post_request(SAME_WRITE_PATH, idempotent=True),
            16,
            plan,
            on_response=_id_collector(idempotent_ids["same_write"]),
        )
        for side, ids in idempotent_ids.items():
            written[f"{side}_idempotent"] = await rows_written(database_url, ids)
    return results, background, written


# --- what a registration wrote ---------------------------------------------------------------

# Per table: how many rows the given complaints have and their total size (pg_column_size of the
# whole row: close to what was stored, enough to see a column one side fills and the other not).
WRITTEN_TABLES = (
    "complaints",
    "complaint_events",
    "audit_events",
    "outbox",
    "deadlines",
    "idempotency_keys",
)
ROWS_WRITTEN = """
SELECT 'complaints' AS t, count(*) AS n, coalesce(sum(pg_column_size(x.*)), 0) AS bytes
FROM complaints AS x WHERE id = ANY($1::uuid[])
UNION ALL SELECT 'complaint_events', count(*), coalesce(sum(pg_column_size(x.*)), 0)
FROM complaint_events AS x WHERE complaint_id = ANY($1::uuid[])
UNION ALL SELECT 'audit_events', count(*), coalesce(sum(pg_column_size(x.*)), 0)
FROM audit_events AS x WHERE target_type = 'complaint' AND target_id = ANY($1::uuid[]::text[])
UNION ALL SELECT 'outbox', count(*), coalesce(sum(pg_column_size(x.*)), 0)
FROM outbox AS x WHERE complaint_id = ANY($1::uuid[])
UNION ALL SELECT 'deadlines', count(*), coalesce(sum(pg_column_size(x.*)), 0)
FROM deadlines AS x WHERE complaint_id = ANY($1::uuid[])
UNION ALL SELECT 'idempotency_keys', count(*), coalesce(sum(pg_column_size(x.*)), 0)
FROM idempotency_keys AS x WHERE complaint_id = ANY($1::uuid[])
"""
WRITTEN_SAMPLE = 200  # registrations compared per side
ROW_SIZE_TOLERANCE = 0.10  # mean row sizes may differ this much (labels, phone numbers, …)


@dataclass(frozen=True)
class Written:
    """Rows per registration, and their mean size in bytes, by table."""

    rows: dict[str, float]
    row_bytes: dict[str, float]


async def rows_written(database_url: str, ids: list[str]) -> Written:
    sample = [uuid.UUID(i) for i in ids[:WRITTEN_SAMPLE]]
    conn = await asyncpg.connect(**connect_kwargs(database_url))
    try:
        found = {r["t"]: (r["n"], r["bytes"]) for r in await conn.fetch(ROWS_WRITTEN, sample)}
    finally:
        await conn.close()
    per = max(len(sample), 1)
    return Written(
        rows={t: found[t][0] / per for t in WRITTEN_TABLES},
        row_bytes={t: found[t][1] / found[t][0] if found[t][0] else 0.0 for t in WRITTEN_TABLES},
    )


def same_rows(ours: Written, theirs: Written) -> bool:
    """The same rows per registration in every table, of about the same size."""
    return all(
        ours.rows[t] == theirs.rows[t]
        and abs(ours.row_bytes[t] - theirs.row_bytes[t])
        <= ROW_SIZE_TOLERANCE * max(ours.row_bytes[t], theirs.row_bytes[t])
        for t in WRITTEN_TABLES
    )


# --- report ----------------------------------------------------------------------------------


def server_cpu_ms(r: LoadResult) -> float:
    """CPU milliseconds the server process spent per request."""
    server = next(iter(r.process_cpu_pct.values()), 0.0)
    return server * 10 / r.rps if r.rps else 0.0


def other_cpu_pct(r: LoadResult) -> float:
    """CPU used by anything but the client, the server and our database's backends."""
    return max(0.0, r.machine_cpu_pct - r.client_cpu_pct - sum(r.process_cpu_pct.values()))


def summary(
    results: dict[str, LoadResult], plan: Plan, written: dict[str, Written]
) -> dict[str, Any]:
    def rps(key: str) -> int:
        return round(results[key].rps)

    def ms(value: float) -> float:
        return round(value, 1)

    out: dict[str, Any] = {
        "post_rps_c16": rps("post_c16"),
        "post_rps_c64": rps("post_c64"),
        "get_rps_c16": rps("get_c16"),
        "get_rps_c64": rps("get_c64"),
        "baseline_rps_c16": rps("baseline_post_c16"),
        "baseline_rps_c64": rps("baseline_post_c64"),
        "ratio_c16": round(results["post_c16"].rps / results["baseline_post_c16"].rps, 3),
        "ratio_c64": round(results["post_c64"].rps / results["baseline_post_c64"].rps, 3),
        "post_p50_ms_c16": ms(results["post_c16"].p50_ms),
        "post_p99_ms_c16": ms(results["post_c16"].p99_ms),
        "post_p50_ms_c64": ms(results["post_c64"].p50_ms),
        "post_p99_ms_c64": ms(results["post_c64"].p99_ms),
        "get_p50_ms_c16": ms(results["get_c16"].p50_ms),
        "get_p99_ms_c16": ms(results["get_c16"].p99_ms),
        "get_p99_ms_c64": ms(results["get_c64"].p99_ms),
        "baseline_p50_ms_c16": ms(results["baseline_post_c16"].p50_ms),
        "baseline_p99_ms_c16": ms(results["baseline_post_c16"].p99_ms),
        "baseline_p99_ms_c64": ms(results["baseline_post_c64"].p99_ms),
        "baseline_same_write_rps_c16": rps("baseline_same_write_c16"),
        "ratio_same_write_c16": round(
            results["post_c16"].rps / results["baseline_same_write_c16"].rps, 3
        ),
        "baseline_same_write_p50_ms_c16": ms(results["baseline_same_write_c16"].p50_ms),
        "baseline_same_write_p99_ms_c16": ms(results["baseline_same_write_c16"].p99_ms),
    }
    if plan.extras:
        out["baseline_get_rps_c16"] = rps("baseline_get_c16")
        out["get_ratio_c16"] = round(results["get_c16"].rps / results["baseline_get_c16"].rps, 3)
        out["baseline_fastapi_rps_c16"] = rps("baseline_fastapi_post_c16")
        out["post_rps_c16_idempotent"] = rps("post_idempotent_c16")
        out["post_p99_ms_c16_idempotent"] = ms(results["post_idempotent_c16"].p99_ms)
        out["baseline_same_write_rps_c16_idempotent"] = rps("baseline_same_write_idempotent_c16")
        out["ratio_same_write_c16_idempotent"] = round(
            results["post_idempotent_c16"].rps / results["baseline_same_write_idempotent_c16"].rps,
            3,
        )
    for key in (
        "post_c16",
        "baseline_post_c16",
        "baseline_same_write_c16",
        "get_c16",
        "baseline_get_c16",
    ):
        if key in results:
            out[f"{key.removesuffix('_c16')}_server_cpu_ms_c16"] = round(
                server_cpu_ms(results[key]), 2
            )
    out["healthz_rps_c64"] = rps("healthz_c64")  # the client's ceiling (a lower bound)
    out["client_cpu_pct_max"] = round(max(r.client_cpu_pct for r in results.values()))
    out["api_cpu_pct_post_c16"] = round(results["post_c16"].process_cpu_pct.get("api", 0.0))
    out["postgres_cpu_pct_post_c16"] = round(
        results["post_c16"].process_cpu_pct.get("postgres", 0.0)
    )
    out["machine_cpu_pct_post_c16"] = round(results["post_c16"].machine_cpu_pct)
    out["other_cpu_pct_max"] = round(max(other_cpu_pct(r) for r in results.values()))
    out["target_met"] = bool(
        out["ratio_c16"] >= TARGET_RATIO and out["post_p99_ms_c16"] <= TARGET_P99_MS
    )
    out["errors"] = sum(r.errors for r in results.values())
    out["rows_per_registration"] = {t: round(n, 2) for t, n in written["api"].rows.items()}
    out["same_write_rows_match"] = all(
        same_rows(written[side], written[f"same_write{suffix}"])
        for side, suffix in (("api", ""), ("api_idempotent", "_idempotent"))
        if side in written
    )
    out["cores"] = os.cpu_count()
    out["warmup_s"] = plan.warmup
    out["duration_s"] = plan.duration
    return out


def print_report(
    results: dict[str, LoadResult], figures: dict[str, Any], written: dict[str, Written]
) -> None:
    print()
    print(
        f"{'measurement':<26} {'conc':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'srv ms/req':>10} {'client':>6} {'server':>6} {'pg':>5} {'other':>5}"
    )
    for key, r in results.items():
        server_cpu, pg_cpu = [*r.process_cpu_pct.values(), 0.0, 0.0][:2]
        print(
            f"{key:<26} {r.concurrency:>4} {r.rps:>7.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} "
            f"{r.errors:>6} {server_cpu_ms(r):>10.2f} {r.client_cpu_pct:>5.0f}% "
            f"{server_cpu:>5.0f}% {pg_cpu:>4.0f}% {other_cpu_pct(r):>4.0f}%"
        )
    print(
        "(srv ms/req: server CPU per request. CPU columns in % of one core over each window: "
        "this client, the server, our database's PostgreSQL backends, everything else.)"
    )
    print()
    print(
        f"POST / baseline: {figures['ratio_c16']:.2f} at c16, {figures['ratio_c64']:.2f} at c64; "
        f"POST p99 at c16 {figures['post_p99_ms_c16']} ms. Target (ratio >= {TARGET_RATIO}, "
        f"p99 <= {TARGET_P99_MS:.0f} ms at c16): {'met' if figures['target_met'] else 'NOT met'}."
    )
    print(
        f"POST / same-write baseline (the very rows a registration writes, one statement): "
        f"{figures['ratio_same_write_c16']:.2f} at c16 — the cost of our layers beyond the "
        f"write's own."
    )
    print(
        f"Client: at most {figures['client_cpu_pct_max']}% of one core; /healthz on the same "
        f"stack reached {figures['healthz_rps_c64']} req/s (the client's floor of capacity). "
        f"Other work on the machine: up to {figures['other_cpu_pct_max']}% of one core."
    )
    print()
    sides = list(written)
    print(f"rows per registration (mean row bytes) {WRITTEN_SAMPLE} sampled: " + ", ".join(sides))
    for table in WRITTEN_TABLES:
        cells = [
            f"{written[s].rows[table]:>5.2f} ({written[s].row_bytes[table]:>5.0f})" for s in sides
        ]
        print(f"  {table:<18} " + "  ".join(f"{c:>14}" for c in cells))
    if not figures["same_write_rows_match"]:
        print("The same-write baseline did NOT write the rows a registration writes.")


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds (default 8)")
    parser.add_argument("--no-extras", action="store_true", help="only the required figures")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    args = parser.parse_args(argv)
    plan = Plan(warmup=args.warmup, duration=args.duration, extras=not args.no_extras)
    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C: servers stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")

    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="kesu-bench-"))
    with servers() as s:
        database_url = create_database(s.admin_url)
        try:
            env, admin_password = api_env(dict(os.environ), database_url, s.redis_url)
            api = start_uvicorn("api", "services.intake_api.app:create_app", env, log_dir)
            baseline = start_uvicorn("baseline", "bench._baseline_app:app", env, log_dir)
            print(
                f"pool size {Settings().db_pool_size}; api pid {api.pid} :{api.port}, "
                f"baseline pid {baseline.pid} :{baseline.port}; logs in {log_dir}",
                flush=True,
            )
            with running([api, baseline]):
                try:
                    results, background, written = uvloop.run(
                        run_all(api, baseline, plan, admin_password, database_url)
                    )
                except BaseException:
                    for server in (api, baseline):
                        print(f"--- {server.name} log:\n{server.log_tail()}", file=sys.stderr)
                    raise
        finally:
            drop_database(s.admin_url, database_url)
    if not args.keep_logs:
        for path in log_dir.iterdir():
            path.unlink()
        log_dir.rmdir()

    figures = summary(results, plan, written)
    figures["background_cpu_pct"] = round(background)
    figures["wall_s"] = round(time.monotonic() - started)
    print_report(results, figures, written)
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 1 if figures["errors"] or not figures["same_write_rows_match"] else 0


if __name__ == "__main__":
    sys.exit(main())
