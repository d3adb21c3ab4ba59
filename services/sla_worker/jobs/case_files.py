"""The yearly case file (案宗): built by the worker early each January for the year before
(shared.application.case_files), and on demand with the CLI
(`python -m services.sla_worker.case_files`). Re-running gives the same archive, so a job that
runs twice (arq is at least once) changes nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared.application.bootstrap import Collaborators
from shared.application.case_files import build_year
from shared.domain.reference import local_date

log = logging.getLogger("kesu.worker.case_files")


async def build_case_files(ctx: dict[str, Any], year: int | None = None) -> list[dict[str, Any]]:
    collab: Collaborators = ctx["collab"]
    year = year or local_date(datetime.now(UTC)).year - 1
    await collab.require_storage().prepare()
    built = await build_year(collab, year)
    for b in built:
        log.info("case file %s: %d cases, %d bytes at %s", b.period, b.cases, b.bytes, b.key)
    return [b.__dict__ for b in built]
