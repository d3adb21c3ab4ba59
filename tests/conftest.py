"""Shared fixtures: real PostgreSQL and Redis (see tests/support/servers.py), the app, clients
signed in as the different kinds of caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from services.intake_api.app import create_app
from shared.config import Settings
from shared.db.engine import Database
from tests.support.principals import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    Account,
    create_key,
    create_user,
    sign_in,
)
from tests.support.servers import Servers, create_database, drop_database, servers

if TYPE_CHECKING:
    from tests.support.desk import Desk

FULL_INTEGRATION_SCOPES = ["complaints:create", "complaints:read", "pii:read"]


@pytest.fixture(scope="session")
def test_servers() -> Iterator[Servers]:
    with servers() as s:
        yield s


@pytest.fixture(scope="session")
def database_url(test_servers: Servers) -> Iterator[str]:
    url = create_database(test_servers.admin_url)
    yield url
    drop_database(test_servers.admin_url, url)


@pytest.fixture(scope="module")
def own_url(test_servers: Servers) -> Iterator[str]:
    """A database of the requesting module's own, dropped after it: for modules whose workers
    handle everything due, or whose rule changes apply to every complaint, so that they neither
    see nor disturb the other tests' rows."""
    url = create_database(test_servers.admin_url)
    yield url
    drop_database(test_servers.admin_url, url)


@pytest_asyncio.fixture(scope="module")
async def desk(own_url: str, test_servers: Servers) -> AsyncIterator[Desk]:
    """The API on the module's own database, with a clock the test sets (tests.support.desk)."""
    from tests.support.desk import open_desk  # it builds on make_settings below

    async with open_desk(own_url, test_servers) as d:
        yield d


def make_settings(database_url: str, redis_url: str, **overrides: object) -> Settings:
    run = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "queue_name": f"kesu-test-{run}:queue",
        "redis_prefix": f"kesu-test-{run}",
        "db_pool_size": 20,
        # The session's tokens are signed once at the start; a loaded machine takes the suite past
        # the default 15 minutes, and every later test would meet an expired token.
        "access_token_minutes": 240,
        "jwt_secret": SecretStr(uuid.uuid4().hex * 2),
        "cheap_password_hashing": True,
        "admin_username": ADMIN_USERNAME,
        "admin_password": SecretStr(ADMIN_PASSWORD),
        "user_rate_limit": "100000/minute",
        "login_rate_limit": "1000/minute",
        "login_failure_ip_limit": "1000/minute",
        "unauthenticated_ip_limit": "100000/minute",
        "public_lookup_ip_limit": "1000/minute",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(database_url: str, test_servers: Servers) -> Settings:
    return make_settings(database_url, test_servers.redis_url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def anon(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials (customers, attackers)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
        yield c


@pytest.fixture(scope="session")
async def admin_headers(anon: httpx.AsyncClient) -> dict[str, str]:
    return await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)


@pytest.fixture(scope="session")
async def integration(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Account:
    """A telephony integration's key: creates and reads its own complaints, with contact data."""
    return await create_key(anon, admin_headers, FULL_INTEGRATION_SCOPES)


@pytest.fixture(scope="session")
async def client(app: FastAPI, integration: Account) -> AsyncIterator[httpx.AsyncClient]:
    """The default client: the integration above (most intake tests are telephony-like)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://kesu.test", headers=integration.headers
    ) as c:
        yield c


@pytest.fixture(scope="session")
async def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


class Staff:
    """One account per kind of staff principal (made once per test run, through the API)."""

    agent: Account
    agent2: Account
    handler_quality: Account
    handler_logistics: Account
    manager: Account
    director: Account
    auditor: Account
    subject: Account  # a manager who will be the staff member complained about (recusal)
    clerk: Account  # 事务文员: archives reviewed cases (seed 002 §3.2)
    director2: Account  # a second director: level-3 cases are reviewed by one who did not handle


@pytest.fixture(scope="session")
async def staff(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Staff:
    return await make_staff(anon, admin_headers)


async def make_staff(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Staff:
    """The `staff` team on the app behind `anon` (a module with a database of its own makes one)."""
    team = Staff()
    team.agent = await create_user(anon, admin_headers, role="agent", department="service")
    team.agent2 = await create_user(anon, admin_headers, role="agent", department="service")
    team.handler_quality = await create_user(
        anon, admin_headers, role="handler", department="quality"
    )
    team.handler_logistics = await create_user(
        anon, admin_headers, role="handler", department="logistics"
    )
    team.manager = await create_user(anon, admin_headers, role="manager")
    team.director = await create_user(anon, admin_headers, role="director")
    team.auditor = await create_user(anon, admin_headers, role="auditor")
    team.subject = await create_user(anon, admin_headers, role="manager")
    team.clerk = await create_user(anon, admin_headers, role="clerk")
    team.director2 = await create_user(anon, admin_headers, role="director")
    return team
