"""Webhook signing secrets (回调签名密钥) in the Standard Webhooks format: ``whsec_`` + base64 of
the key. The API makes them when a subscription is created or its secret rotated; the worker
reads the key back to sign each delivery. Also the ``webhook-id`` header those deliveries carry.

Pure: the random bytes come from the caller's `random_bytes` (the system's CSPRNG by default).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from collections.abc import Callable

PREFIX = "whsec_"
KEY_BYTES = 32
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64  # the Standard Webhooks range


def new_webhook_secret(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 32 random bytes (shown once to the admin)."""
    return PREFIX + base64.b64encode(random_bytes(KEY_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes | None:
    """The key a secret holds, or None when it is not base64 of 24-64 bytes. Decoded strictly:
    the signing library decodes leniently (an unpadded, non-base64 secret still "works"), and a
    mistyped secret must fail loudly instead of signing with garbage."""
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return None
    return key


def webhook_message_id(webhook_id: uuid.UUID) -> str:
    """The ``webhook-id`` header: the same for every attempt and replay of one delivery (the
    worker sends it; ops see it in the outbox views)."""
    return f"msg_{webhook_id.hex}"
