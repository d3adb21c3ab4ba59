"""`/api/v1/auth` and `/api/v1/me`: OAuth2 password sign-in, refresh, sign-out."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Response
from pydantic import BaseModel, ConfigDict, Field

from services.intake_api.auth import service
from services.intake_api.auth.dependencies import PasswordsDep
from services.intake_api.deps import (
    AuditDep,
    ClientIpDep,
    CurrentPrincipal,
    DbDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    require_json,
)
from services.intake_api.problems import responses
from shared.db.audit import AuditContext
from shared.domain.access import Scope
from shared.domain.complaint import ActorKind
from shared.domain.enums import Role
from shared.domain.errors import Forbidden, Unauthenticated
from shared.domain.values import WorkContact

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Works once; POST it to /api/v1/auth/refresh")


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=10, max_length=200, examples=["krt_…"])


REFRESH_EXAMPLES = {
    "refresh": {
        "summary": "用上次登录得到的刷新令牌换取新令牌（每个刷新令牌只能用一次）",
        "value": {"refresh_token": "krt_3q2-7wKxExampleOnlyToken0000000000000000000"},
    }
}


class MeOut(BaseModel):
    kind: ActorKind
    id: str
    label: str = Field(description="Username, or the key's name")
    role: Role | None = None
    department: str | None = None
    scopes: list[Scope | str] = []


async def _anonymous_audit(ip: ClientIpDep, now: NowDep) -> AuditContext:
    """Sign-in and refresh have no principal yet: the caller is its address."""
    return AuditContext.of(None, client_ip=ip, now=now)


AnonymousAuditDep = Annotated[AuditContext, Depends(_anonymous_audit)]


SIGN_IN_EXAMPLES = {
    "staff": {
        "summary": "坐席用用户名和密码登录（表单字段，与文档页的 Authorize 按钮相同）",
        "value": {"username": "li.na", "password": "请换成一个长密码-2026"},
    }
}


@router.post(
    "/api/v1/auth/token",
    summary="Sign in with a username and password (OAuth2 password flow, form fields).",
    response_model=TokenOut,
    responses=responses(401, 422, 429),
    openapi_extra={
        "requestBody": {
            "content": {"application/x-www-form-urlencoded": {"examples": SIGN_IN_EXAMPLES}}
        }
    },
)
async def sign_in(
    db: DbDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
    ip: ClientIpDep,
    audit: AnonymousAuditDep,
    passwords: PasswordsDep,
    username: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")],
    password: Annotated[str, Form(min_length=1, max_length=256, pattern=r"^[^\x00]+$")],
    response: Response,
) -> TokenOut:
    """Form fields `username` and `password` (what the docs page's Authorize button sends).
    Every attempt, good or bad, is audited. Limited per client address and username, and
    failed attempts per client address whatever the username (password spraying): past that,
    even the right password gets 429 until the window ends."""
    failures = settings.login_failure_ip_limit
    await limiter.check(failures, "sign-in-failures", ip, what="failed sign-ins")
    await limiter.hit(settings.login_rate_limit, "sign-in", ip, username.lower(), what="sign-ins")
    try:
        pair = await service.sign_in(
            db, passwords, settings, username=username, password=password, audit=audit, now=now
        )
    except Unauthenticated:
        await limiter.hit(failures, "sign-in-failures", ip, what="failed sign-ins")
        raise
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(**pair.__dict__)


@router.post(
    "/api/v1/auth/refresh",
    summary="Exchange a refresh token for new tokens.",
    response_model=TokenOut,
    responses=responses(401, 415, 422, 429),
    dependencies=[Depends(require_json)],
)
async def refresh_tokens(
    db: DbDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
    ip: ClientIpDep,
    audit: AnonymousAuditDep,
    body: Annotated[RefreshIn, Body(openapi_examples=REFRESH_EXAMPLES)],
    response: Response,
) -> TokenOut:
    await limiter.hit(settings.login_rate_limit, "refresh", ip, what="refreshes")
    pair = await service.refresh(
        db, settings, refresh_token=body.refresh_token, audit=audit, now=now
    )
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(**pair.__dict__)


@router.post(
    "/api/v1/auth/sign-out",
    summary="Revoke a refresh token and the tokens rotated from it.",
    status_code=204,
    responses=responses(401, 415, 422, 429),
    dependencies=[Depends(require_json)],
)
async def sign_out(
    db: DbDep,
    now: NowDep,
    body: Annotated[RefreshIn, Body(openapi_examples=REFRESH_EXAMPLES)],
    _: CurrentPrincipal,
) -> None:
    await service.sign_out(db, refresh_token=body.refresh_token, now=now)


@router.get(
    "/api/v1/me",
    summary="Show who the caller is: kind, role, department and scopes.",
    response_model=MeOut,
    responses=responses(401, 429),
)
async def get_me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        kind=principal.kind,
        id=principal.id,
        label=principal.label,
        role=principal.role,
        department=principal.department,
        scopes=sorted(principal.scopes),
    )


class ContactPhoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_phone: WorkContact | None = Field(
        default=None,
        examples=["0571-8888 8888 转 123"],
        description="Your work line or extension, told to the customers of your cases "
        "(受理人联系方式, seed 002 §5.3.1.3); null removes it. Never your personal mobile.",
    )


CONTACT_EXAMPLES: dict[str, Any] = {
    "desk": {"summary": "座机转分机", "value": {"contact_phone": "0571-8888 8888 转 123"}},
    "remove": {"summary": "删除（客户将获知客服热线）", "value": {"contact_phone": None}},
}


@router.put(
    "/api/v1/me/contact-phone",
    summary="Set the work contact customers are given (受理人联系方式).",
    status_code=204,
    responses=responses(401, 403, 415, 422, 429),
    dependencies=[Depends(require_json)],
)
async def set_contact_phone(
    db: DbDep,
    principal: CurrentPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: Annotated[ContactPhoneIn, Body(openapi_examples=CONTACT_EXAMPLES)],
) -> None:
    if principal.kind is not ActorKind.USER:
        raise Forbidden("only a staff account has a work contact")
    await service.set_contact_phone(
        db, uuid.UUID(principal.id), body.contact_phone, audit=audit, now=now
    )
