"""Webhook events (签名回调): fan out to subscriptions, then send each delivery."""

from __future__ import annotations

import time
import uuid
from typing import Any

from services.sla_worker.delivery.batch import run_batch
from services.sla_worker.delivery.outcome import DeliveryStatus, settlement_for
from services.sla_worker.delivery.runtime import DeliveryRuntime
from services.sla_worker.delivery.webhooks import deliver_webhook
from services.sla_worker.logs import worker_logger
from shared.db import outbox as repo
from shared.domain.webhook_secrets import webhook_message_id

log = worker_logger("kesu.worker.deliveries")


async def fan_out(runtime: DeliveryRuntime) -> repo.FanOut:
    async with runtime.db.connect() as conn:
        return await repo.fan_out_webhooks(
            conn, now=runtime.clock(), limit=runtime.config.batch_size
        )


async def deliver_webhooks(runtime: DeliveryRuntime) -> list[str]:
    """One batch of due webhook deliveries; returns a label per delivery."""
    lease = runtime.lease()
    token = lease.token
    async with runtime.db.connect() as conn:
        rows = await repo.claim_webhook_deliveries(conn, lease)
    if not rows:
        return []

    async def handle(row: dict[str, Any]) -> str:
        return await _deliver_one(runtime, row, token)

    return await run_batch(
        runtime.db,
        "webhook_deliveries",
        rows,
        token,
        concurrency=runtime.config.concurrency,
        handle=handle,
    )


async def _deliver_one(runtime: DeliveryRuntime, row: dict[str, Any], token: uuid.UUID) -> str:
    if not row["subscription_active"]:
        skipped = repo.Settlement("skipped", error="subscription disabled or deleted")
        await _settle(runtime, row, token, skipped, None)
        return "skipped"
    started = time.monotonic()
    outcome = await deliver_webhook(
        runtime.http,
        url=row["url"],
        secret=row["secret"],
        message_id=webhook_message_id(row["webhook_id"]),
        event_type=row["topic"],
        payload=row["payload"],
        timestamp=runtime.clock(),
        allow=runtime.config.webhook_allow,
        timeout=runtime.config.webhook_timeout,
    )
    now = runtime.clock()
    settlement = settlement_for(outcome, attempts_before=row["attempts"], now=now)
    attempt = repo.Attempt(
        attempted_at=now,
        channel="webhook",
        outcome=outcome.status.value,
        status_code=outcome.http_status,
        error=outcome.error,
        duration_ms=int((time.monotonic() - started) * 1000),
        worker=runtime.worker_id,
    )
    await _settle(
        runtime, row, token, settlement, attempt, gone=outcome.status is DeliveryStatus.GONE
    )
    return "retry" if settlement.status == "pending" else settlement.status


async def _settle(
    runtime: DeliveryRuntime,
    row: dict[str, Any],
    token: uuid.UUID,
    settlement: repo.Settlement,
    attempt: repo.Attempt | None,
    *,
    gone: bool = False,
) -> None:
    now = runtime.clock()
    # One transaction: a 410 disables the subscription together with the delivery's outcome.
    async with runtime.db.begin() as conn:
        applied = await repo.settle(
            conn,
            "webhook_deliveries",
            row_id=row["id"],
            outbox_id=row["outbox_id"],
            token=token,
            attempts_before=row["attempts"],
            settlement=settlement,
            attempt=attempt,
            now=now,
        )
        if gone:
            await repo.disable_subscription(
                conn, row["subscription_id"], reason="receiver answered 410 Gone", now=now
            )
    if not applied:
        log.info("webhook delivery %s: lease lost before its outcome was recorded", row["id"])
    if gone:
        log.warning("webhook subscription %s disabled: 410 Gone", row["subscription_id"])
