"""The notification delivery job (通知投递): an arq cron every 2 seconds on every worker.

The job carries no data: it asks PostgreSQL what is owed. arq may run it twice at once, on one
worker or several (arq #196), or again after a crash (#343); claims with FOR UPDATE SKIP LOCKED
and leases (`shared.db.outbox`) make that harmless. One run:

1. fans due webhook events out to their subscriptions (one statement: claim, insert the
   deliveries, mark the events dispatched);
2. claims a batch of due messages and a batch of due webhook deliveries, sends them
   concurrently outside any transaction, settles each as it finishes;
3. repeats while there was work, for at most `run_seconds`, so a run stays short, a backlog
   drains over consecutive runs, and SIGTERM finds at most one batch in hand.

Delivery is at least once: a worker killed between sending and settling leaves the row leased;
after the lease it is sent again with the same message id / ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from services.sla_worker.jobs.delivery_runtime import DeliveryRuntime
from services.sla_worker.jobs.message_sender import deliver_messages
from services.sla_worker.jobs.webhook_sender import deliver_webhooks, fan_out
from services.sla_worker.logs import worker_logger

log = worker_logger("kesu.worker.deliveries")

# Seconds of the minute the cron fires on: every 2 s.
CRON_SECONDS = frozenset(range(0, 60, 2))


async def deliver_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron entry point (`WorkerSettings.cron_jobs`)."""
    runtime: DeliveryRuntime = ctx["deliveries"]
    return await run_deliveries(runtime)


async def run_deliveries(
    runtime: DeliveryRuntime, *, run_seconds: float | None = None
) -> dict[str, int]:
    """Deliver what is due until nothing is or the time budget is spent; returns counts."""
    budget = runtime.config.run_seconds if run_seconds is None else run_seconds
    deadline = time.monotonic() + budget
    totals: Counter[str] = Counter()
    while True:
        fanned = await fan_out(runtime)
        totals["events_dispatched"] += fanned.events
        totals["deliveries_created"] += fanned.deliveries
        messages, webhooks = await asyncio.gather(
            deliver_messages(runtime), deliver_webhooks(runtime)
        )
        totals.update(f"message_{label}" for label in messages)
        totals.update(f"webhook_{label}" for label in webhooks)
        # Rows that failed unexpectedly stay leased; they are no reason to go round again.
        worked = fanned.events or any(label != "error" for label in messages + webhooks)
        if not worked or time.monotonic() >= deadline:
            break
    runtime.totals.update(totals)
    runtime.last_run_at = runtime.clock()
    if totals:
        log.info("deliveries: %s", dict(totals))
    return dict(totals)
