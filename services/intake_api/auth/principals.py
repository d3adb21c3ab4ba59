"""Turning a request's credentials into a Principal.

Users and keys are read from PostgreSQL and kept for a few seconds in this process, so the hot
path (a telephony integration posting complaints) costs no database round trip for
authentication. A revoked key or deactivated user is refused by every process within
`CACHE_SECONDS`, and at once by the process that made the change.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from services.intake_api.auth.secrets import (
    InvalidCredentials,
    api_key_prefix,
    decode_access_token,
    same_digest,
)
from shared.db import accounts
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.complaint import ActorKind
from shared.domain.enums import Role

CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class KeyEntry:
    principal: Principal
    key_hash: str
    revoked: bool
    rate_limit_per_minute: int


@dataclass(frozen=True)
class UserEntry:
    principal: Principal
    active: bool
    token_version: int


class Authenticator:
    def __init__(self, db: Database, *, jwt_secret: str) -> None:
        self._db = db
        self._jwt_secret = jwt_secret
        self._keys: dict[str, tuple[float, KeyEntry | None]] = {}
        self._users: dict[uuid.UUID, tuple[float, UserEntry | None]] = {}

    def forget_key(self, prefix: str) -> None:
        self._keys.pop(prefix, None)

    def forget_user(self, user_id: uuid.UUID) -> None:
        self._users.pop(user_id, None)

    async def from_api_key(self, key: str) -> tuple[Principal, int]:
        """(principal, its requests-per-minute limit) for a valid, unrevoked key."""
        prefix = api_key_prefix(key)
        now = time.monotonic()
        cached = self._keys.get(prefix)
        if cached is None or cached[0] < now:
            async with self._db.connect() as conn:
                row = await accounts.get_api_key_by_prefix(conn, prefix)
            cached = (now + CACHE_SECONDS, _key_entry(row) if row else None)
            self._keys[prefix] = cached
        entry = cached[1]
        if entry is None or entry.revoked or not same_digest(key, entry.key_hash):
            raise InvalidCredentials("unknown or revoked API key")
        return entry.principal, entry.rate_limit_per_minute

    async def from_bearer(self, token: str) -> Principal:
        claims = decode_access_token(token, secret=self._jwt_secret)
        entry = await self.user(claims.user_id)
        if entry is None or not entry.active or entry.token_version != claims.token_version:
            raise InvalidCredentials("the account is disabled or the token was revoked")
        return entry.principal

    async def user(self, user_id: uuid.UUID) -> UserEntry | None:
        now = time.monotonic()
        cached = self._users.get(user_id)
        if cached is None or cached[0] < now:
            async with self._db.connect() as conn:
                row = await accounts.get_user(conn, user_id)
            cached = (now + CACHE_SECONDS, user_entry(row) if row else None)
            self._users[user_id] = cached
        return cached[1]


def user_entry(row: dict[str, Any]) -> UserEntry:
    principal = Principal(
        kind=ActorKind.USER,
        id=str(row["id"]),
        label=row["username"],
        role=Role(row["role"]),
        department=row["department"],
        name=row["display_name"],
    )
    return UserEntry(
        principal=principal, active=row["is_active"], token_version=row["token_version"]
    )


def _key_entry(row: dict[str, Any]) -> KeyEntry:
    principal = Principal(
        kind=ActorKind.INTEGRATION,
        id=str(row["id"]),
        label=f"key:{row['name']}",
        scopes=frozenset(row["scopes"]),
        name=row["name"],
    )
    return KeyEntry(
        principal=principal,
        key_hash=row["key_hash"],
        revoked=row["revoked_at"] is not None,
        rate_limit_per_minute=row["rate_limit_per_minute"],
    )
