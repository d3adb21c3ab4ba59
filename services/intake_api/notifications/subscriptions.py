"""Webhook subscriptions (回调订阅): every change is audited in the same transaction.

URLs are checked against the SSRF policy (`shared.domain.netguard`) with the deployment's allow
list (KESU_WEBHOOK_ALLOW) when saved; the worker checks the resolved addresses again at send
time. Audit details carry the URL's host only: a path or query may hold a receiver's token.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.config import Settings
from shared.db import audit as audit_log
from shared.db import notifications as repo
from shared.db.audit import AuditContext
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.errors import FieldError, InvalidInput, NotFound
from shared.domain.netguard import UnsafeURLError, check_webhook_url
from shared.domain.webhook_secrets import new_webhook_secret


def _check_url(url: str, settings: Settings) -> None:
    try:
        check_webhook_url(url, settings.webhook_allow_list())
    except UnsafeURLError as exc:
        raise InvalidInput([FieldError(("body", "url"), exc.detail, "unsafe_url")]) from None
    except ValueError as exc:  # a malformed KESU_WEBHOOK_ALLOW entry
        raise InvalidInput([FieldError(("body", "url"), str(exc), "allow_list")]) from None


def _host(url: str) -> str | None:
    return urlsplit(url).hostname


# --- webhook subscriptions ---------------------------------------------------------------------


async def create_subscription(
    db: Database,
    settings: Settings,
    principal: Principal,
    *,
    description: str,
    url: str,
    event_types: list[str],
    audit: AuditContext,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """The secret is returned here, once; the worker needs it in clear to sign."""
    _check_url(url, settings)
    secret = new_webhook_secret()
    values = {
        "id": uuid.uuid4(),
        "description": description,
        "url": url,
        "event_types": sorted(set(event_types)),
        "secret": secret,
        "active": True,
        "disabled_reason": None,
        "disabled_at": None,
        "created_by": principal.user_id,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    async with db.begin() as conn:
        await repo.insert_subscription(conn, values)
        record = audit.record(
            "webhook_subscription.create",
            target_type="webhook_subscription",
            target_id=str(values["id"]),
            details={"host": _host(url), "event_types": values["event_types"]},
        )
        await audit_log.append(conn, [record])
    repo.webhook_interest_cache.invalidate()  # its events are queued from now on
    return values, secret


async def get_subscription(db: Database, subscription_id: uuid.UUID) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_subscription(conn, subscription_id)
    if row is None:
        raise NotFound("no such webhook subscription")
    return row


async def list_subscriptions(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        return await repo.list_subscriptions(conn)


async def update_subscription(
    db: Database,
    settings: Settings,
    subscription_id: uuid.UUID,
    *,
    changes: dict[str, Any],
    audit: AuditContext,
    now: datetime,
) -> dict[str, Any]:
    values = {k: v for k, v in changes.items() if v is not None}
    if "url" in values:
        _check_url(values["url"], settings)
    if "event_types" in values:
        values["event_types"] = sorted(set(values["event_types"]))
    if values.get("active") is True:
        values.update(disabled_reason=None, disabled_at=None)
    elif values.get("active") is False:
        values.update(disabled_reason="disabled by an administrator", disabled_at=now)
    values["updated_at"] = now
    async with db.begin() as conn:
        if not await repo.update_subscription(conn, subscription_id, values):
            raise NotFound("no such webhook subscription")
        details: dict[str, Any] = {"changed": sorted(k for k in changes if changes[k] is not None)}
        if "url" in values:
            details["host"] = _host(values["url"])
        record = audit.record(
            "webhook_subscription.update",
            target_type="webhook_subscription",
            target_id=str(subscription_id),
            details=details,
        )
        await audit_log.append(conn, [record])
        row = await repo.get_subscription(conn, subscription_id)
    repo.webhook_interest_cache.invalidate()  # its patterns or its being active may have changed
    assert row is not None
    return row


async def rotate_secret(
    db: Database,
    subscription_id: uuid.UUID,
    *,
    audit: AuditContext,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """A new signing secret, effective for every attempt from now on (pending retries too)."""
    secret = new_webhook_secret()
    async with db.begin() as conn:
        changed = await repo.update_subscription(
            conn, subscription_id, {"secret": secret, "updated_at": now}
        )
        if not changed:
            raise NotFound("no such webhook subscription")
        record = audit.record(
            "webhook_subscription.rotate_secret",
            target_type="webhook_subscription",
            target_id=str(subscription_id),
        )
        await audit_log.append(conn, [record])
        row = await repo.get_subscription(conn, subscription_id)
    assert row is not None
    return row, secret


async def delete_subscription(
    db: Database,
    subscription_id: uuid.UUID,
    *,
    audit: AuditContext,
    now: datetime,
) -> None:
    """Kept (deleted_at) for the delivery log; its pending deliveries are skipped."""
    async with db.begin() as conn:
        deleted = await repo.update_subscription(
            conn,
            subscription_id,
            {
                "active": False,
                "deleted_at": now,
                "updated_at": now,
                "disabled_reason": "deleted",
                "disabled_at": now,
            },
        )
        if not deleted:
            raise NotFound("no such webhook subscription")
        skipped = await repo.skip_pending_deliveries(
            conn, subscription_id, reason="subscription deleted", now=now
        )
        record = audit.record(
            "webhook_subscription.delete",
            target_type="webhook_subscription",
            target_id=str(subscription_id),
            details={"pending_deliveries_skipped": skipped},
        )
        await audit_log.append(conn, [record])
    repo.webhook_interest_cache.invalidate()
