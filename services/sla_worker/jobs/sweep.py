"""arq entry point of the deadline sweep (时限巡检, shared.application.sweep).

A cron every couple of seconds; it carries no data and may run twice or on several workers at
once (arq #196, #343): PostgreSQL decides, each batch locking its complaints with SKIP LOCKED.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_until_done

log = logging.getLogger("kesu.worker.sweep")


@dataclass
class SweepRecord:
    """When this process last finished a sweep, for its heartbeat. One object per process, put in
    `ctx["sweeps"]` at start-up: arq gives each job a copy of `ctx`, so only a shared object
    carries what a job did back to the process."""

    last_finished_at: datetime | None = None


async def sweep_deadlines(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron: batches until nothing due is left free, or the run's time is up."""
    collab: Collaborators = ctx["collab"]
    taken, escalated = await sweep_until_done(collab, now=lambda: datetime.now(UTC))
    if taken:
        log.info("sweep: %d complaints, %d escalations", taken, escalated)
    record: SweepRecord | None = ctx.get("sweeps")
    if record is not None:
        record.last_finished_at = datetime.now(UTC)
    return {"complaints": taken, "escalations": escalated}
