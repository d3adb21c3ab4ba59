"""The assessment ledger's use cases (考核, seed 002 §5.4): reading one's entries, a manager's
entries and voids (audited), the monthly statement."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.intake_api.assessment.schemas import EntryIn, EntryOut
from shared.application.bootstrap import Collaborators
from shared.db import assessment as ledger
from shared.db import audit as audit_log
from shared.db import complaints
from shared.db.audit import AuditContext
from shared.domain.access import Principal
from shared.domain.assessment import (
    RULE_LABELS,
    AssessmentRule,
    ledger_scope,
    manual_amount,
    writer_department,
)
from shared.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.domain.reports import Period
from shared.reports.assessment import (
    DepartmentStatement,
    HandlerStatement,
    RuleTotal,
    Statement,
)


async def entries(
    collab: Collaborators,
    principal: Principal,
    *,
    month: date,
    handler_id: uuid.UUID | None,
    department: str | None,
    cursor: int | None,
    limit: int,
    with_count: bool,
) -> tuple[list[EntryOut], int | None, int | None]:
    """A page of the month's entries the reader may see, newest first: (entries, the cursor of
    the next page, the count when asked)."""
    scope = ledger_scope(principal, handler_id=handler_id, department=department)
    period = Period.month_of(month)
    async with collab.db.connect() as conn:
        rows = await ledger.page(
            conn,
            start=period.start,
            end=period.end,
            handler_id=scope.handler_id,
            department=scope.department,
            before_id=cursor,
            limit=limit,
        )
        total = (
            await ledger.count(
                conn,
                start=period.start,
                end=period.end,
                handler_id=scope.handler_id,
                department=scope.department,
            )
            if with_count
            else None
        )
    page = [EntryOut.of(r) for r in rows[:limit]]
    more = len(rows) > limit
    return page, page[-1].id if more and page else None, total


async def add_entry(
    collab: Collaborators, principal: Principal, body: EntryIn, *, audit: AuditContext
) -> EntryOut:
    within = writer_department(principal)
    async with collab.db.begin() as conn:
        rules = await collab.caches.rules.get(conn)
        amount = manual_amount(body.amount, rules.assessment)
        complaint_id = None
        if body.reference is not None:
            found = await complaints.get_row_by_reference(conn, body.reference)
            if found is None:
                raise InvalidInput([FieldError(("body", "reference"), "no such 受理号")])
            complaint_id = found["id"]
        row = await ledger.add(
            conn,
            handler_id=body.handler_id,
            complaint_id=complaint_id,
            reference=body.reference,
            rule=AssessmentRule.PROCEDURE_VIOLATION.value,
            amount=amount,
            reason=body.reason,
            now=audit.now,
            created_by=principal.id,
            within=within,
        )
        if row is None:
            raise NotFound("no such handler (in your department)")
        entry = EntryOut.of(row)
        await audit_log.append(
            conn,
            [
                audit.record(
                    "assessment.entry_added",
                    target_type="assessment_entry",
                    target_id=str(entry.id),
                    details={
                        "handler_id": str(entry.handler_id),
                        "rule": entry.rule.value,
                        "amount": str(entry.amount),
                        "reference": entry.reference,
                    },
                )
            ],
        )
    return entry


async def void_entry(
    collab: Collaborators,
    principal: Principal,
    entry_id: int,
    reason: str,
    *,
    audit: AuditContext,
) -> EntryOut:
    within = writer_department(principal)
    async with collab.db.begin() as conn:
        row = await ledger.void(
            conn, entry_id, now=audit.now, by=principal.id, reason=reason, within=within
        )
        if row is None:
            existing = await ledger.get(conn, entry_id)
            if existing is None or (within is not None and existing["department"] != within):
                raise NotFound("no such assessment entry")
            raise Conflict("the entry was voided already")
        await audit_log.append(
            conn,
            [
                audit.record(
                    "assessment.entry_voided",
                    target_type="assessment_entry",
                    target_id=str(entry_id),
                    details={"reason": reason, "amount": str(row["amount"])},
                )
            ],
        )
    return EntryOut.of(row)


async def statement(
    collab: Collaborators,
    principal: Principal,
    *,
    month: date,
    department: str | None,
    now: datetime,
) -> Statement:
    """The month's entries in force, per handler (by rule) and per department."""
    scope = ledger_scope(principal, handler_id=None, department=department)
    period = Period.month_of(month)
    async with collab.db.connect() as conn:
        rows = await ledger.statement(
            conn,
            start=period.start,
            end=period.end,
            handler_id=scope.handler_id,
            department=scope.department,
        )
    handlers: dict[tuple[Any, Any], HandlerStatement] = {}
    for row in rows:
        key = (row["handler_id"], row["department"])
        line = handlers.get(key)
        if line is None:
            line = handlers[key] = HandlerStatement(
                handler_id=row["handler_id"],
                handler=row["handler"],
                department=row["department"],
                entries=0,
                amount=Decimal(0),
                by_rule=[],
            )
        rule = AssessmentRule(row["rule"])
        line.by_rule.append(
            RuleTotal(
                rule=rule,
                rule_label=RULE_LABELS[rule],
                entries=int(row["entries"]),
                amount=row["amount"],
            )
        )
        line.entries += int(row["entries"])
        line.amount += row["amount"]
    departments: dict[str | None, list[HandlerStatement]] = defaultdict(list)
    for line in handlers.values():
        departments[line.department].append(line)
    return Statement(
        month=f"{month.year:04d}-{month.month:02d}",
        department=scope.department,
        handler_id=scope.handler_id,
        generated_at=now,
        handlers=list(handlers.values()),
        departments=[
            DepartmentStatement(
                department=d,
                handlers=len({h.handler_id for h in lines}),
                entries=sum(h.entries for h in lines),
                amount=sum((h.amount for h in lines), Decimal(0)),
            )
            for d, lines in departments.items()
        ],
        entries=sum(h.entries for h in handlers.values()),
        amount=sum((h.amount for h in handlers.values()), Decimal(0)),
    )
