"""Shared fixtures: real PostgreSQL and Redis (see tests/support/servers.py), the app, a client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from services.intake_api.app import create_app
from shared.config import Settings
from shared.db.engine import Database
from tests.support.servers import Servers, create_database, drop_database, servers


@pytest.fixture(scope="session")
def test_servers() -> Iterator[Servers]:
    with servers() as s:
        yield s


@pytest.fixture(scope="session")
def database_url(test_servers: Servers) -> Iterator[str]:
    url = create_database(test_servers.admin_url)
    yield url
    drop_database(test_servers.admin_url, url)


@pytest.fixture(scope="session")
def settings(database_url: str, test_servers: Servers) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(
        database_url=database_url,
        redis_url=test_servers.redis_url,
        queue_name=f"kesu-test-{run}:queue",
        redis_prefix=f"kesu-test-{run}",
        db_pool_size=10,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
        yield c


@pytest.fixture(scope="session")
async def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database
