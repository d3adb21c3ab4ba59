"""The session's app, clients, staff and `db` on a database of the importing module's own.

A module that runs deliveries imports these (`from tests.support.own_app import ...`): a delivery
run sends everything due in its database, and by a module's turn in a full run the shared one
holds the other tests' messages by the thousand (acknowledgements waiting for an SMS gateway,
undispatched webhook events), which fill the run's time budget and leave the module's own rows
for a later run. Module-scoped, on `own_url` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.intake_api.app import create_app
from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import FULL_INTEGRATION_SCOPES, Staff, make_settings, make_staff
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in
from tests.support.servers import Servers


@pytest.fixture(scope="module")
def settings(own_url: str, test_servers: Servers) -> Settings:
    return make_settings(own_url, test_servers.redis_url)


@pytest_asyncio.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="module")
async def anon(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
        yield c


@pytest_asyncio.fixture(scope="module")
async def admin_headers(anon: httpx.AsyncClient) -> dict[str, str]:
    return await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)


@pytest_asyncio.fixture(scope="module")
async def client(
    app: FastAPI, anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    integration = await create_key(anon, admin_headers, FULL_INTEGRATION_SCOPES)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://kesu.test", headers=integration.headers
    ) as c:
        yield c


@pytest.fixture(scope="module")
def db(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


@pytest_asyncio.fixture(scope="module")
async def staff(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Staff:
    return await make_staff(anon, admin_headers)


OWN_APP_FIXTURES = (settings, app, anon, admin_headers, client, db, staff)
