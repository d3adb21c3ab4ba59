"""Writing the audit log from the API: denials (401/403/hidden records) and explicit entries.

Changes to complaints write their audit entry inside the change itself (`ComplaintChange.rows`),
so the entry and the change commit together; this module is for everything else.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from shared.db import audit
from shared.db.audit import AuditRecord
from shared.db.engine import Database
from shared.domain.access import Principal

log = logging.getLogger("kesu.audit")


def audit_record(
    request: Request,
    principal: Principal | None,
    action: str,
    *,
    now: datetime,
    outcome: str = "ok",
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    return AuditRecord(
        occurred_at=now,
        actor_kind=principal.kind.value if principal else "anonymous",
        actor_id=principal.id if principal else None,
        actor_label=principal.label if principal else None,
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        client_ip=request.client.host if request.client else None,
        details=details or {},
    )


async def write(request: Request, records: list[AuditRecord]) -> None:
    db: Database = request.app.state.db
    async with db.connect() as conn:
        await audit.append(conn, records)


async def record_denial(request: Request, status: int, reason: str) -> None:
    """Every denied request is audited. A failure to audit is logged, never turned into a 500:
    the caller is being refused anyway."""
    principal: Principal | None = getattr(request.state, "principal", None)
    record = audit_record(
        request,
        principal,
        "access.denied",
        now=datetime.now(UTC),
        outcome="denied",
        target_type="path",
        target_id=f"{request.method} {request.url.path}",
        details={"status": status, "reason": reason},
    )
    try:
        await write(request, [record])
    except Exception as exc:
        log.warning("could not audit a denied request: %s", type(exc).__name__)
