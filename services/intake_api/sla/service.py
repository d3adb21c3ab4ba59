"""SLA policies' use cases: read them, create one, change one (a new version each time).

Every change is audited in its own transaction; the process's policy cache is invalidated
after the commit. A change never touches deadlines already planned (see `shared.db.sla`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.db import audit as audit_log
from shared.db import sla as repo
from shared.db.audit import AuditContext, AuditRecord
from shared.db.engine import Database
from shared.db.sla import policy_cache
from shared.domain.errors import NotFound
from shared.domain.sla import SlaPolicy


async def list_policies(db: Database, *, active: bool | None) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        return await repo.list_rows(conn, active=active)


async def get_policy(db: Database, policy_id: int) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_row(conn, policy_id)
    if row is None:
        raise NotFound("no such SLA policy")
    return row


async def list_versions(db: Database, policy_id: int) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        if await repo.get_row(conn, policy_id) is None:
            raise NotFound("no such SLA policy")
        return await repo.list_versions(conn, policy_id)


async def create_policy(
    db: Database, policy: SlaPolicy, *, audit: AuditContext, now: datetime
) -> dict[str, Any]:
    """Recorded (`changed_by`, the audit entry) as the acting principal."""
    async with db.begin() as conn:
        row = await repo.create_policy(conn, policy, now=now, changed_by=audit.actor_label)
        details = {"policy_id": row["id"], "version": 1, "name": policy.name}
        await audit_log.append(conn, [_record(audit, "sla_policy.create", row["id"], details)])
    policy_cache.invalidate()
    return row


async def update_policy(
    db: Database,
    policy_id: int,
    policy: SlaPolicy,
    *,
    audit: AuditContext,
    expected_version: int | None,
    now: datetime,
) -> dict[str, Any]:
    async with db.begin() as conn:
        row = await repo.update_policy(
            conn,
            policy_id,
            policy,
            now=now,
            changed_by=audit.actor_label,
            expected_version=expected_version,
        )
        details = {
            "policy_id": policy_id,
            "version": row["version"],
            "name": policy.name,
            "active": policy.active,
        }
        await audit_log.append(conn, [_record(audit, "sla_policy.update", policy_id, details)])
    policy_cache.invalidate()
    return row


def _record(
    audit: AuditContext, action: str, policy_id: int, details: dict[str, Any]
) -> AuditRecord:
    return audit.record(action, target_type="sla_policy", target_id=str(policy_id), details=details)
