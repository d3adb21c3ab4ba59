"""Webhook subscriptions, template overrides, and the outbox as ops see it (lists, replay)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, cast, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.cache import TableCache
from shared.db.tables import (
    DeliveryAttempt,
    NotificationTemplate,
    Outbox,
    WebhookDelivery,
    WebhookSubscription,
    table_of,
)
from shared.domain.notify import WebhookInterest

subscriptions = table_of(WebhookSubscription)
templates = table_of(NotificationTemplate)
outbox = table_of(Outbox)
deliveries = table_of(WebhookDelivery)
attempts = table_of(DeliveryAttempt)

# Listing columns: everything but the lease bookkeeping.
_OUTBOX_COLUMNS = [
    c for c in outbox.c if c.name not in {"lease_token", "leased_by", "lease_expires_at", "due_at"}
]
_DELIVERY_COLUMNS = [
    c
    for c in deliveries.c
    if c.name not in {"lease_token", "leased_by", "lease_expires_at", "due_at"}
]


def _one(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


# --- webhook subscriptions ---------------------------------------------------------------------


async def insert_subscription(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(subscriptions).values(**values))


async def webhook_interest(conn: AsyncConnection) -> WebhookInterest:
    """The event patterns of the active subscriptions (no cache)."""
    stmt = select(subscriptions.c.event_types).where(
        subscriptions.c.active, subscriptions.c.deleted_at.is_(None)
    )
    return WebhookInterest(
        frozenset(str(p) for (patterns,) in await conn.execute(stmt) for p in patterns)
    )


class WebhookInterestCache(TableCache[WebhookInterest]):
    """What the webhook subscriptions want, re-read when a subscription is added or changed
    (every change stamps `updated_at`, the worker's 410 too): checked at most every
    `recheck_after` seconds, at once in the process that made the change (`invalidate` after
    its commit). So another process queues a new subscription's events from at most that many
    seconds after it is created; one it no longer wants costs a row the fan-out skips."""

    def __init__(self, *, recheck_after: float = 5.0) -> None:
        stamp = cast(func.extract("epoch", subscriptions.c.updated_at) * 1_000_000, BigInteger)
        super().__init__(stamp, webhook_interest, recheck_after=recheck_after)


webhook_interest_cache = WebhookInterestCache()


async def get_subscription(
    conn: AsyncConnection, subscription_id: uuid.UUID
) -> dict[str, Any] | None:
    stmt = select(subscriptions).where(
        subscriptions.c.id == subscription_id, subscriptions.c.deleted_at.is_(None)
    )
    return _one((await conn.execute(stmt)).first())


async def list_subscriptions(conn: AsyncConnection) -> list[dict[str, Any]]:
    stmt = (
        select(subscriptions)
        .where(subscriptions.c.deleted_at.is_(None))
        .order_by(subscriptions.c.created_at, subscriptions.c.id)
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def update_subscription(
    conn: AsyncConnection, subscription_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    result = await conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.deleted_at.is_(None))
        .values(**values)
    )
    return bool(result.rowcount)


async def skip_pending_deliveries(
    conn: AsyncConnection, subscription_id: uuid.UUID, *, reason: str, now: datetime
) -> int:
    """A deleted subscription is owed nothing more; its log stays."""
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == "pending")
        .values(
            status="skipped",
            last_error=reason,
            delivered_at=now,
            updated_at=now,
            lease_expires_at=None,
            lease_token=None,
            leased_by=None,
        )
    )
    return int(result.rowcount)


# --- templates ---------------------------------------------------------------------------------


async def current_templates(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    """The latest version of every key that has one (a version without body = default)."""
    rows = await conn.execute(
        text(
            "SELECT DISTINCT ON (key) key, version, subject, body, created_by, created_at "
            "FROM notification_templates ORDER BY key, version DESC"
        )
    )
    return {r["key"]: dict(r) for r in rows.mappings()}


async def add_template_version(
    conn: AsyncConnection,
    key: str,
    *,
    subject: str | None,
    body: str | None,
    created_by: uuid.UUID | None,
    now: datetime,
) -> int:
    """Append the next version of `key` (None/None restores the default). Two admins saving
    at once: the primary key (key, version) refuses the second, which the caller retries."""
    version_query = select(func.coalesce(func.max(templates.c.version), 0) + 1).where(
        templates.c.key == key
    )
    version = int((await conn.execute(version_query)).scalar_one())
    await conn.execute(
        insert(templates).values(
            key=key,
            version=version,
            subject=subject,
            body=body,
            created_by=created_by,
            created_at=now,
        )
    )
    return version


# --- the outbox for ops ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxFilters:
    status: str | None = None
    kind: str | None = None
    topic: str | None = None
    complaint_id: uuid.UUID | None = None
    waiting_for: str | None = None


async def list_outbox(
    conn: AsyncConnection, filters: OutboxFilters, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; `limit + 1` rows so the caller knows whether there is a next page."""
    clauses = _outbox_where(filters)
    if before_id is not None:
        clauses.append(outbox.c.id < before_id)
    stmt = select(*_OUTBOX_COLUMNS).where(*clauses).order_by(outbox.c.id.desc()).limit(limit + 1)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


def _outbox_where(filters: OutboxFilters) -> list[Any]:
    clauses = []
    for name in ("status", "kind", "topic", "complaint_id", "waiting_for"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(outbox.c[name] == value)
    return clauses


async def count_outbox(conn: AsyncConnection, filters: OutboxFilters) -> int:
    stmt = select(func.count()).select_from(outbox).where(*_outbox_where(filters))
    return int((await conn.execute(stmt)).scalar_one())


async def get_outbox(conn: AsyncConnection, outbox_id: int) -> dict[str, Any] | None:
    stmt = select(*_OUTBOX_COLUMNS).where(outbox.c.id == outbox_id)
    return _one((await conn.execute(stmt)).first())


async def list_deliveries(
    conn: AsyncConnection,
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    outbox_id: int | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    clauses = _delivery_where(status, subscription_id, outbox_id)
    if before_id is not None:
        clauses.append(deliveries.c.id < before_id)
    stmt = (
        select(*_DELIVERY_COLUMNS, outbox.c.topic)
        .join(outbox, outbox.c.id == deliveries.c.outbox_id)
        .where(*clauses)
        .order_by(deliveries.c.id.desc())
        .limit(limit + 1)
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> dict[str, Any] | None:
    stmt = (
        select(*_DELIVERY_COLUMNS, outbox.c.topic)
        .join(outbox, outbox.c.id == deliveries.c.outbox_id)
        .where(deliveries.c.id == delivery_id)
    )
    return _one((await conn.execute(stmt)).first())


async def attempts_of(
    conn: AsyncConnection, *, outbox_id: int | None = None, delivery_id: int | None = None
) -> list[dict[str, Any]]:
    """The delivery log of an outbox row (all its attempts) or of one webhook delivery."""
    if delivery_id is not None:
        where = attempts.c.webhook_delivery_id == delivery_id
    else:
        where = attempts.c.outbox_id == outbox_id
    stmt = select(attempts).where(where).order_by(attempts.c.id).limit(500)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


def _owed_again(now: datetime) -> dict[str, Any]:
    """A finished row owed again: pending, a fresh budget of attempts, no lease."""
    return {
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_at": None,
        "lease_expires_at": None,
        "lease_token": None,
        "leased_by": None,
        "updated_at": now,
    }


async def replay_outbox(conn: AsyncConnection, outbox_id: int, *, now: datetime) -> bool:
    """Owe a finished row again, with a fresh budget of attempts and the same message id (a
    webhook event is fanned out again: subscriptions that already have a delivery keep it)."""
    c = outbox.c
    owed = {**_owed_again(now), "waiting_for": None}  # a message set aside is owed as well
    stmt = update(outbox).where(c.id == outbox_id, c.status != "pending").values(owed)
    return bool((await conn.execute(stmt)).rowcount)


async def replay_delivery(conn: AsyncConnection, delivery_id: int, *, now: datetime) -> bool:
    """Owe one webhook delivery again; it keeps its `webhook_id` (receivers de-duplicate)."""
    c = deliveries.c
    stmt = (
        update(deliveries)
        .where(c.id == delivery_id, c.status != "pending")
        .values(_owed_again(now))
    )
    return bool((await conn.execute(stmt)).rowcount)


def _delivery_where(
    status: str | None, subscription_id: uuid.UUID | None, outbox_id: int | None
) -> list[Any]:
    clauses = []
    if status is not None:
        clauses.append(deliveries.c.status == status)
    if subscription_id is not None:
        clauses.append(deliveries.c.subscription_id == subscription_id)
    if outbox_id is not None:
        clauses.append(deliveries.c.outbox_id == outbox_id)
    return clauses


async def count_deliveries(
    conn: AsyncConnection,
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    outbox_id: int | None,
) -> int:
    where = _delivery_where(status, subscription_id, outbox_id)
    stmt = select(func.count()).select_from(deliveries).where(*where)
    return int((await conn.execute(stmt)).scalar_one())
