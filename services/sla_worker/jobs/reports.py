"""The scheduled reports (定期报表): every five minutes, produce the subscribed reports that are
due (09:00 on the first working day after their period) and queue their e-mails. Several
workers may run it at once: each period's report is claimed once (shared.application.
report_schedule); the e-mails then go out with the other deliveries, retried like them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared.application.bootstrap import Collaborators
from shared.application.report_schedule import produce_due_reports

log = logging.getLogger("kesu.worker.reports")


async def produce_reports(ctx: dict[str, Any]) -> int:
    collab: Collaborators = ctx["collab"]
    made = await produce_due_reports(collab, now=datetime.now(UTC))
    for run in made:
        log.info(
            "report %s (%s, %s) produced as run %d; %d e-mails queued",
            run.kind.value,
            run.scope or "all",
            run.period.label,
            run.run_id,
            run.emails,
        )
    return len(made)
