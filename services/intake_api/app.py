"""The intake/query API: `create_app()` wires settings, the database, Redis and the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from services.intake_api import openapi, problems
from services.intake_api.complaints.router import router as complaints_router
from services.intake_api.middleware import AccessLogMiddleware, BodyLimitMiddleware
from services.intake_api.ops.router import router as ops_router
from services.intake_api.public.router import router as public_router
from shared.config import Settings, get_settings
from shared.db.engine import Database

DESCRIPTION = """
Kesu (客诉) registers customer complaints from every channel, gives each a reference number
(受理号), and lets front-ends, telephony integrations and ops follow them.

Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem documents
(`application/problem+json`). Times are shown in Asia/Shanghai (+08:00).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(
            settings.require_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        app.state.redis = aioredis.Redis.from_url(settings.require_redis_url())
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await app.state.db.dispose()

    app = FastAPIOffline(
        title="Kesu 客诉 API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    openapi.install(app)
    app.include_router(ops_router)
    app.include_router(complaints_router)
    app.include_router(public_router)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware)
    return app
