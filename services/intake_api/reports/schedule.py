"""Report subscriptions (报表订阅, admins) and the kept scheduled reports (readers)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from shared.application.bootstrap import Collaborators
from shared.db import audit as audit_log
from shared.db import report_schedule as repo
from shared.db.audit import AuditContext
from shared.domain.access import Principal
from shared.domain.complaint import ActorKind
from shared.domain.enums import Role
from shared.domain.errors import FieldError, Forbidden, InvalidInput, NotFound
from shared.domain.reports import report_scope


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def subscription_out(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["recipient_ids"] = _json(data["recipient_ids"])
    return data


async def _check_recipients(
    collab: Collaborators, ids: list[uuid.UUID], department: str | None
) -> None:
    """Recipients are active staff who may read the report they are sent (a department's
    manager only their department's): a report must not reach someone it is hidden from."""
    async with collab.db.connect() as conn:
        found = {r["id"]: r for r in await repo.recipients(conn, ids)}
    for i, rid in enumerate(ids):
        row = found.get(rid)
        if row is None or not row["is_active"] or not _may_read(row, department):
            raise InvalidInput(
                [
                    FieldError(
                        ("body", "recipient_ids", i),
                        "not an active staff member who may read this report",
                    )
                ]
            )


def _may_read(user: Any, department: str | None) -> bool:
    principal = Principal(
        kind=ActorKind.USER,
        id=str(user["id"]),
        label="recipient",
        role=Role(user["role"]),
        department=user["department"],
    )
    try:
        return report_scope(principal, department) == department
    except Forbidden:
        return False


async def add(
    collab: Collaborators,
    *,
    kind: str,
    department: str | None,
    recipient_ids: list[uuid.UUID],
    active: bool,
    audit: AuditContext,
) -> dict[str, Any]:
    await _check_recipients(collab, recipient_ids, department)
    async with collab.db.begin() as conn:
        row = await repo.add_subscription(
            conn,
            kind=kind,
            department=department,
            recipient_ids=recipient_ids,
            active=active,
            created_by=audit.actor_id,
            now=audit.now,
        )
        await audit_log.append(
            conn,
            [
                audit.record(
                    "report_subscription.created",
                    target_type="report_subscription",
                    target_id=str(row["id"]),
                    details={"kind": kind, "department": department},
                )
            ],
        )
    return subscription_out(row)


async def replace(
    collab: Collaborators,
    subscription_id: uuid.UUID,
    *,
    department: str | None,
    recipient_ids: list[uuid.UUID],
    active: bool,
    audit: AuditContext,
) -> dict[str, Any]:
    async with collab.db.connect() as conn:
        if await repo.get_subscription(conn, subscription_id) is None:
            raise NotFound("no such report subscription")
    await _check_recipients(collab, recipient_ids, department)
    async with collab.db.begin() as conn:
        row = await repo.update_subscription(
            conn,
            subscription_id,
            department=department,
            recipient_ids=recipient_ids,
            active=active,
            now=audit.now,
        )
        if row is None:
            raise NotFound("no such report subscription")
        await audit_log.append(
            conn,
            [
                audit.record(
                    "report_subscription.changed",
                    target_type="report_subscription",
                    target_id=str(subscription_id),
                    details={"department": department, "active": active},
                )
            ],
        )
    return subscription_out(row)


async def remove(collab: Collaborators, subscription_id: uuid.UUID, *, audit: AuditContext) -> None:
    async with collab.db.begin() as conn:
        if not await repo.delete_subscription(conn, subscription_id):
            raise NotFound("no such report subscription")
        await audit_log.append(
            conn,
            [
                audit.record(
                    "report_subscription.deleted",
                    target_type="report_subscription",
                    target_id=str(subscription_id),
                )
            ],
        )


async def listed(collab: Collaborators) -> list[dict[str, Any]]:
    async with collab.db.connect() as conn:
        return [subscription_out(r) for r in await repo.subscriptions(conn)]


async def runs(
    collab: Collaborators,
    principal: Principal,
    *,
    before_id: int | None,
    limit: int,
    count: bool = False,
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """The kept reports the reader may see, newest first (a department's manager: theirs), the
    id the next page starts before, and with `count` how many there are."""
    scope = report_scope(principal, None)
    async with collab.db.connect() as conn:
        rows = await repo.runs(conn, scope=scope, before_id=before_id, limit=limit)
        total = await repo.count_runs(conn, scope=scope) if count else None
    page = [dict(r) for r in rows[:limit]]
    return page, page[-1]["id"] if len(rows) > limit and page else None, total


async def run(collab: Collaborators, principal: Principal, run_id: int) -> dict[str, Any]:
    """One kept report with its data; 404 when unknown or out of the reader's scope."""
    scope = report_scope(principal, None)
    async with collab.db.connect() as conn:
        row = await repo.get_run(conn, run_id)
        if row is None or (scope is not None and row["scope"] != scope):
            raise NotFound("no such report run")
        files = await repo.run_files(conn, run_id)
    assert files is not None
    data = dict(row)
    data["report"] = _json(data["report"])
    data["files"] = files
    return data
