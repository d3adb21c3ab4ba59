"""The outbox for ops (发件箱运维): listings, the delivery log, replay of dead letters (死信),
and the delivery status (backlog from PostgreSQL, live workers from their heartbeats)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from services.intake_api.ops.workers import heartbeats
from shared.config import Settings
from shared.db import audit as audit_log
from shared.db import due_deadlines
from shared.db import notifications as repo
from shared.db import outbox as outbox_repo
from shared.db.audit import AuditContext
from shared.db.engine import Database
from shared.domain.errors import Conflict, NotFound
from shared.domain.templates import MessageChannel, redact_credentials
from shared.domain.webhook_secrets import webhook_message_id

LAG_DEGRADED_SECONDS = 60.0


async def list_outbox(
    db: Database,
    filters: repo.OutboxFilters,
    *,
    before_id: int | None,
    limit: int,
    count: bool = False,
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """A page newest first, the id the next page starts before, and (`count`) the total."""
    async with db.connect() as conn:
        rows = await repo.list_outbox(conn, filters, before_id=before_id, limit=limit)
        total = await repo.count_outbox(conn, filters) if count else None
    more = len(rows) > limit
    rows = rows[:limit]
    return [outbox_view(r) for r in rows], rows[-1]["id"] if more and rows else None, total


def outbox_view(row: dict[str, Any]) -> dict[str, Any]:
    # Auditors read the outbox: a survey link in it would let them answer for the customer.
    return {**row, "payload": redact_credentials(row["payload"] or {})}


async def outbox_detail(db: Database, outbox_id: int) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_outbox(conn, outbox_id)
        if row is None:
            raise NotFound("no such outbox row")
        deliveries = await repo.list_deliveries(
            conn,
            status=None,
            subscription_id=None,
            outbox_id=outbox_id,
            before_id=None,
            limit=1000,
        )
        log = await repo.attempts_of(conn, outbox_id=outbox_id)
    return {**outbox_view(row), "deliveries": [delivery_view(d) for d in deliveries], "log": log}


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "webhook_id": webhook_message_id(row["webhook_id"])}


async def list_deliveries(
    db: Database,
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    outbox_id: int | None,
    before_id: int | None,
    limit: int,
    count: bool = False,
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    async with db.connect() as conn:
        rows = await repo.list_deliveries(
            conn,
            status=status,
            subscription_id=subscription_id,
            outbox_id=outbox_id,
            before_id=before_id,
            limit=limit,
        )
        total = None
        if count:
            total = await repo.count_deliveries(
                conn, status=status, subscription_id=subscription_id, outbox_id=outbox_id
            )
    more = len(rows) > limit
    rows = rows[:limit]
    return [delivery_view(r) for r in rows], rows[-1]["id"] if more and rows else None, total


async def delivery_detail(db: Database, delivery_id: int) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_delivery(conn, delivery_id)
        if row is None:
            raise NotFound("no such webhook delivery")
        log = await repo.attempts_of(conn, delivery_id=delivery_id)
    return {**delivery_view(row), "log": log}


async def replay_outbox(
    db: Database, outbox_id: int, *, audit: AuditContext, now: datetime
) -> dict[str, Any]:
    """Owe a dead-lettered (or skipped, or delivered) row again: same message id, a fresh
    budget of attempts; the worker picks it up within seconds."""
    async with db.begin() as conn:
        row = await repo.get_outbox(conn, outbox_id)
        if row is None:
            raise NotFound("no such outbox row")
        if not await repo.replay_outbox(conn, outbox_id, now=now):
            raise Conflict("the row is still pending: it will be attempted anyway")
        record = audit.record(
            "outbox.replay",
            target_type="outbox",
            target_id=str(outbox_id),
            details={"previous_status": row["status"], "topic": row["topic"]},
        )
        await audit_log.append(conn, [record])
        replayed = await repo.get_outbox(conn, outbox_id)
    assert replayed is not None
    return outbox_view(replayed)


async def replay_delivery(
    db: Database, delivery_id: int, *, audit: AuditContext, now: datetime
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
        record = audit.record(
            "webhook_delivery.replay",
            target_type="webhook_delivery",
            target_id=str(delivery_id),
            details={"previous_status": row["status"], "topic": row["topic"]},
        )
        await audit_log.append(conn, [record])
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


async def ops_status(
    db: Database, client: aioredis.Redis, settings: Settings, *, now: datetime
) -> dict[str, Any]:
    """The outbox backlog from PostgreSQL and the live workers from their heartbeats."""
    async with db.connect() as conn:
        row = await outbox_repo.backlog(conn, now=now)
        oldest_due = await due_deadlines.oldest_unhandled(conn, now=now)
    sweep_lag = (now - oldest_due).total_seconds() if oldest_due else 0.0
    try:
        workers = await heartbeats(client, settings.redis_prefix)
        redis_state = "ok"
    except Exception as exc:  # Redis away: the backlog is still worth showing
        workers, redis_state = [], f"error: {type(exc).__name__}"
    outbox, webhooks = _backlog(row, "outbox", now), _backlog(row, "webhooks", now)
    lags = [b["oldest_due_age_seconds"] or 0.0 for b in (outbox, webhooks)] + [sweep_lag]
    healthy = workers and max(lags) < LAG_DEGRADED_SECONDS and redis_state == "ok"
    return {
        "status": "ok" if healthy else "degraded",
        "sweep": {"oldest_unhandled_at": oldest_due, "lag_seconds": sweep_lag},
        "outbox": outbox,
        "webhooks": webhooks,
        "not_configured": {c.value: row[f"not_configured_{c.value}"] for c in MessageChannel},
        "workers": workers,
        "redis": redis_state,
    }
