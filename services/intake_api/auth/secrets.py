"""Credentials: argon2 password hashes, JWT access tokens, opaque refresh tokens, API keys.

- Access tokens are HS256 JWTs (PyJWT) valid for minutes; decoding pins the algorithm, so
  `alg=none` and algorithm confusion are refused, as are wrong signatures and expired tokens.
- Refresh tokens and API keys are random strings shown once and stored as SHA-256 digests
  (they carry 256 bits of entropy, so a fast digest is as safe as a slow one and costs nothing
  per request).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

ISSUER = "kesu"
AUDIENCE = "kesu-api"
ALGORITHM = "HS256"


class InvalidCredentials(Exception):
    """A token or key that does not authenticate anyone (the caller gets 401)."""


def password_hasher(*, cheap: bool = False) -> PasswordHash:
    """argon2id with the library's recommended cost; `cheap` is for test suites only."""
    if cheap:
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    return PasswordHash((Argon2Hasher(),))


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_version: int
    expires_at: datetime


def issue_access_token(
    *, secret: str, user_id: uuid.UUID, token_version: int, now: datetime, ttl: timedelta
) -> str:
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "tv": token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            token_version=int(claims.get("tv", -1)),
            expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise InvalidCredentials(str(exc)) from None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


REFRESH_TOKEN_PREFIX = "krt"  # noqa: S105 - a prefix, not a secret


def new_refresh_token() -> str:
    return f"{REFRESH_TOKEN_PREFIX}_{secrets.token_urlsafe(32)}"


API_KEY_PREFIX = "ksk"
# What our credentials look like, to mask them in logs (a client may put one in a URL path).
CREDENTIAL_PATTERNS = (
    re.compile(rf"{API_KEY_PREFIX}_[0-9A-Za-z_-]+"),
    re.compile(rf"{REFRESH_TOKEN_PREFIX}_[0-9A-Za-z_-]+"),
    re.compile(r"eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*"),  # JWTs
)


def new_api_key() -> tuple[str, str]:
    """(prefix, full key): the prefix identifies the key in lists and logs; the rest is secret."""
    prefix = secrets.token_hex(4)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def api_key_prefix(key: str) -> str:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 8:
        raise InvalidCredentials("malformed API key")
    return parts[1]


def survey_token(secret: str, complaint_id: uuid.UUID, nonce: str) -> str:
    """The signed, single-use link token of a satisfaction survey (满意度调查): the complaint id,
    the invitation's nonce and an HMAC. Single use: answering clears the nonce."""
    message = f"survey:{complaint_id}.{nonce}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
    return f"{complaint_id}.{nonce}.{mac}"


def parse_survey_token(secret: str, token: str) -> tuple[uuid.UUID, str]:
    try:
        complaint_text, nonce, _mac = token.split(".")
        complaint_id = uuid.UUID(complaint_text)
    except ValueError:
        raise InvalidCredentials("malformed survey token") from None
    if not hmac.compare_digest(survey_token(secret, complaint_id, nonce), token):
        raise InvalidCredentials("survey token signature mismatch")
    return complaint_id, nonce
