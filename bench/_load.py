"""Load-generation helpers shared by the benchmarks: closed-loop workers, a raw HTTP/1.1 client.

- `run_workers(op, concurrency=…, duration=…, warmup=…)`: N concurrent workers call `op(worker)`
  back to back; calls that start after the warm-up and before its end are timed. Returns a
  `LoadResult` (requests/s, p50, p99, errors, client CPU and the CPU of any watched processes).
- `http_load(host, port, make_request, …)`: the same over one keep-alive HTTP/1.1 connection per
  worker. It writes pre-encoded requests and reads responses with plain asyncio streams, at a few
  microseconds of client CPU per request (httpx spends ~10× more), so the client stays far from
  being the bottleneck; `LoadResult.client_cpu_pct` shows it.

CPU figures come from /proc (Linux) and are in percent of ONE core (200 = two cores busy).
A watched process is a pid, a command-line fragment (every process matching it), or a `Tree`: a
process with all its descendants, those that exited during the window included (a server that
forks short-lived workers, such as PostgreSQL's postmaster).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

RequestFactory = Callable[[], bytes]
ResponseHook = Callable[[int, bytes], None]

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- CPU accounting ------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/PID/stat from its third field (state, ppid, …); None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # Fields after the command name (which may contain spaces) start after the last ')'.
    return stat[stat.rindex(b")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0.0 when it cannot be read)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, summed over all cores."""
    try:
        with open("/proc/stat", "rb") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return (0.0, 0.0)
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return ((total - idle) / _CLK_TCK, total / _CLK_TCK)


def pids_matching(fragment: str) -> list[int]:
    """Processes whose command line contains `fragment` (e.g. PostgreSQL backends show their
    database name in their process title)."""
    found = []
    needle = fragment.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))  # ppid
    return children


@dataclass(frozen=True)
class Tree:
    """A process and its descendants, counted whole: what each live one used (utime + stime)
    plus what its exited children used (cutime + cstime, added to the parent when it reaps
    them). The difference of two samples is then all the tree's CPU in between, short-lived
    children (PostgreSQL's backends of a connection opened and closed) included."""

    pid: int

    def cpu_seconds(self) -> float:
        children = _children_by_parent()
        total, stack = 0.0, [self.pid]
        while stack:
            pid = stack.pop()
            fields = _stat_fields(pid)
            if fields is None:
                continue
            total += sum(int(v) for v in fields[11:15]) / _CLK_TCK  # utime stime cutime cstime
            stack.extend(children.get(pid, ()))
        return total


# name → pid, a command-line fragment (all processes matching it), or a process tree
Watch = Mapping[str, int | str | Tree]


class WindowProbe(Protocol):
    """Anything else to read at the start and the end of the measurement window (e.g. a
    database's counters); it keeps what it read."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _CpuWindow:
    """CPU used by this process, some other processes and the machine between start and stop."""

    def __init__(self, watch: Watch) -> None:
        self.watch = dict(watch)
        self._t0 = 0.0
        self._client0 = 0.0
        self._procs0: dict[str, dict[int, float]] = {}
        self._machine0 = (0.0, 0.0)

    def _sample(self) -> dict[str, dict[int, float]]:
        out = {}
        for name, what in self.watch.items():
            if isinstance(what, Tree):
                out[name] = {what.pid: what.cpu_seconds()}
                continue
            pids = [what] if isinstance(what, int) else pids_matching(what)
            out[name] = {pid: process_cpu_seconds(pid) for pid in pids}
        return out

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._client0 = time.process_time()
        self._procs0 = self._sample()
        self._machine0 = machine_busy_seconds()

    def stop(self) -> tuple[float, dict[str, float], float]:
        wall = max(time.perf_counter() - self._t0, 1e-9)
        client = (time.process_time() - self._client0) / wall * 100
        procs = {}
        for name, now in self._sample().items():
            before = self._procs0.get(name, {})
            used = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())
            procs[name] = used / wall * 100
        busy1, total1 = machine_busy_seconds()
        busy = busy1 - self._machine0[0]
        total = total1 - self._machine0[1]
        cores = os.cpu_count() or 1
        machine = busy / total * 100 * cores if total > 0 else 0.0
        return client, procs, machine


async def machine_cpu_pct(seconds: float = 1.0) -> float:
    """How busy the whole machine is over `seconds` (% of one core): run it before loading, to
    see what else is using the CPU."""
    busy0, total0 = machine_busy_seconds()
    await asyncio.sleep(seconds)
    busy1, total1 = machine_busy_seconds()
    total = total1 - total0
    return (busy1 - busy0) / total * 100 * (os.cpu_count() or 1) if total > 0 else 0.0


# --- results ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of an already sorted list; 0.0 when empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class LoadResult:
    concurrency: int
    requests: int  # completed in the measurement window (errors included)
    errors: int  # failed calls (non-2xx, exceptions), warm-up included
    elapsed: float  # seconds of the measurement window
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_pct: float  # this (load-generating) process, % of one core
    process_cpu_pct: dict[str, float] = field(default_factory=dict)  # watched, % of one core
    machine_cpu_pct: float = 0.0  # all cores of the machine, % of one core
    statuses: Counter[int] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)

    def row(self, label: str) -> str:
        procs = " ".join(f"{k}={v:.0f}%" for k, v in self.process_cpu_pct.items())
        return (
            f"{label:<28} c={self.concurrency:<3} {self.rps:>7.0f} req/s  "
            f"p50 {self.p50_ms:>6.1f} ms  p99 {self.p99_ms:>6.1f} ms  err {self.errors:<3} "
            f"cpu: client={self.client_cpu_pct:.0f}% {procs} machine={self.machine_cpu_pct:.0f}%"
        )


# --- closed-loop workers ---------------------------------------------------------------------


async def run_workers(
    op: Callable[[int], Awaitable[bool]],
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    watch: Watch | None = None,
    probe: WindowProbe | None = None,
) -> LoadResult:
    """`concurrency` workers call `op(worker_index)` back to back for `warmup + duration` s.

    `op` returns True for success; False or an exception counts as an error. Only calls that
    start inside the measurement window are timed; errors are counted over the whole run.
    `watch` names processes (name → pid, command-line fragment or `Tree`) whose CPU use over
    the window is reported; `probe` is started and stopped with the window.
    """
    loop_time = time.perf_counter
    start = loop_time()
    measure_from = start + warmup
    end = measure_from + duration
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    cpu = _CpuWindow(watch or {})

    async def open_window() -> None:
        await asyncio.sleep(max(measure_from - loop_time(), 0))
        cpu.start()
        if probe is not None:
            await probe.start()

    async def worker(index: int) -> None:
        nonlocal errors
        record = latencies.append
        while True:
            t0 = loop_time()
            if t0 >= end:
                return
            try:
                ok = await op(index)
            except Exception as exc:
                ok = False
                if len(samples) < 5:
                    samples.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0)  # an op failing without awaiting must not starve others
            t1 = loop_time()
            if not ok:
                errors += 1
            if t0 >= measure_from:
                record(t1 - t0)

    window = asyncio.create_task(open_window())
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    await window
    client, procs, machine = cpu.stop()
    if probe is not None:
        await probe.stop()
    elapsed = max(loop_time() - measure_from, 1e-9)
    latencies.sort()
    return LoadResult(
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        elapsed=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p90_ms=percentile(latencies, 0.90) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] if latencies else 0.0) * 1000,
        client_cpu_pct=client,
        process_cpu_pct=procs,
        machine_cpu_pct=machine,
        error_samples=samples,
    )


# --- a minimal HTTP/1.1 keep-alive client ----------------------------------------------------


def build_request(
    method: str,
    path: str,
    *,
    host: str = "127.0.0.1",
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """One encoded HTTP/1.1 request (keep-alive is the HTTP/1.1 default)."""
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None:
        lines.append(f"content-type: {content_type}")
        lines.append(f"content-length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


class HttpConnection:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        try:
            writer.write(data)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                length = int(lower[i + 17 : lower.index(b"\r\n", i + 2)])
                body = await reader.readexactly(length) if length else b""
            elif b"\r\ntransfer-encoding: chunked" in lower:
                body = await self._read_chunked(reader)
            else:
                body = await reader.read()
                await self.close()
                return status, body
        except BaseException:
            await self.close()
            raise
        if b"\r\nconnection: close" in lower:
            await self.close()
        return status, body

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def http_load(
    host: str,
    port: int,
    make_request: RequestFactory,
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    on_response: ResponseHook | None = None,
    ok_statuses: frozenset[int] = frozenset(range(200, 300)),
    watch: Watch | None = None,
    probe: WindowProbe | None = None,
) -> LoadResult:
    """Closed-loop HTTP load: one keep-alive connection per worker, requests from `make_request`.

    `on_response(status, body)` sees every successful response (e.g. to collect created ids).
    """
    connections = [HttpConnection(host, port) for _ in range(concurrency)]
    statuses: Counter[int] = Counter()
    bad_samples: list[str] = []

    async def op(index: int) -> bool:
        status, body = await connections[index].request(make_request())
        statuses[status] += 1
        if status not in ok_statuses:
            if len(bad_samples) < 5:
                bad_samples.append(f"HTTP {status}: {body[:300]!r}")
            return False
        if on_response is not None:
            on_response(status, body)
        return True

    try:
        result = await run_workers(
            op,
            concurrency=concurrency,
            duration=duration,
            warmup=warmup,
            watch=watch,
            probe=probe,
        )
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    result.statuses = statuses
    result.error_samples = bad_samples + result.error_samples
    return result


async def wait_http_ready(host: str, port: int, path: str, *, within: float = 30.0) -> None:
    """Poll `GET path` until it answers 2xx; raise TimeoutError after `within` seconds."""
    deadline = time.monotonic() + within
    request = build_request("GET", path, host=host)
    last: object = None
    while time.monotonic() < deadline:
        conn = HttpConnection(host, port)
        try:
            status, body = await conn.request(request)
            if 200 <= status < 300:
                return
            last = f"HTTP {status}: {body[:200]!r}"
        except OSError as exc:
            last = exc
        except asyncio.IncompleteReadError as exc:
            last = exc
        finally:
            await conn.close()
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{host}:{port}{path} not ready after {within}s ({last})")
