"""The intake/query API: `create_app()` wires settings, the database, Redis and the routers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.intake_api import openapi, problems
from services.intake_api.admin.router import router as admin_router
from services.intake_api.assessment.router import router as assessment_router
from services.intake_api.audit.router import router as audit_router
from services.intake_api.auth.principals import Authenticator
from services.intake_api.auth.router import router as auth_router
from services.intake_api.auth.secrets import password_hasher, survey_token
from services.intake_api.auth.service import Passwords, ensure_admin
from services.intake_api.calendar.router import router as calendar_router
from services.intake_api.complaints.actions_router import router as actions_router
from services.intake_api.complaints.documents_router import router as documents_router
from services.intake_api.complaints.router import router as complaints_router
from services.intake_api.docs import lifecycle_markdown
from services.intake_api.docs import router as docs_router
from services.intake_api.evidence.router import router as evidence_router
from services.intake_api.h5.router import router as h5_router
from services.intake_api.middleware import (
    AccessLogMiddleware,
    AnsweredErrors,
    BodyLimitMiddleware,
    protect_logs,
)
from services.intake_api.notifications.router import router as notifications_router
from services.intake_api.ops.router import router as ops_router
from services.intake_api.problem_catalog import problem_types_markdown
from services.intake_api.public.router import router as public_router
from services.intake_api.ratelimit import RateLimiter
from services.intake_api.reports.router import router as reports_router
from services.intake_api.reports.schedule_router import runs_router, subscriptions_router
from services.intake_api.rules.router import router as rules_router
from services.intake_api.sink.router import router as sink_router
from services.intake_api.sla.router import router as sla_router
from services.intake_api.staff.router import router as staff_router
from shared.application import bootstrap
from shared.application.bootstrap import SurveyUrl
from shared.config import Settings, get_settings
from shared.db.engine import Database
from shared.runtime import settle_garbage_collector

DESCRIPTION = """
Kesu (客诉) registers customer complaints from every channel, gives each a reference number
(受理号), and lets front-ends, telephony integrations and ops follow them.

**Signing in.** Staff: the *Authorize* button (OAuth2 password flow) or
`POST /api/v1/auth/token`; send `Authorization: Bearer <access_token>`. Integrations: an API key
created by an admin, sent as `X-API-Key`. Customers: only `POST /api/v1/public/status-lookup`.

Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem documents
(`application/problem+json`) with a stable `code` (the `type` is `/problems/<code>`); `title`
and `detail` are in Chinese when the request sends `Accept-Language: zh-CN` (or `zh`), in
English otherwise. Times are shown in Asia/Shanghai (+08:00). Lists answer
`{items, next_cursor}` (pass `cursor=<next_cursor>` for the next page; `count=true` adds
`total`).

**Problem types**

{problem_types}
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    protect_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        collab = bootstrap.build(settings, survey_url=_survey_links(settings), with_redis=True)
        db, redis = collab.db, collab.redis
        assert redis is not None
        # Shortcuts to the collaborators, and what only the API needs besides them.
        app.state.collab = collab
        app.state.db = db
        app.state.redis = redis
        app.state.limiter = RateLimiter(redis.connection_pool, prefix=settings.redis_prefix)
        app.state.authenticator = Authenticator(db, jwt_secret=settings.require_jwt_secret())
        app.state.passwords = Passwords(password_hasher(cheap=settings.cheap_password_hashing))
        try:
            await _bootstrap_admin(settings, db, app.state.passwords)
            await collab.require_storage().prepare()
            settle_garbage_collector()
            yield
        finally:
            await collab.aclose()

    app = FastAPIOffline(
        title="Kesu 客诉 API",
        version="0.1.0",
        description=DESCRIPTION.replace("{problem_types}", problem_types_markdown()),
        lifespan=lifespan,
        openapi_tags=openapi.tags(lifecycle_markdown()),
        generate_unique_id_function=openapi.operation_id,
        redoc_url=None,  # served by docs.py, with nothing fetched from outside
        # FastAPI's built-in OpenTelemetry hooks cost a check per request; none is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    problems.install(app)
    openapi.install(app)
    app.include_router(ops_router)
    app.include_router(docs_router)  # the lifecycle diagram page and its script
    app.include_router(auth_router)
    app.include_router(documents_router)  # before `/{complaint_id}`: `/export` is no id
    app.include_router(complaints_router)
    app.include_router(actions_router)
    app.include_router(staff_router)
    app.include_router(evidence_router)
    app.include_router(public_router)
    app.include_router(h5_router)  # the customers' pages: status lookup, survey
    app.include_router(sink_router)  # make run's local sink (404 anywhere else)
    app.include_router(admin_router)
    app.include_router(audit_router)
    app.include_router(notifications_router)
    app.include_router(calendar_router)
    app.include_router(sla_router)
    app.include_router(rules_router)
    app.include_router(runs_router)  # before /reports/{…}: its paths are more specific
    app.include_router(reports_router)
    app.include_router(subscriptions_router)
    app.include_router(assessment_router)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        upload_limit=settings.upload_max_bytes + settings.upload_overhead_bytes,
    )
    app.add_middleware(AccessLogMiddleware)
    if proxies := settings.trusted_proxy_list():
        # Outermost: everything inside (limits, audit, logs) sees the client the proxy names.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: AnsweredErrors(build_stack())  # type: ignore[method-assign]
    return app


async def _bootstrap_admin(settings: Settings, db: Database, passwords: Passwords) -> None:
    """KESU_ADMIN_USERNAME / KESU_ADMIN_PASSWORD: create the first admin if there is none."""
    if not (settings.admin_username and settings.admin_password):
        return
    created = await ensure_admin(
        db,
        passwords,
        username=settings.admin_username,
        password=settings.admin_password.get_secret_value(),
        now=datetime.now(UTC),
    )
    if created:
        logging.getLogger("kesu.api").info("created the first admin %r", settings.admin_username)


def _survey_links(settings: Settings) -> SurveyUrl:
    """Survey links customers open: signed with the service's secret, on the public site."""
    secret = settings.require_jwt_secret()
    base = settings.public_base().rstrip("/")

    def survey_url(complaint_id: uuid.UUID, nonce: str) -> str:
        return f"{base}/survey?token={survey_token(secret, complaint_id, nonce)}"

    return survey_url
