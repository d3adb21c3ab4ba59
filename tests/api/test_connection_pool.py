"""The API's PostgreSQL connections: opened once, then kept (issue 16, connection churn)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import event

from services.intake_api.app import create_app
from shared.config import Settings
from tests.conftest import FULL_INTEGRATION_SCOPES, make_settings
from tests.support.factories import complaint_body
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in

POOL_SIZE = 4


@pytest_asyncio.fixture(scope="module")
async def small_pool(settings: Settings) -> AsyncIterator[tuple[FastAPI, list[object]]]:
    """The API with a pool of POOL_SIZE and the default overflow, on the tests' database,
    counting every PostgreSQL connection its engine opens."""
    application = create_app(
        make_settings(
            settings.require_database_url(),
            settings.require_redis_url(),
            db_pool_size=POOL_SIZE,
            jwt_secret=settings.jwt_secret,
        )
    )
    opened: list[object] = []
    async with application.router.lifespan_context(application):
        engine = application.state.db.engine.sync_engine
        event.listen(engine, "connect", lambda dbapi_connection, _record: opened.append(1))
        yield application, opened


async def test_bursts_beyond_the_pool_open_no_connections_after_the_first(
    small_pool: tuple[FastAPI, list[object]],
) -> None:
    """Issue 16: registrations many more at once than the pool holds wait for a pooled
    connection; none is opened beyond the pool and closed again (each would cost PostgreSQL a
    process start and an authentication), so a second burst opens nothing."""
    application, opened = small_pool
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as anon:
        admin = await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)
        key = await create_key(anon, admin, FULL_INTEGRATION_SCOPES)

        async def burst() -> None:
            responses = await asyncio.gather(
                *(
                    anon.post("/api/v1/complaints", json=complaint_body(), headers=key.headers)
                    for _ in range(6 * POOL_SIZE)
                )
            )
            assert {r.status_code for r in responses} == {201}

        await burst()
        after_first = len(opened)
        await burst()
    assert after_first <= POOL_SIZE
    assert len(opened) == after_first
