"""Request dependencies: the database, the clock, the caller, the complaint in the path.

Every dependency is `async def`, even those that do no I/O: FastAPI runs plain `def`
dependencies in a thread pool, a hand-off that cost more than the rest of a request's
dependency work (measured by bench/intake.py's profile)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from services.intake_api.auth.principals import Authenticator
from services.intake_api.auth.secrets import InvalidCredentials
from services.intake_api.complaints.service import get_visible
from services.intake_api.ratelimit import RateLimiter
from shared.application.bootstrap import Collaborators
from shared.config import Settings
from shared.db.audit import AuditContext
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.complaint import ActorKind
from shared.domain.enums import Role
from shared.domain.errors import Forbidden, NotFound, Unauthenticated


async def get_collab(request: Request) -> Collaborators:
    """The process's collaborators (shared.application.bootstrap), built by the lifespan."""
    collab: Collaborators = request.app.state.collab
    return collab


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.collab.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def get_now() -> datetime:
    """The request's clock (overridden in tests); the domain itself never reads the clock."""
    return datetime.now(UTC)


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def require_json(request: Request) -> None:
    """JSON endpoints refuse other media types with 415 instead of failing to parse them."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if not has_body:
        return
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, detail="Send the body as application/json (UTF-8).")


async def complaint_id_path(complaint_id: str) -> uuid.UUID:
    """A malformed id names no complaint: 404, like an unknown one."""
    try:
        return uuid.UUID(complaint_id)
    except ValueError:
        raise NotFound("no such complaint") from None


bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Staff: sign in with username and password (the Authorize button).",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Integrations (telephony, web forms, regulator bridges): the key shown once.",
)


NO_CREDENTIALS = "Sign in (Bearer token) or send an integration key (X-API-Key)."


async def current_principal(
    request: Request,
    token: Annotated[str | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The authenticated caller, counted against its rate limit."""
    state = request.app.state
    authenticator: Authenticator = state.authenticator
    settings: Settings = state.settings
    limiter: RateLimiter = state.limiter
    try:
        if api_key:
            principal, per_minute = await authenticator.from_api_key(api_key)
            limit = f"{per_minute}/minute"
        elif token:
            principal = await authenticator.from_bearer(token)
            limit = settings.user_rate_limit
        else:
            raise await _refused(request, NO_CREDENTIALS)
    except InvalidCredentials:
        raise await _refused(request, "The token or key is invalid, expired or revoked.") from None
    request.state.principal = principal
    request.scope.setdefault("state", {})["principal_label"] = principal.label
    await limiter.quota(limit, principal.kind, principal.id)
    return principal


async def _refused(request: Request, detail: str) -> Unauthenticated:
    """A failed authentication, counted per client address: each 401 writes an audit row, so
    past `unauthenticated_ip_limit` the address gets 429 (not audited) instead. Failures only:
    authenticated requests never come here."""
    state = request.app.state
    limiter: RateLimiter = state.limiter
    settings: Settings = state.settings
    await limiter.hit(
        settings.unauthenticated_ip_limit,
        "unauthenticated",
        await client_ip(request),
        what="requests without valid credentials",
    )
    return Unauthenticated(detail)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def staff(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting signed-in staff of the given roles (403 for anyone else)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.kind is not ActorKind.USER or principal.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise Forbidden(f"Only these roles may do this: {allowed}.")
        return principal

    return dependency


AdminPrincipal = Annotated[Principal, Depends(staff(Role.ADMIN))]
AuditReader = Annotated[Principal, Depends(staff(Role.AUDITOR, Role.ADMIN))]

DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
NowDep = Annotated[datetime, Depends(get_now)]
ClientIpDep = Annotated[str, Depends(client_ip)]
ComplaintIdDep = Annotated[uuid.UUID, Depends(complaint_id_path)]


async def audit_context(principal: CurrentPrincipal, request: Request, now: NowDep) -> AuditContext:
    """Who acts, from where, and when: what every audit entry of this request shares. The
    address is read here, not through a dependency of its own: each dependency costs FastAPI
    tens of microseconds per request, and this one runs on every audited call."""
    return AuditContext.of(principal, client_ip=await client_ip(request), now=now)


AuditDep = Annotated[AuditContext, Depends(audit_context)]


CollabDep = Annotated[Collaborators, Depends(get_collab)]


async def visible_complaint(
    collab: CollabDep, principal: CurrentPrincipal, complaint_id: ComplaintIdDep
) -> dict[str, Any]:
    """The complaint named in the path, if the caller may read it: 404 otherwise (unknown, or
    hidden from this caller: existence is not revealed)."""
    return await get_visible(collab, principal, complaint_id)


# The complaint in the path, loaded and checked once (a projection row).
ComplaintDep = Annotated[dict[str, Any], Depends(visible_complaint)]
