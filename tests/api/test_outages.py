"""Issue 15 points 3 and 5: PostgreSQL or Redis gone. Each test runs the API on servers of its
own (the embedded ones `make run` uses), stops them and starts them again; the machine's shared
servers are never touched.

- PostgreSQL down: 503 problem documents with Retry-After (it answered 500, with a traceback
  logged per request), one log line for the outage and one for its end, no restart needed.
- Redis down: security limits fall back to this process (30 wrong passwords got 30 × 401, then
  the right one got in); the per-user quota lets requests through.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pgserver.postgres_server import PostgresServer

from services.devstack.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    start_postgres,
    start_redis,
)
from services.devstack.migrate import upgrade_head
from services.intake_api.app import create_app
from services.intake_api.ratelimit import RETRY_REDIS_AFTER
from shared.config import Settings
from tests.conftest import make_settings
from tests.support.factories import complaint_body
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in

PROBLEM = "application/problem+json"


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Short: the servers' unix sockets live here (a socket path has ~107 bytes at most).
    root = Path(tempfile.mkdtemp(prefix="kesu-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_postgres(scratch: Path) -> Iterator[list[EmbeddedPostgres]]:
    """The running server is the list's last; a test that restarts it appends the new one."""
    servers = [start_postgres(scratch / "pg")]
    upgrade_head(servers[0].url())
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _restart_postgres(data_dir: Path) -> EmbeddedPostgres:
    # pgserver keeps a handle per data directory in the process and would hand back the one of
    # the server stopped above, as if it were still running.
    PostgresServer._instances.pop(data_dir.resolve(), None)
    return start_postgres(data_dir)


@pytest.fixture
def own_redis(scratch: Path) -> Iterator[list[EmbeddedRedis]]:
    servers = [start_redis(scratch / "redis")]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@asynccontextmanager
async def _serving(application: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            yield c


def _outage_lines(records: list[logging.LogRecord], what: str) -> list[str]:
    return [r.getMessage() for r in records if r.getMessage().startswith(what)]


async def test_a_database_outage_is_503_logged_once_and_recovered_from(
    own_postgres: list[EmbeddedPostgres],
    scratch: Path,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    application = create_app(make_settings(own_postgres[0].url(), settings.require_redis_url()))
    async with _serving(application) as c:
        admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)
        key = await create_key(c, admin, ["complaints:create", "complaints:read"])
        assert (
            await c.post("/api/v1/complaints", json=complaint_body(), headers=key.headers)
        ).status_code == 201

        own_postgres[-1].stop()
        with caplog.at_level(logging.INFO):
            answers = []
            for _ in range(10):
                answers += [
                    await c.post("/api/v1/complaints", json=complaint_body(), headers=key.headers),
                    await c.get("/api/v1/complaints", headers=key.headers),
                    await c.get("/api/v1/audit-events", headers=admin),
                    await c.post(
                        "/api/v1/auth/token",
                        data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
                    ),
                    await c.post(
                        "/api/v1/public/status-lookup",
                        json={"reference": "KS-20260101-000001", "phone": "13912345678"},
                    ),
                ]
            ready = await c.get("/readyz")
        assert ready.status_code == 503
        for answer in answers:
            assert answer.status_code == 503, (answer.request.url, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            assert int(answer.headers["retry-after"]) >= 1
        assert len(_outage_lines(caplog.records, "PostgreSQL unreachable")) == 1
        assert not [r for r in caplog.records if r.exc_info or r.exc_text], "no tracebacks"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

        caplog.clear()
        own_postgres.append(_restart_postgres(scratch / "pg"))
        with caplog.at_level(logging.INFO):
            again = await c.post("/api/v1/complaints", json=complaint_body(), headers=key.headers)
            assert again.status_code == 201, again.text
            assert (await c.get("/api/v1/complaints", headers=key.headers)).status_code == 200
            assert (await c.get("/readyz")).status_code == 200
        assert len(_outage_lines(caplog.records, "PostgreSQL reachable again")) == 1


async def test_a_redis_outage_keeps_the_security_limits(
    own_redis: list[EmbeddedRedis],
    scratch: Path,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    strict = make_settings(
        database_url, own_redis[0].url(), login_failure_ip_limit="3/day", user_rate_limit="3/day"
    )
    application = create_app(strict)
    async with _serving(application) as c:
        admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)  # a success: not counted
        own_redis[-1].stop()
        with caplog.at_level(logging.INFO):
            wrong = {"username": ADMIN_USERNAME, "password": "wrong-password-1"}
            tries = [await c.post("/api/v1/auth/token", data=wrong) for _ in range(3)]
            assert [t.status_code for t in tries] == [401, 401, 401]
            right = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
            refused = await c.post("/api/v1/auth/token", data=right)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) >= 1
            # The general quota (3 a day here) is not enforced meanwhile: requests go through.
            me = [(await c.get("/api/v1/me", headers=admin)).status_code for _ in range(5)]
            assert me == [200] * 5
        assert len(_outage_lines(caplog.records, "Redis unreachable")) == 1
        assert not [r for r in caplog.records if r.exc_info or r.exc_text]

        caplog.clear()
        own_redis.append(start_redis(scratch / "redis"))
        await asyncio.sleep(RETRY_REDIS_AFTER + 0.1)
        with caplog.at_level(logging.INFO):
            assert (await c.get("/api/v1/me", headers=admin)).status_code == 200
        assert len(_outage_lines(caplog.records, "Redis reachable again")) == 1
