"""`python -m services.devstack run|api|worker|migrate`: what `make run` and friends execute.

- Without `DATABASE_URL` / `REDIS_URL` it starts the embedded PostgreSQL and Redis (data under
  `KESU_DATA_DIR`, default `.data/`, kept between runs) and passes their URLs to its children.
- It applies the migrations, then starts the API (uvicorn) and/or the SLA worker as child
  processes and keeps them up, with the embedded servers it started: whichever dies is started
  again (`services.devstack.supervisor`).
- Ctrl-C / SIGTERM stops everything it started, the servers last.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from services.devstack.embedded import EmbeddedPostgres, EmbeddedRedis, start_postgres, start_redis
from services.devstack.migrate import upgrade_head
from services.devstack.supervisor import ChildProcess, GaveUp, Supervisor, Unit, stop_children
from shared.config import Settings, get_settings

log = logging.getLogger("kesu.devstack")
COMMANDS = ("run", "api", "worker", "migrate", "cli")
CHECK_SECONDS = 0.2


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    if not argv or argv[0] not in COMMANDS or (argv[0] != "cli" and len(argv) != 1):
        print(
            f"usage: python -m services.devstack {{{'|'.join(COMMANDS)}}} "
            "(cli MODULE ARGS…: run `python -m MODULE ARGS…` against the same servers)",
            file=sys.stderr,
        )
        return 2
    command = argv[0]
    settings = get_settings()
    env = dict(os.environ)
    servers: list[EmbeddedPostgres | EmbeddedRedis] = []
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("received %s; stopping", signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children: list[ChildProcess] = []
    try:
        data_dir = settings.data_dir.resolve()
        if not settings.database_url:
            pg = start_postgres(data_dir / "postgres")
            servers.append(pg)
            env["DATABASE_URL"] = pg.url()
        if _local_mode(command, settings):
            # Only here may a secret be written to disk: deployments (compose) give every
            # process its secrets in the environment and run with a read-only /app.
            if settings.jwt_secret is None:
                env["KESU_JWT_SECRET"] = _local_jwt_secret(data_dir)
            if settings.local_sink_dir is None:
                env["KESU_LOCAL_SINK_DIR"] = str(data_dir / "sink")
        if not settings.redis_url and command not in ("migrate", "cli"):
            redis = start_redis(data_dir / "redis")
            servers.append(redis)
            env["REDIS_URL"] = redis.url()
        # Against an external database only `run` and `migrate` migrate: in a deployment the
        # one-shot migration job does it, never each API or worker replica.
        if command in ("run", "migrate", "cli") or not settings.database_url:
            upgrade_head(env["DATABASE_URL"])
        if command == "migrate":
            return 0
        if command == "cli":
            # A one-off command (create the first admin, load a calendar) on these servers.
            tool = subprocess.run([sys.executable, "-m", *argv[1:]], env=env, check=False)  # noqa: S603
            return tool.returncode
        if command in ("run", "api"):
            children.append(ChildProcess("API", _api_args(settings.host, settings.port), env))
            log.info("API on http://%s:%s (docs at /docs)", settings.host, settings.port)
        if command in ("run", "worker"):
            worker_args = [sys.executable, "-m", "services.sla_worker"]
            children.append(ChildProcess("SLA worker", worker_args, env))
        # A server another `make run` started is that one's to keep up.
        owned: list[Unit] = [server for server in servers if server.started_here]
        supervisor = Supervisor([*owned, *children])
        while not stopping:
            try:
                supervisor.check()
            except GaveUp as exc:
                log.error("%s; stopping everything", exc)
                return 1
            time.sleep(CHECK_SECONDS)
        return 0
    finally:
        stop_children(children)
        for server in reversed(servers):
            server.stop()


def _local_mode(command: str, settings: Settings) -> bool:
    """The embedded mode: `make run`, or any command on the embedded PostgreSQL. It keeps a
    signing secret in the data directory and sends customers' SMS and mail to the local sink
    when no gateway is configured (services/sla_worker/delivery/sink.py)."""
    return command == "run" or not settings.database_url


def _local_jwt_secret(data_dir: Path) -> str:
    """A signing secret kept in the data directory, so tokens survive restarts of `make run`.
    Deployments set KESU_JWT_SECRET themselves."""
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _api_args(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "services.intake_api.app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "20",
        # X-Forwarded-For is believed only from KESU_TRUSTED_PROXIES, by the app itself; uvicorn's
        # own handling would believe anyone on 127.0.0.1.
        "--no-proxy-headers",
        # A header-read timeout (slowloris): services/intake_api/http_protocol.py.
        "--http",
        "services.intake_api.http_protocol:HeaderTimeoutProtocol",
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
