"""One delivery run (通知投递): what the delivery job does each time it fires.

The run carries no data: it asks PostgreSQL what is owed. Claims with FOR UPDATE SKIP LOCKED and
leases (`shared.db.outbox`) make two runs at once, on one worker or several, harmless. One run:

1. fans due webhook events out to their subscriptions (one statement: claim, insert the
   deliveries, mark the events dispatched);
2. claims a batch of due messages and a batch of due webhook deliveries, sends them
   concurrently outside any transaction, settles each as it finishes;
3. repeats while a claim came back full (a backlog), for at most `run_seconds`, so a run
   stays short, a backlog drains over consecutive runs, and SIGTERM finds at most one batch in
   hand. A batch that was not full took all that was due: what falls due meanwhile waits for
   the next run (the cron fires every 2 s) rather than being chased a row or two at a time,
   which under a steady stream of registrations cost about a statement per row.

Delivery is at least once: a worker killed between sending and settling leaves the row leased;
after the lease it is sent again with the same message id / ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from services.sla_worker.delivery.message_deliveries import deliver_messages
from services.sla_worker.delivery.runtime import DeliveryRuntime
from services.sla_worker.delivery.webhook_deliveries import deliver_webhooks, fan_out
from services.sla_worker.logs import worker_logger

log = worker_logger("kesu.worker.deliveries")


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
        full = runtime.config.batch_size
        backlog = max(fanned.events, len(messages), len(webhooks)) >= full
        if not (worked and backlog) or time.monotonic() >= deadline:
            break
    runtime.totals.update(totals)
    runtime.last_run_at = runtime.clock()
    # A summary when something happened; an idle run (every 2 s) logs nothing.
    happened = {label: count for label, count in totals.items() if count}
    if happened:
        log.info("deliveries: %s", happened)
    return dict(totals)
