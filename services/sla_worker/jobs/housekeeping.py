"""Hourly housekeeping: what the database should not keep, and what tomorrow needs ready.

- idempotency keys older than `KESU_IDEMPOTENCY_TTL_HOURS` (48 by default; the API promises at
  least 24) are purged;
- tomorrow's reference-number sequence (受理号) is created ahead of midnight, so the first
  complaint of the day does not pay for it, and the sequences of days more than a week past
  are dropped (their numbers are all handed out).

Idempotent and harmless to run twice or on several workers at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import get_settings
from shared.db import complaints as repo
from shared.db.engine import Database
from shared.domain.reference import local_date

log = logging.getLogger("kesu.worker.housekeeping")


async def housekeeping(ctx: dict[str, Any]) -> dict[str, int]:
    db: Database = ctx["db"]
    now = datetime.now(UTC)
    ttl = timedelta(hours=max(24, get_settings().idempotency_ttl_hours))
    today = local_date(now)
    async with db.connect() as conn:
        purged = await repo.purge_idempotency_keys(conn, now - ttl)
        await repo.ensure_reference_sequence(conn, today)
        await repo.ensure_reference_sequence(conn, today + timedelta(days=1))
        dropped = await repo.drop_reference_sequences(conn, today - timedelta(days=7))
    if purged or dropped:
        log.info("housekeeping: %d idempotency keys purged, %d sequences dropped",
                 purged, len(dropped))  # fmt: skip
    return {"idempotency_keys": purged, "sequences": len(dropped)}
