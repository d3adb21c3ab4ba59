"""The notification delivery job (通知投递): an arq cron every 2 seconds on every worker.

The job carries no data: it asks PostgreSQL what is owed. arq may run it twice at once, on one
worker or several (arq #196), or again after a crash (#343); the run
(`services.sla_worker.delivery.run`) makes that harmless.
"""

from __future__ import annotations

from typing import Any

from services.sla_worker.delivery.run import run_deliveries
from services.sla_worker.delivery.runtime import DeliveryRuntime


async def deliver_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron entry point (`services.sla_worker.worker.worker_settings`)."""
    runtime: DeliveryRuntime = ctx["deliveries"]
    return await run_deliveries(runtime)
