"""Accounts, departments and integration keys: what admins manage. Every change is audited in
the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.intake_api.auth.principals import Authenticator
from services.intake_api.auth.secrets import digest, new_api_key
from services.intake_api.auth.service import Passwords
from shared.db import accounts
from shared.db import audit as audit_log
from shared.db.audit import AuditContext
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.enums import Role
from shared.domain.errors import Conflict, FieldError, InvalidInput, NotFound

DEPARTMENT_ROLES = frozenset({Role.HANDLER})


async def _check_department(conn: Any, role: Role, department: str | None) -> None:
    if department is not None and await accounts.get_department(conn, department) is None:
        raise InvalidInput([FieldError(("body", "department"), f"no department {department!r}")])
    if role in DEPARTMENT_ROLES and department is None:
        raise InvalidInput([FieldError(("body", "department"), "a handler needs a department")])


async def list_users(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        return await accounts.list_users(conn)


async def get_user(db: Database, user_id: uuid.UUID) -> dict[str, Any]:
    async with db.connect() as conn:
        user = await accounts.get_user(conn, user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def create_user(
    db: Database,
    passwords: Passwords,
    *,
    username: str,
    display_name: str,
    role: Role,
    department: str | None,
    password: str,
    audit: AuditContext,
    now: datetime,
    email: str | None = None,
    mobile: str | None = None,
    contact_phone: str | None = None,
) -> dict[str, Any]:
    password_hash = await passwords.hash(password)
    user_id = uuid.uuid4()
    values = {
        "id": user_id,
        "username": username.lower(),
        "display_name": display_name,
        "role": role.value,
        "department": department,
        "email": email,
        "mobile": mobile,
        "contact_phone": contact_phone,
        "password_hash": password_hash,
        "is_active": True,
        "token_version": 0,
        "created_at": now,
        "updated_at": now,
    }
    async with db.begin() as conn:
        await _check_department(conn, role, department)
        if await accounts.get_user_by_username(conn, username) is not None:
            raise Conflict(f"the username {username!r} is taken")
        await accounts.insert_user(conn, values)
        record = audit.record(
            "user.create",
            target_type="user",
            target_id=str(user_id),
            details={"role": role.value, "department": department},
        )
        await audit_log.append(conn, [record])
    return values


async def update_user(
    db: Database,
    passwords: Passwords,
    authenticator: Authenticator,
    user_id: uuid.UUID,
    *,
    changes: dict[str, Any],
    audit: AuditContext,
    now: datetime,
) -> dict[str, Any]:
    """Change role, department, name, active flag or password. Disabling an account, changing
    its role or its password revokes the tokens already issued to it."""
    values: dict[str, Any] = {k: v for k, v in changes.items() if k != "password"}
    if "password" in changes:
        values["password_hash"] = await passwords.hash(changes["password"])
    async with db.begin() as conn:
        user = await accounts.get_user(conn, user_id)
        if user is None:
            raise NotFound("no such user")
        role = Role(values.get("role", user["role"]))
        department = values.get("department", user["department"])
        await _check_department(conn, role, department)
        revoke = bool({"role", "is_active", "password_hash"} & set(values))
        if revoke:
            values["token_version"] = user["token_version"] + 1
            await accounts.revoke_user_refresh_tokens(conn, user_id, now)
        values["updated_at"] = now
        await accounts.update_user(conn, user_id, values)
        audited = sorted(k for k in changes if k != "password")
        if "password" in changes:
            audited.append("password")
        record = audit.record(
            "user.update",
            target_type="user",
            target_id=str(user_id),
            details={"changed": audited},
        )
        await audit_log.append(conn, [record])
        updated = await accounts.get_user(conn, user_id)
    authenticator.forget_user(user_id)
    assert updated is not None
    return updated


async def list_departments(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        return await accounts.list_departments(conn)


async def upsert_department(
    db: Database, *, code: str, name: str, audit: AuditContext, now: datetime
) -> tuple[dict[str, Any], bool]:
    async with db.begin() as conn:
        created = await accounts.upsert_department(conn, code, name, now)
        action = "department.create" if created else "department.update"
        record = audit.record(
            action,
            target_type="department",
            target_id=code,
            details={"name": name},
        )
        await audit_log.append(conn, [record])
        department = await accounts.get_department(conn, code)
    assert department is not None
    return department, created


async def list_api_keys(db: Database) -> list[dict[str, Any]]:
    """Without the keys: only their digests are stored."""
    async with db.connect() as conn:
        return await accounts.list_api_keys(conn)


async def create_api_key(
    db: Database,
    principal: Principal,
    *,
    name: str,
    scopes: list[str],
    rate_limit_per_minute: int,
    audit: AuditContext,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """The key itself is returned once, here, and stored only as a digest."""
    prefix, key = new_api_key()
    values = {
        "id": uuid.uuid4(),
        "name": name,
        "prefix": prefix,
        "key_hash": digest(key),
        "scopes": sorted(set(scopes)),
        "rate_limit_per_minute": rate_limit_per_minute,
        "created_by": principal.user_id,
        "created_at": now,
        "revoked_at": None,
    }
    async with db.begin() as conn:
        await accounts.insert_api_key(conn, values)
        record = audit.record(
            "api_key.create",
            target_type="api_key",
            target_id=str(values["id"]),
            details={"name": name, "scopes": values["scopes"]},
        )
        await audit_log.append(conn, [record])
    return values, key


async def revoke_api_key(
    db: Database,
    authenticator: Authenticator,
    key_id: uuid.UUID,
    *,
    audit: AuditContext,
    now: datetime,
) -> None:
    async with db.begin() as conn:
        key = await accounts.get_api_key(conn, key_id)
        if key is None:
            raise NotFound("no such API key")
        await accounts.revoke_api_key(conn, key_id, now)
        record = audit.record("api_key.revoke", target_type="api_key", target_id=str(key_id))
        await audit_log.append(conn, [record])
    authenticator.forget_key(key["prefix"])
