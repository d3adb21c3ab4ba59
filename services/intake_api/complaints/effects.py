"""What a complaint change writes besides its events and projection: the audit entry, the
notifications it owes (outbox) and, with the SLA work, its deadlines. One place computes them
for every kind of change (registration, an action, a survey answer), so they cannot drift."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake_api.auth.secrets import survey_token
from shared.config import Settings
from shared.db import accounts, deadlines
from shared.db.audit import AuditRecord
from shared.db.calendars import CalendarCache, LoadedCalendar, calendar_cache
from shared.db.changes import ComplaintChange, write_change
from shared.db.engine import Database
from shared.db.sla import load_policies, policy_cache
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.deadline_rules import DeadlineChanges, OpenDeadline, deadline_changes
from shared.domain.enums import DeadlineStatus, Level, Role, Stage
from shared.domain.events import ComplaintRegistered, Escalated, Event
from shared.domain.handling import Rules
from shared.domain.notify import Outbox, StaffDirectory, notices
from shared.domain.sla import PolicyBook


@dataclass(frozen=True)
class Effects:
    rules: Rules
    survey_url: Callable[[uuid.UUID, str], str]
    calendars: CalendarCache = calendar_cache

    @classmethod
    def from_settings(cls, settings: Settings, rules: Rules) -> Effects:
        secret = settings.require_jwt_secret()
        base = settings.public_base_url.rstrip("/")

        def survey_url(complaint_id: uuid.UUID, nonce: str) -> str:
            return f"{base}/survey?token={survey_token(secret, complaint_id, nonce)}"

        return cls(rules=rules, survey_url=survey_url)


def _needs_staff(
    stamped: Sequence[tuple[Event, EventMeta]], states: Sequence[ComplaintState]
) -> bool:
    for (event, _), state in zip(stamped, states, strict=True):
        if isinstance(event, Escalated):
            return True
        if isinstance(event, ComplaintRegistered) and state.level is Level.VERY_SERIOUS:
            return True
    return False


@dataclass(frozen=True)
class Companions:
    """Rows inserted with the change (in its one statement), and the changes to deadlines
    already stored (applied in the same transaction, after it)."""

    rows: dict[str, list[dict[str, Any]]]
    deadlines: DeadlineChanges
    calendar_version: int


async def companions(
    conn: AsyncConnection,
    effects: Effects,
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    before: ComplaintState | None,
    now: datetime,
    audit: AuditRecord,
) -> Companions:
    """What the change writes besides its events; `states[i]` is the state after `stamped[i]`."""
    loaded = await effects.calendars.get(conn)
    staff = StaffDirectory()
    if _needs_staff(stamped, states):
        by_role = await accounts.staff_by_role(conn, [Role.MANAGER.value, Role.DIRECTOR.value])
        staff = StaffDirectory(by_role={Role(k): v for k, v in by_role.items()})
    outbox = Outbox(now=now, calendar=loaded.calendar)
    notices(outbox, stamped, states, staff=staff, survey_url=effects.survey_url)
    changes = await _deadline_changes(conn, stamped, states, before=before, calendar=loaded)
    complaint_id = states[-1].id
    planned = []
    for plan in changes.planned:
        row = deadlines.row_for(complaint_id, plan, calendar_version=loaded.version)
        met = plan.stage in changes.met_on_plan
        # Every row of a table gives the same columns (shared.db.changes): status explicit.
        row.update(
            status=(DeadlineStatus.MET if met else DeadlineStatus.PENDING).value,
            met_at=now if met else None,
        )
        planned.append(row)
    rows = {"audit_events": [audit.row()], "outbox": outbox.rows(), "deadlines": planned}
    return Companions(rows=rows, deadlines=changes, calendar_version=loaded.version)


async def _deadline_changes(
    conn: AsyncConnection,
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    before: ComplaintState | None,
    calendar: LoadedCalendar,
) -> DeadlineChanges:
    open_ones: list[OpenDeadline] = []
    cycles: dict[Stage, int] = {}
    if before is None:  # registration: nothing stored yet, the policies in force now
        book = await policy_cache.book(conn)
    else:
        stored = await deadlines.list_for_complaint(conn, before.id)
        open_ones, cycles = deadlines.open_and_cycles(stored)
        # The rules in force when the complaint was registered (changes apply to new ones).
        book = PolicyBook(await load_policies(conn, as_of=before.created_at))
    return deadline_changes(
        stamped, states, before=before, open_deadlines=open_ones, cycles=cycles,
        book=book, calendar=calendar.calendar,
    )  # fmt: skip


async def save(
    db: Database,
    conn: AsyncConnection,
    change: ComplaintChange,
    extra: Companions,
    *,
    now: datetime,
) -> None:
    """Write the change: one statement when it only inserts; one transaction with the updates
    of stored deadlines otherwise (the version guard still decides who wins)."""
    if not extra.deadlines.updates:
        await write_change(conn, change)
        return
    async with db.begin() as tx:
        await write_change(tx, change)
        await deadlines.apply_changes(
            tx, extra.deadlines, at=now, calendar_version=extra.calendar_version
        )
