"""Hourly housekeeping: what the database should not keep, what tomorrow needs ready, and
deadlines left on an outdated calendar.

- idempotency keys older than `KESU_IDEMPOTENCY_TTL_HOURS` (48 by default; the API promises at
  least 24) are purged;
- tomorrow's reference-number sequence (受理号) is created ahead of midnight, so the first
  complaint of the day does not pay for it, and the sequences of days more than a week past
  are dropped (their numbers are all handed out);
- evidence objects no row names (an upload whose process died between storing the file and
  writing its event) are deleted once an hour old (shared.application.evidence_orphans);
- the years the calendar library knows are seeded on a process's first use of the calendar,
  without recomputing anything (any process may be first, inside any transaction): open
  deadlines that seeding made definite are recomputed here, with the `deadlines.recomputed`
  event a calendar change writes (shared.application.recompute). The job runs at start-up too, so a
  worker started with a library that learnt a new year recomputes at once;
- open cases whose deadlines were planned on SLA rules since corrected retroactively (migration
  0013) are planned again under the corrected rules, with a `deadlines.replanned` event each
  (shared.application.replan): at the first start-up after the migration, nothing after.

Idempotent and harmless to run twice or on several workers at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.application.bootstrap import Collaborators
from shared.application.evidence_orphans import remove_orphans
from shared.application.recompute import recompute_stale
from shared.application.replan import replan_superseded
from shared.db import complaints as repo
from shared.domain.reference import local_date

log = logging.getLogger("kesu.worker.housekeeping")


async def housekeeping(ctx: dict[str, Any]) -> dict[str, int]:
    collab: Collaborators = ctx["collab"]
    now = datetime.now(UTC)
    ttl = timedelta(hours=max(24, collab.require_settings().idempotency_ttl_hours))
    today = local_date(now)
    async with collab.db.connect() as conn:
        purged = await repo.purge_idempotency_keys(conn, now - ttl)
        await repo.ensure_reference_sequence(conn, today)
        await repo.ensure_reference_sequence(conn, today + timedelta(days=1))
        dropped = await repo.drop_reference_sequences(conn, today - timedelta(days=7))
    recomputed = await recompute_stale(collab, now=now)
    replanned = await replan_superseded(collab, now=now)
    orphans = await remove_orphans(collab, now=now) if collab.storage is not None else 0
    if purged or dropped or recomputed or replanned or orphans:
        log.info(
            "housekeeping: %d idempotency keys purged, %d sequences dropped, "
            "%d deadlines recomputed, %d complaints replanned on corrected SLA rules, "
            "%d orphaned evidence objects removed",
            purged,
            len(dropped),
            recomputed,
            replanned,
            orphans,
        )
    return {
        "idempotency_keys": purged,
        "sequences": len(dropped),
        "deadlines": recomputed,
        "replanned": replanned,
        "evidence_orphans": orphans,
    }
