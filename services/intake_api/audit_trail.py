"""Writing the audit log from the API: denials (401/403/hidden records).

Changes to complaints write their audit entry inside the change itself (`ComplaintChange.rows`),
so the entry and the change commit together; the other services build theirs from the request's
`AuditContext` (`deps.AuditDep`) in the transaction of their change.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import Request

from shared.db import audit
from shared.db.audit import AuditContext, AuditRecord
from shared.db.engine import Database, DatabaseUnavailable
from shared.domain.access import Principal

log = logging.getLogger("kesu.audit")


async def write(request: Request, records: list[AuditRecord]) -> None:
    db: Database = request.app.state.db
    async with db.connect() as conn:
        await audit.append(conn, records)


async def record_denial(request: Request, status: int, reason: str) -> None:
    """Every denied request is audited. A failure to audit is logged, never turned into a 500:
    the caller is being refused anyway."""
    principal: Principal | None = getattr(request.state, "principal", None)
    # Not `deps.AuditDep`: a denial may come before (or instead of) authentication.
    context = AuditContext.of(
        principal,
        client_ip=request.client.host if request.client else None,
        now=datetime.now(UTC),
    )
    record = context.record(
        "access.denied",
        outcome="denied",
        target_type="path",
        target_id=f"{request.method} {request.url.path}",
        details={"status": status, "reason": reason},
    )
    try:
        await write(request, [record])
    except DatabaseUnavailable:
        pass  # the database's outage is logged once, not per denied request
    except Exception as exc:
        log.warning("could not audit a denied request: %s", type(exc).__name__)
