"""Signing in, refreshing, signing out, and creating the first admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from pwdlib import PasswordHash

from services.intake_api.auth.secrets import digest, issue_access_token, new_refresh_token
from shared.config import Settings
from shared.db import accounts
from shared.db import audit as audit_log
from shared.db.audit import AuditContext, AuditRecord
from shared.db.engine import Database
from shared.domain.enums import Role
from shared.domain.errors import Conflict, Unauthenticated

# Verifying against this keeps an unknown username as slow as a wrong password (no user
# enumeration by timing).
_DUMMY_PASSWORD = "kesu-no-such-user"  # noqa: S105


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class Passwords:
    """argon2 in a worker thread: a hash costs ~0.25 s of CPU and must not block the loop."""

    def __init__(self, hasher: PasswordHash) -> None:
        self._hasher = hasher
        self._dummy_hash = hasher.hash(_DUMMY_PASSWORD)

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        target = password_hash or self._dummy_hash
        ok = await to_thread.run_sync(self._hasher.verify, password, target)
        return bool(ok) and password_hash is not None


async def _issue(
    conn: Any, settings: Settings, user: dict[str, Any], *, now: datetime, family: uuid.UUID
) -> TokenPair:
    ttl = timedelta(minutes=settings.access_token_minutes)
    refresh = new_refresh_token()
    await accounts.insert_refresh_token(
        conn,
        {
            "id": uuid.uuid4(),
            "token_hash": digest(refresh),
            "user_id": user["id"],
            "family_id": family,
            "issued_at": now,
            "expires_at": now + timedelta(days=settings.refresh_token_days),
            "used_at": None,
            "revoked_at": None,
        },
    )
    access = issue_access_token(
        secret=settings.require_jwt_secret(),
        user_id=user["id"],
        token_version=user["token_version"],
        now=now,
        ttl=ttl,
    )
    return TokenPair(access, refresh, int(ttl.total_seconds()))


def _login_record(
    user: dict[str, Any] | None, username: str, ok: bool, audit: AuditContext
) -> AuditRecord:
    """Recorded as the user the username names (known only now), or as an anonymous caller."""
    actor = audit.as_actor(
        "user" if user else "anonymous", str(user["id"]) if user else None, username[:64]
    )
    return actor.record("auth.sign_in", outcome="ok" if ok else "failed")


async def sign_in(
    db: Database,
    passwords: Passwords,
    settings: Settings,
    *,
    username: str,
    password: str,
    audit: AuditContext,
    now: datetime,
) -> TokenPair:
    """`audit`: the anonymous caller (the client address), recorded as the user once known."""
    async with db.connect() as conn:
        user = await accounts.get_user_by_username(conn, username)
    ok = await passwords.verify(password, user["password_hash"] if user else None)
    ok = ok and user is not None and user["is_active"]
    async with db.begin() as conn:
        await audit_log.append(conn, [_login_record(user, username, ok, audit)])
        if ok and user is not None:
            return await _issue(conn, settings, user, now=now, family=uuid.uuid4())
    raise Unauthenticated("Wrong username or password, or the account is disabled.")


async def refresh(
    db: Database, settings: Settings, *, refresh_token: str, audit: AuditContext, now: datetime
) -> TokenPair:
    """Rotate: a refresh token works once. Presenting a used one again means it leaked, so the
    whole family (every token descended from that sign-in) is revoked."""
    async with db.begin() as conn:
        row = await accounts.take_refresh_token(conn, digest(refresh_token), now)
        if row is not None and row["used_at"] is not None:
            await accounts.revoke_refresh_family(conn, row["family_id"], now)
            row = None
        user = await accounts.get_user(conn, row["user_id"]) if row else None
        valid = (
            row is not None
            and row["revoked_at"] is None
            and row["expires_at"] > now
            and user is not None
            and user["is_active"]
        )
        if valid and user is not None and row is not None:
            return await _issue(conn, settings, user, now=now, family=row["family_id"])
    async with db.connect() as conn:
        await audit_log.append(conn, [audit.record("auth.refresh", outcome="failed")])
    raise Unauthenticated("The refresh token is invalid, expired, used or revoked.")


async def sign_out(db: Database, *, refresh_token: str, now: datetime) -> None:
    async with db.begin() as conn:
        row = await accounts.take_refresh_token(conn, digest(refresh_token), now)
        if row is not None:
            await accounts.revoke_refresh_family(conn, row["family_id"], now)


async def ensure_admin(
    db: Database, passwords: Passwords, *, username: str, password: str, now: datetime
) -> bool:
    """Create the first admin unless an active admin exists; True when one was created."""
    if len(password) < 12:
        raise ValueError("the admin password must have at least 12 characters")
    async with db.begin() as conn:
        if await accounts.admin_exists(conn):
            return False
        if await accounts.get_user_by_username(conn, username) is not None:
            raise Conflict(f"a user named {username!r} exists and is not an admin")
        user_id = uuid.uuid4()
        await accounts.insert_user(
            conn,
            {
                "id": user_id,
                "username": username.lower(),
                "display_name": username,
                "role": Role.ADMIN.value,
                "department": None,
                "password_hash": await passwords.hash(password),
                "is_active": True,
                "token_version": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        record = AuditContext.system("bootstrap", now=now).record(
            "user.create", target_type="user", target_id=str(user_id), details={"role": "admin"}
        )
        await audit_log.append(conn, [record])
    return True


async def set_contact_phone(
    db: Database,
    user_id: uuid.UUID,
    contact_phone: str | None,
    *,
    audit: AuditContext,
    now: datetime,
) -> None:
    """A staff member's own work contact, told to the customers of their cases (seed 002
    §5.3.1.3); None removes it (customers are then given the service line)."""
    async with db.begin() as conn:
        await accounts.update_user(
            conn, user_id, {"contact_phone": contact_phone, "updated_at": now}
        )
        record = audit.record(
            "user.contact_phone", target_type="user", target_id=str(user_id), details={}
        )
        await audit_log.append(conn, [record])
