"""The audit log (审计日志): who did what, when, from where. Append-only in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import AuditEvent, table_of
from shared.domain.access import Principal

audit_events = table_of(AuditEvent)


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry. `details` must never hold unmasked personal data."""

    occurred_at: datetime
    actor_kind: str
    actor_id: str | None
    actor_label: str | None
    action: str
    outcome: str = "ok"
    target_type: str | None = None
    target_id: str | None = None
    client_ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "occurred_at": self.occurred_at,
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "outcome": self.outcome,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "client_ip": self.client_ip,
            "details": self.details,
        }


@dataclass(frozen=True)
class AuditContext:
    """Who acts, from where, and when: what every audit entry of one request or job shares.

    The one way to build an `AuditRecord`: the API makes one per request (`AuditDep`, from
    the principal, the client address and the request's clock), the worker and the CLI make
    theirs with `system`. Services take this, never the HTTP request."""

    actor_kind: str
    actor_id: str | None
    actor_label: str | None
    client_ip: str | None
    now: datetime

    @classmethod
    def of(
        cls, principal: Principal | None, *, client_ip: str | None, now: datetime
    ) -> AuditContext:
        """A principal's context (None: an anonymous caller, e.g. a failed sign-in)."""
        if principal is None:
            return cls("anonymous", None, None, client_ip, now)
        return cls(principal.kind.value, principal.id, principal.label, client_ip, now)

    @classmethod
    def system(cls, label: str, *, now: datetime, actor_id: str | None = None) -> AuditContext:
        """The SLA worker, a CLI or the start-up acting on its own (no client address)."""
        return cls("system", actor_id, label, None, now)

    def as_actor(
        self, actor_kind: str, actor_id: str | None, actor_label: str | None
    ) -> AuditContext:
        """The same request, recorded as another actor (a customer's survey answer, a sign-in
        whose user is known only once the password is checked)."""
        return AuditContext(actor_kind, actor_id, actor_label, self.client_ip, self.now)

    def record(
        self,
        action: str,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        details: dict[str, Any] | None = None,
        outcome: str = "ok",
    ) -> AuditRecord:
        return AuditRecord(
            occurred_at=self.now,
            actor_kind=self.actor_kind,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            action=action,
            outcome=outcome,
            target_type=target_type,
            target_id=target_id,
            client_ip=self.client_ip,
            details=details or {},
        )


async def append(conn: AsyncConnection, records: Sequence[AuditRecord]) -> None:
    if records:
        await conn.execute(insert(audit_events), [r.row() for r in records])


@dataclass(frozen=True)
class AuditFilters:
    actor_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        c = audit_events.c
        out: list[ColumnElement[bool]] = []
        for name in ("actor_id", "action", "outcome", "target_type", "target_id"):
            value = getattr(self, name)
            if value is not None:
                out.append(c[name] == value)
        if self.occurred_from is not None:
            out.append(c.occurred_at >= self.occurred_from)
        if self.occurred_to is not None:
            out.append(c.occurred_at < self.occurred_to)
        return out


async def count(conn: AsyncConnection, filters: AuditFilters) -> int:
    """How many entries the filters match, over all pages."""
    stmt = select(func.count()).select_from(audit_events).where(and_(true(), *filters.clauses()))
    return int((await conn.execute(stmt)).scalar_one())


async def page(
    conn: AsyncConnection, filters: AuditFilters, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; pass the last id of a page as `before_id` for the next one."""
    clauses = filters.clauses()
    if before_id is not None:
        clauses.append(audit_events.c.id < before_id)
    stmt = (
        select(audit_events)
        .where(and_(true(), *clauses))
        .order_by(audit_events.c.id.desc())
        .limit(limit + 1)
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]
