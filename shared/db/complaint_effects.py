"""What a complaint change writes besides its events and projection: the audit entry, the
notifications it owes (outbox), the deadlines it plans and the stored deadlines it changes.

One place computes them for every kind of change — registration, a staff action, a survey
answer, the SLA worker's warnings and breaches — so the API and the worker cannot drift.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import accounts, deadlines
from shared.db.audit import AuditRecord
from shared.db.calendars import CalendarCache, LoadedCalendar, calendar_cache
from shared.db.changes import ComplaintChange
from shared.db.rule_sets import RulesCache, rules_cache
from shared.db.sla import load_policies, policy_cache
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.deadline_rules import DeadlineChanges, deadline_changes
from shared.domain.enums import DeadlineStatus, Level, Role
from shared.domain.events import (
    ComplaintRegistered,
    DeadlineBreached,
    DeadlineWarned,
    Escalated,
    Event,
)
from shared.domain.handling import Rules
from shared.domain.notify import Outbox, StaffDirectory, notices
from shared.domain.sla import PolicyBook


@dataclass(frozen=True)
class Effects:
    # Survey links customers open (the API knows how to sign them; the worker sends none).
    survey_url: Callable[[uuid.UUID, str], str] | None = None
    calendars: CalendarCache = calendar_cache
    rule_sets: RulesCache = rules_cache

    async def rules(self, conn: AsyncConnection) -> Rules:
        """The rule sets in force (admins' versions, else the seeds' defaults)."""
        return await self.rule_sets.get(conn)


def _needs_staff(
    stamped: Sequence[tuple[Event, EventMeta]], states: Sequence[ComplaintState]
) -> bool:
    for (event, _), state in zip(stamped, states, strict=True):
        if isinstance(event, Escalated | DeadlineBreached | DeadlineWarned):
            return True
        if isinstance(event, ComplaintRegistered) and state.level is Level.VERY_SERIOUS:
            return True
    return False


ALERTED_ROLES = (Role.AGENT, Role.MANAGER, Role.DIRECTOR, Role.ADMIN)


async def staff_directory(conn: AsyncConnection, effects: Effects) -> StaffDirectory:
    by_role = await accounts.staff_by_role(conn, [r.value for r in ALERTED_ROLES])
    routing = (await effects.rules(conn)).routing
    return StaffDirectory(
        by_role={Role(k): v for k, v in by_role.items()}, tier_by_level=routing.tier_by_level
    )


async def change_for(
    conn: AsyncConnection,
    effects: Effects,
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    before: ComplaintState | None,
    now: datetime,
    audit: AuditRecord | None,
    rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    stored: Sequence[Mapping[str, Any]] | None = None,
    staff: StaffDirectory | None = None,
    book: PolicyBook | None = None,
) -> ComplaintChange:
    """The whole change: events, the projection after them, and every companion row.
    `states[i]` is the state after `stamped[i]`; `before` is None for a registration.

    `stored` (the complaint's deadlines), `staff` and `book` may be given by callers that
    loaded them already for many complaints (the SLA worker's batches, which also write one
    audit entry per batch rather than one per complaint: `audit=None`).
    """
    loaded = await effects.calendars.get(conn)
    if staff is None:
        staff = (
            await staff_directory(conn, effects)
            if _needs_staff(stamped, states)
            else StaffDirectory()
        )
    outbox = Outbox(now=now, calendar=loaded.calendar)
    notices(outbox, stamped, states, staff=staff, survey_url=effects.survey_url)
    if before is not None and stored is None:
        stored = await deadlines.list_for_complaint(conn, before.id)
    if book is None:
        book = (
            await policy_cache.book(conn)
            if before is None  # registration: the policies in force now
            # The rules in force when the complaint was registered (changes apply to new ones).
            else PolicyBook(await load_policies(conn, as_of=before.created_at))
        )
    planned, updated = _deadline_rows(
        stamped, states, before=before, stored=stored or (), book=book, calendar=loaded, now=now
    )
    state = states[-1]
    return ComplaintChange(
        complaint_id=state.id,
        expected_version=None if before is None else before.version,
        state=state,
        events=stamped,
        rows={
            **(rows or {}),
            "audit_events": [audit.row()] if audit is not None else [],
            "outbox": outbox.rows(),
            "deadlines": planned,
        },
        updates={"deadlines": updated},
        previous=before,
    )


def _deadline_rows(
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    before: ComplaintState | None,
    stored: Sequence[Mapping[str, Any]],
    book: PolicyBook,
    calendar: LoadedCalendar,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    open_ones, cycles = deadlines.open_and_cycles(stored)
    changes: DeadlineChanges = deadline_changes(
        stamped,
        states,
        before=before,
        open_deadlines=open_ones,
        cycles=cycles,
        book=book,
        calendar=calendar.calendar,
    )
    complaint_id = states[-1].id
    planned = []
    for plan in changes.planned:
        row = deadlines.row_for(complaint_id, plan, calendar_version=calendar.version)
        met = plan.stage in changes.met_on_plan
        # Every row of a table gives the same columns (shared.db.changes): status explicit.
        row.update(
            status=(DeadlineStatus.MET if met else DeadlineStatus.PENDING).value,
            met_at=now if met else None,
        )
        planned.append(row)
    updated = deadlines.changed_rows(stored, changes, at=now, calendar_version=calendar.version)
    return planned, updated
