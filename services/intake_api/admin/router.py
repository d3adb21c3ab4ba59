"""`/api/v1/users`, `/api/v1/departments`, `/api/v1/api-keys`: admin-managed configuration."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StrictInt, model_validator

from services.intake_api.admin import service
from services.intake_api.auth.dependencies import AuthenticatorDep, PasswordsDep
from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.deps import (
    AdminPrincipal,
    AuditDep,
    CurrentPrincipal,
    DbDep,
    NowDep,
    require_json,
)
from services.intake_api.paging import Page, PagingDep
from services.intake_api.problems import responses
from shared.domain.access import Scope
from shared.domain.enums import Role
from shared.domain.errors import NotFound
from shared.domain.values import Code, Name, PhoneNumber, WorkContact

router = APIRouter(prefix="/api/v1", tags=["admin"], dependencies=[Depends(require_json)])

Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{3,64}$", examples=["li.na"])]
Password = Annotated[str, Field(min_length=12, max_length=256, examples=["请换成一个长密码-2026"])]
ERRORS = responses(401, 403, 404, 409, 415, 422, 429)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: Name = Field(examples=["李娜"])
    role: Role
    department: Code | None = Field(default=None, examples=["quality"])
    password: Password
    # Where staff notifications go (分派、预警、超时、升级): email first, SMS where allowed.
    email: EmailStr | None = Field(default=None, max_length=254, examples=["li.na@example.com"])
    mobile: PhoneNumber | None = Field(default=None, examples=["13912345678"])
    # Told to customers once the account handles their case (seed 002 §5.3.1.3): a work
    # line or extension, never the personal mobile.
    contact_phone: WorkContact | None = Field(default=None, examples=["0571-8888 8888 转 123"])


class UserPatch(BaseModel):
    """Only the fields given change; `department: null` makes the account company-wide and
    `email` / `mobile: null` remove them; other fields cannot be null."""

    model_config = ConfigDict(extra="forbid")

    display_name: Name | None = None
    role: Role | None = None
    department: Code | None = None
    is_active: StrictBool | None = None
    password: Password | None = None
    email: EmailStr | None = Field(default=None, max_length=254)
    mobile: PhoneNumber | None = None
    contact_phone: WorkContact | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> UserPatch:
        given = self.model_fields_set - {"department", "email", "mobile", "contact_phone"}
        nulls = sorted(name for name in given if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(nulls)}")
        return self


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    department: str | None
    is_active: bool
    email: str | None = None
    mobile: str | None = Field(default=None, description="E.164, e.g. +8613912345678")
    contact_phone: str | None = Field(
        default=None, description="Work line or extension told to customers (受理人联系方式)"
    )
    created_at: LocalTime
    updated_at: LocalTime


USER_EXAMPLE = {
    "handler": {
        "summary": "质量部处理人",
        "value": {
            "username": "li.na",
            "display_name": "李娜",
            "role": "handler",
            "department": "quality",
            "password": "请换成一个长密码-2026",
            "email": "li.na@example.com",
            "mobile": "13912345678",
        },
    }
}


class UserPage(Page[UserOut]):
    pass


@router.get(
    "/users",
    summary="List staff accounts with their contact data (admins).",
    response_model=UserPage,
    responses=ERRORS,
)
async def list_users(db: DbDep, _: AdminPrincipal, paging: PagingDep) -> UserPage:
    users = [UserOut.model_validate(u) for u in await service.list_users(db)]
    return UserPage.of_all(users, paging)


@router.post(
    "/users",
    summary="Create a staff account.",
    status_code=201,
    response_model=UserOut,
    responses=ERRORS,
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": USER_EXAMPLE}}}},
)
async def create_user(
    db: DbDep,
    passwords: PasswordsDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: UserIn,
    response: Response,
) -> UserOut:
    user = await service.create_user(
        db,
        passwords,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        department=body.department,
        password=body.password,
        audit=audit,
        now=now,
        email=body.email,
        mobile=body.mobile,
        contact_phone=body.contact_phone,
    )
    response.headers["Location"] = f"/api/v1/users/{user['id']}"
    return UserOut.model_validate(user)


async def _user_id(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id)
    except ValueError:
        raise NotFound("no such user") from None


@router.get(
    "/users/{user_id}", summary="Get a staff account.", response_model=UserOut, responses=ERRORS
)
async def get_user(
    db: DbDep, _: AdminPrincipal, user_id: Annotated[uuid.UUID, Depends(_user_id)]
) -> UserOut:
    return UserOut.model_validate(await service.get_user(db, user_id))


@router.patch(
    "/users/{user_id}",
    summary="Change a staff account: role, department, active, password.",
    response_model=UserOut,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "disable": {"summary": "停用账号", "value": {"is_active": False}},
                        "move": {"summary": "调到物流部", "value": {"department": "logistics"}},
                    }
                }
            }
        }
    },
)
async def update_user(
    db: DbDep,
    passwords: PasswordsDep,
    authenticator: AuthenticatorDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: UserPatch,
    user_id: Annotated[uuid.UUID, Depends(_user_id)],
) -> UserOut:
    user = await service.update_user(
        db,
        passwords,
        authenticator,
        user_id,
        changes=body.model_dump(exclude_unset=True),
        audit=audit,
        now=now,
    )
    return UserOut.model_validate(user)


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["质量部"])


class DepartmentOut(BaseModel):
    code: str
    name: str
    created_at: LocalTime
    updated_at: LocalTime


class DepartmentPage(Page[DepartmentOut]):
    pass


@router.get(
    "/departments",
    summary="List the departments.",
    response_model=DepartmentPage,
    responses=responses(401, 422, 429),
)
async def list_departments(db: DbDep, _: CurrentPrincipal, paging: PagingDep) -> DepartmentPage:
    departments = [DepartmentOut.model_validate(d) for d in await service.list_departments(db)]
    return DepartmentPage.of_all(departments, paging)


@router.put(
    "/departments/{code}",
    summary="Create or rename a department.",
    response_model=DepartmentOut,
    responses={**ERRORS, 201: {"model": DepartmentOut, "description": "Created"}},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {"quality": {"summary": "质量部", "value": {"name": "质量部"}}}
                }
            }
        }
    },
)
async def put_department(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    code: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$", examples=["quality"])],
    body: DepartmentIn,
    response: Response,
) -> DepartmentOut:
    department, created = await service.upsert_department(
        db, code=code, name=body.name, audit=audit, now=now
    )
    if created:
        response.status_code = 201
    return DepartmentOut.model_validate(department)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["呼叫中心-主线路"])
    scopes: list[Scope] = Field(min_length=1, max_length=8)
    rate_limit_per_minute: StrictInt = Field(default=600, ge=1, le=100_000)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="Identifies the key; the key itself is never shown again")
    scopes: list[str]
    rate_limit_per_minute: int
    created_at: LocalTime
    revoked_at: LocalTime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Send as X-API-Key. Shown only in this response: store it now.")


class ApiKeyPage(Page[ApiKeyOut]):
    pass


@router.get(
    "/api-keys",
    summary="List integration keys, without the keys.",
    response_model=ApiKeyPage,
    responses=ERRORS,
)
async def list_api_keys(db: DbDep, _: AdminPrincipal, paging: PagingDep) -> ApiKeyPage:
    keys = [ApiKeyOut.model_validate(k) for k in await service.list_api_keys(db)]
    return ApiKeyPage.of_all(keys, paging)


@router.post(
    "/api-keys",
    summary="Create an integration key, shown once.",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "telephony": {
                            "summary": "呼叫中心集成",
                            "value": {
                                "name": "呼叫中心-主线路",
                                "scopes": ["complaints:create", "complaints:read"],
                                "rate_limit_per_minute": 1200,
                            },
                        }
                    }
                }
            }
        }
    },
)
async def create_api_key(
    db: DbDep,
    principal: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: ApiKeyIn,
    response: Response,
) -> ApiKeyCreated:
    values, key = await service.create_api_key(
        db,
        principal,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        rate_limit_per_minute=body.rate_limit_per_minute,
        audit=audit,
        now=now,
    )
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated.model_validate({**values, "key": key})


async def _key_id(key_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(key_id)
    except ValueError:
        raise NotFound("no such API key") from None


@router.delete(
    "/api-keys/{key_id}", summary="Revoke an integration key.", status_code=204, responses=ERRORS
)
async def revoke_api_key(
    db: DbDep,
    authenticator: AuthenticatorDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    key_id: Annotated[uuid.UUID, Depends(_key_id)],
) -> None:
    await service.revoke_api_key(db, authenticator, key_id, audit=audit, now=now)
