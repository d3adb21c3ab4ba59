"""Staff users, departments, refresh tokens and integration keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import ApiKey, Department, RefreshToken, User, table_of

users = table_of(User)
departments = table_of(Department)
refresh_tokens = table_of(RefreshToken)
api_keys = table_of(ApiKey)


def _one(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


# --- users -------------------------------------------------------------------------------------


async def get_user(conn: AsyncConnection, user_id: uuid.UUID) -> dict[str, Any] | None:
    return _one((await conn.execute(select(users).where(users.c.id == user_id))).first())


async def get_user_by_username(conn: AsyncConnection, username: str) -> dict[str, Any] | None:
    stmt = select(users).where(users.c.username == username.lower())
    return _one((await conn.execute(stmt)).first())


async def list_users(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(users).order_by(users.c.username))
    return [dict(r) for r in rows.mappings()]


async def display_names(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names shown next to ids in answers: a staff account's display name, an integration
    key's name (actors are either). One query for a whole page."""
    if not ids:
        return {}
    wanted = list(set(ids))
    stmt = union_all(
        select(users.c.id, users.c.display_name.label("name")).where(users.c.id.in_(wanted)),
        select(api_keys.c.id, api_keys.c.name).where(api_keys.c.id.in_(wanted)),
    )
    return {row.id: row.name for row in await conn.execute(stmt)}


@dataclass(frozen=True)
class StaffFilters:
    role: str | None = None
    department: str | None = None
    active: bool | None = True


def _staff_where(filters: StaffFilters) -> list[Any]:
    where: list[Any] = []
    if filters.role is not None:
        where.append(users.c.role == filters.role)
    if filters.department is not None:
        where.append(users.c.department == filters.department)
    if filters.active is not None:
        where.append(users.c.is_active.is_(filters.active))
    return where


async def staff_page(
    conn: AsyncConnection, filters: StaffFilters, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """The staff directory (员工通讯录), by username (unique, so a stable cursor): `limit + 1`
    rows after `after` so the caller knows whether a next page exists. Only the columns the
    directory shows: never the password hash or the mobile number."""
    stmt = (
        select(
            users.c.id,
            users.c.username,
            users.c.display_name,
            users.c.role,
            users.c.department,
            departments.c.name.label("department_name"),
            users.c.contact_phone,
            users.c.is_active,
        )
        .select_from(users.outerjoin(departments, departments.c.code == users.c.department))
        .where(*_staff_where(filters))
        .order_by(users.c.username)
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(users.c.username > after)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def count_staff(conn: AsyncConnection, filters: StaffFilters) -> int:
    stmt = select(func.count()).select_from(users).where(*_staff_where(filters))
    return int((await conn.execute(stmt)).scalar_one())


async def insert_user(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(users).values(**values))


async def update_user(conn: AsyncConnection, user_id: uuid.UUID, values: dict[str, Any]) -> bool:
    result = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
    return bool(result.rowcount)


async def admin_exists(conn: AsyncConnection) -> bool:
    stmt = (
        select(func.count())
        .select_from(users)
        .where(users.c.role == "admin", users.c.is_active.is_(True))
    )
    return bool((await conn.execute(stmt)).scalar_one())


# --- departments -------------------------------------------------------------------------------


async def list_departments(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(departments).order_by(departments.c.code))
    return [dict(r) for r in rows.mappings()]


async def get_department(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    stmt = select(departments).where(departments.c.code == code)
    return _one((await conn.execute(stmt)).first())


async def upsert_department(conn: AsyncConnection, code: str, name: str, now: datetime) -> bool:
    """Create or rename; True when it was created."""
    existing = await get_department(conn, code)
    if existing is None:
        await conn.execute(
            insert(departments).values(code=code, name=name, created_at=now, updated_at=now)
        )
        return True
    await conn.execute(
        update(departments).where(departments.c.code == code).values(name=name, updated_at=now)
    )
    return False


# --- refresh tokens ----------------------------------------------------------------------------


async def insert_refresh_token(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(refresh_tokens).values(**values))


async def take_refresh_token(
    conn: AsyncConnection, token_hash: str, now: datetime
) -> dict[str, Any] | None:
    """Mark a refresh token used and return it, or None when it is unknown. The row lock makes
    two concurrent uses of one token see each other (the second finds `used_at` set)."""
    stmt = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash).with_for_update()
    row = _one((await conn.execute(stmt)).first())
    if row is None:
        return None
    if row["used_at"] is None:
        await conn.execute(
            update(refresh_tokens).where(refresh_tokens.c.id == row["id"]).values(used_at=now)
        )
    return row


async def revoke_refresh_family(conn: AsyncConnection, family_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_refresh_tokens(
    conn: AsyncConnection, user_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# --- integration keys --------------------------------------------------------------------------


async def insert_api_key(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(api_keys).values(**values))


async def get_api_key_by_prefix(conn: AsyncConnection, prefix: str) -> dict[str, Any] | None:
    return _one((await conn.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first())


async def list_api_keys(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
    return [dict(r) for r in rows.mappings()]


async def revoke_api_key(conn: AsyncConnection, key_id: uuid.UUID, now: datetime) -> bool:
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


async def get_api_key(conn: AsyncConnection, key_id: uuid.UUID) -> dict[str, Any] | None:
    return _one((await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first())


async def staff_by_role(
    conn: AsyncConnection, roles: Sequence[str]
) -> dict[str, list[tuple[uuid.UUID, str | None]]]:
    """Active accounts of the given roles, as (id, department), for alerts by tier."""
    stmt = select(users.c.id, users.c.role, users.c.department).where(
        users.c.role.in_(list(roles)), users.c.is_active.is_(True)
    )
    out: dict[str, list[tuple[uuid.UUID, str | None]]] = {}
    for row in await conn.execute(stmt):
        out.setdefault(row.role, []).append((row.id, row.department))
    return out


async def work_contacts(
    conn: AsyncConnection, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str | None]]:
    """(display name, work contact phone or extension) of these accounts: what a customer is
    told of their handler (seed 002 §5.3.1.3); never the personal `mobile`."""
    if not user_ids:
        return {}
    stmt = select(users.c.id, users.c.display_name, users.c.contact_phone).where(
        users.c.id.in_(list(user_ids))
    )
    return {row.id: (row.display_name, row.contact_phone) for row in await conn.execute(stmt)}
