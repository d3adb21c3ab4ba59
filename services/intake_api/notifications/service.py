"""Notification administration: every change is audited in the same transaction as the change.

Webhook URLs are checked against the SSRF policy (`shared.domain.netguard`) with the deployment's
allow list (KESU_WEBHOOK_ALLOW) when saved; the worker checks the resolved addresses again at
send time. Audit details carry the URL's host only: a path or query may hold a receiver's token.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from fastapi import Request

from services.intake_api.audit_trail import audit_record
from shared.config import Settings
from shared.db import audit
from shared.db import notifications as repo
from shared.db import outbox as outbox_repo
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.domain.netguard import UnsafeURLError, check_webhook_url
from shared.domain.templates import (
    DEFAULT_TEMPLATES,
    TEMPLATE_SPECS,
    TemplateError,
    TemplateKey,
    find_forbidden_phrases,
    placeholders_in,
    validate_template,
)

LAG_DEGRADED_SECONDS = 60.0
_SECRET_BYTES = 32


def new_webhook_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes: the Standard Webhooks format the worker signs
    with (services import shared, never each other, so the API makes its own)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


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
    request: Request,
    principal: Principal,
    *,
    description: str,
    url: str,
    event_types: list[str],
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
        record = audit_record(
            request, principal, "webhook_subscription.create", now=now,
            target_type="webhook_subscription", target_id=str(values["id"]),
            details={"host": _host(url), "event_types": values["event_types"]},
        )  # fmt: skip
        await audit.append(conn, [record])
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
    request: Request,
    principal: Principal,
    subscription_id: uuid.UUID,
    *,
    changes: dict[str, Any],
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
        record = audit_record(
            request, principal, "webhook_subscription.update", now=now,
            target_type="webhook_subscription", target_id=str(subscription_id), details=details,
        )  # fmt: skip
        await audit.append(conn, [record])
        row = await repo.get_subscription(conn, subscription_id)
    assert row is not None
    return row


async def rotate_secret(
    db: Database,
    request: Request,
    principal: Principal,
    subscription_id: uuid.UUID,
    *,
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
        record = audit_record(
            request, principal, "webhook_subscription.rotate_secret", now=now,
            target_type="webhook_subscription", target_id=str(subscription_id),
        )  # fmt: skip
        await audit.append(conn, [record])
        row = await repo.get_subscription(conn, subscription_id)
    assert row is not None
    return row, secret


async def delete_subscription(
    db: Database,
    request: Request,
    principal: Principal,
    subscription_id: uuid.UUID,
    *,
    now: datetime,
) -> None:
    """Kept (deleted_at) for the delivery log; its pending deliveries are skipped."""
    async with db.begin() as conn:
        deleted = await repo.update_subscription(
            conn, subscription_id,
            {"active": False, "deleted_at": now, "updated_at": now,
             "disabled_reason": "deleted", "disabled_at": now},
        )  # fmt: skip
        if not deleted:
            raise NotFound("no such webhook subscription")
        skipped = await repo.skip_pending_deliveries(
            conn, subscription_id, reason="subscription deleted", now=now
        )
        record = audit_record(
            request, principal, "webhook_subscription.delete", now=now,
            target_type="webhook_subscription", target_id=str(subscription_id),
            details={"pending_deliveries_skipped": skipped},
        )  # fmt: skip
        await audit.append(conn, [record])


# --- templates ---------------------------------------------------------------------------------


def template_key(key: str) -> TemplateKey:
    try:
        return TemplateKey(key)
    except ValueError:
        raise NotFound(f"no template {key!r}") from None


def _template_view(key: TemplateKey, override: dict[str, Any] | None) -> dict[str, Any]:
    spec = TEMPLATE_SPECS[key]
    default = DEFAULT_TEMPLATES[key]
    overridden = override is not None and override["body"] is not None
    return {
        "key": key.value,
        "audience": spec.audience.value,
        "channels": sorted(c.value for c in spec.channels),
        "allowed_placeholders": sorted(spec.allowed),
        "required_placeholders": sorted(spec.required),
        "subject": (override["subject"] or "") if overridden and override else default.subject,
        "body": override["body"] if overridden and override else default.body,
        "overridden": overridden,
        "version": override["version"] if override else None,
        "updated_at": override["created_at"] if override else None,
        "updated_by": override["created_by"] if override else None,
        "default": {"subject": default.subject, "body": default.body},
    }


async def list_templates(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        overrides = await repo.current_templates(conn)
    return [_template_view(key, overrides.get(key.value)) for key in TemplateKey]


async def get_template(db: Database, key: TemplateKey) -> dict[str, Any]:
    async with db.connect() as conn:
        overrides = await repo.current_templates(conn)
    return _template_view(key, overrides.get(key.value))


def template_errors(key: TemplateKey, subject: str, body: str) -> list[FieldError]:
    """Field by field, so the editor can point at subject or body: unsafe or unknown
    placeholders, forbidden phrases (禁忌语言), then the rest of `validate_template`."""
    spec = TEMPLATE_SPECS[key]
    errors: list[FieldError] = []
    for field, value in (("subject", subject), ("body", body)):
        loc = ("body", field)
        try:
            used = placeholders_in(value)
        except TemplateError as exc:
            errors.append(FieldError(loc, exc.detail, "template_syntax"))
            continue
        unknown = sorted(used - spec.allowed)
        if unknown:
            errors.append(FieldError(
                loc,
                f"不允许的占位符 / placeholders not allowed in {key.value}: "
                f"{', '.join(unknown)}; allowed: {', '.join(sorted(spec.allowed))}",
                "unknown_placeholder",
            ))  # fmt: skip
        forbidden = find_forbidden_phrases(value)
        if forbidden:
            errors.append(FieldError(
                loc, f"包含禁忌语言 / forbidden phrases (seed 002): {'、'.join(forbidden)}",
                "forbidden_phrase",
            ))  # fmt: skip
    if errors:
        return errors
    try:
        validate_template(key, subject, body)
    except TemplateError as exc:
        errors.append(FieldError(("body", "body"), exc.detail, "template_rule"))
    return errors


async def put_template(
    db: Database,
    request: Request,
    principal: Principal,
    key: TemplateKey,
    *,
    subject: str,
    body: str,
    now: datetime,
) -> dict[str, Any]:
    errors = template_errors(key, subject, body)
    if errors:
        raise InvalidInput(errors)
    async with db.begin() as conn:
        version = await repo.add_template_version(
            conn, key.value, subject=subject, body=body, created_by=principal.user_id, now=now
        )
        record = audit_record(
            request, principal, "notification_template.update", now=now,
            target_type="notification_template", target_id=key.value,
            details={"version": version},
        )  # fmt: skip
        await audit.append(conn, [record])
        overrides = await repo.current_templates(conn)
    return _template_view(key, overrides.get(key.value))


async def reset_template(
    db: Database, request: Request, principal: Principal, key: TemplateKey, *, now: datetime
) -> None:
    """Restore the default: a new version without text (the history is kept)."""
    async with db.begin() as conn:
        overrides = await repo.current_templates(conn)
        current = overrides.get(key.value)
        if current is None or current["body"] is None:
            return  # already the default: nothing to record
        version = await repo.add_template_version(
            conn, key.value, subject=None, body=None, created_by=principal.user_id, now=now
        )
        record = audit_record(
            request, principal, "notification_template.reset", now=now,
            target_type="notification_template", target_id=key.value,
            details={"version": version},
        )  # fmt: skip
        await audit.append(conn, [record])


# --- the outbox for ops ------------------------------------------------------------------------


async def list_outbox(
    db: Database, filters: repo.OutboxFilters, *, before_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    async with db.connect() as conn:
        rows = await repo.list_outbox(conn, filters, before_id=before_id, limit=limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["id"] if more and rows else None


async def outbox_detail(db: Database, outbox_id: int) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_outbox(conn, outbox_id)
        if row is None:
            raise NotFound("no such outbox row")
        deliveries = await repo.list_deliveries(
            conn, status=None, subscription_id=None, outbox_id=outbox_id, before_id=None,
            limit=1000,
        )  # fmt: skip
        log = await repo.attempts_of(conn, outbox_id=outbox_id)
    return {**row, "deliveries": [delivery_view(d) for d in deliveries], "log": log}


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    # The header value receivers see (services/sla_worker/jobs/webhook_sender.py).
    return {**row, "webhook_id": f"msg_{row['webhook_id'].hex}"}


async def list_deliveries(
    db: Database,
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    outbox_id: int | None,
    before_id: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    async with db.connect() as conn:
        rows = await repo.list_deliveries(
            conn, status=status, subscription_id=subscription_id, outbox_id=outbox_id,
            before_id=before_id, limit=limit,
        )  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    return [delivery_view(r) for r in rows], rows[-1]["id"] if more and rows else None


async def delivery_detail(db: Database, delivery_id: int) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFound("no such webhook delivery")
        log = await repo.attempts_of(conn, delivery_id=delivery_id)
    return {**delivery_view(row), "log": log}


async def replay_outbox(
    db: Database, request: Request, principal: Principal, outbox_id: int, *, now: datetime
) -> dict[str, Any]:
    """Owe a dead-lettered (or skipped, or delivered) row again: same message id, a fresh
    budget of attempts; the worker picks it up within seconds."""
    async with db.begin() as conn:
        row = await repo.get_outbox(conn, outbox_id)
        if row is None:
            raise NotFound("no such outbox row")
        if not await repo.replay_outbox(conn, outbox_id, now=now):
            raise Conflict("the row is still pending: it will be attempted anyway")
        record = audit_record(
            request, principal, "outbox.replay", now=now, target_type="outbox",
            target_id=str(outbox_id),
            details={"previous_status": row["status"], "topic": row["topic"]},
        )  # fmt: skip
        await audit.append(conn, [record])
        replayed = await repo.get_outbox(conn, outbox_id)
    assert replayed is not None
    return replayed


async def replay_delivery(
    db: Database, request: Request, principal: Principal, delivery_id: int, *, now: datetime
) -> dict[str, Any]:
    """Send one webhook delivery again with its webhook-id (receivers de-duplicate on it)."""
    async with db.begin() as conn:
        row = await repo.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFound("no such webhook delivery")
        subscription = await repo.get_subscription(conn, row["subscription_id"])
        if subscription is None or not subscription["active"]:
            raise Conflict("the subscription is disabled or deleted: re-enable it first")
        if not await repo.replay_delivery(conn, delivery_id, now=now):
            raise Conflict("the delivery is still pending: it will be attempted anyway")
        record = audit_record(
            request, principal, "webhook_delivery.replay", now=now,
            target_type="webhook_delivery", target_id=str(delivery_id),
            details={"previous_status": row["status"], "topic": row["topic"]},
        )  # fmt: skip
        await audit.append(conn, [record])
        replayed = await repo.get_delivery(conn, delivery_id)
    assert replayed is not None
    return delivery_view(replayed)


# --- ops status --------------------------------------------------------------------------------


def _backlog(row: dict[str, Any], prefix: str, now: datetime) -> dict[str, Any]:
    oldest = row[f"{prefix}_oldest_due_at"]
    return {
        "pending": row[f"{prefix}_pending"],
        "due": row[f"{prefix}_due"],
        "oldest_due_age_seconds": (now - oldest).total_seconds() if oldest else None,
        "dead": row[f"{prefix}_dead"],
    }


async def _workers(client: aioredis.Redis, prefix: str) -> list[dict[str, Any]]:
    workers = []
    async for key in client.scan_iter(match=f"{prefix}:worker:heartbeat:*", count=100):
        raw = await client.get(key)
        if raw is None:
            continue
        name = key.decode().removeprefix(f"{prefix}:worker:heartbeat:")
        text = raw.decode()
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            workers.append({**value, "worker": name, "seen_at": value.get("at", "")})
        else:  # workers before revision 0004 stored the time only
            workers.append({"worker": name, "seen_at": text})
    return sorted(workers, key=lambda w: w["worker"])


async def ops_status(
    db: Database, client: aioredis.Redis, settings: Settings, *, now: datetime
) -> dict[str, Any]:
    """The outbox backlog from PostgreSQL and the live workers from their heartbeats."""
    async with db.connect() as conn:
        row = await outbox_repo.backlog(conn, now=now)
    try:
        workers = await _workers(client, settings.redis_prefix)
        redis_state = "ok"
    except Exception as exc:  # Redis away: the backlog is still worth showing
        workers, redis_state = [], f"error: {type(exc).__name__}"
    outbox, webhooks = _backlog(row, "outbox", now), _backlog(row, "webhooks", now)
    lags = [b["oldest_due_age_seconds"] or 0.0 for b in (outbox, webhooks)]
    healthy = workers and max(lags) < LAG_DEGRADED_SECONDS and redis_state == "ok"
    return {
        "status": "ok" if healthy else "degraded",
        "outbox": outbox,
        "webhooks": webhooks,
        "workers": workers,
        "redis": redis_state,
    }
