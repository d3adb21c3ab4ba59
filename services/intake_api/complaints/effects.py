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
from shared.db import accounts
from shared.db.audit import AuditRecord
from shared.db.calendars import CalendarCache, calendar_cache
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.enums import Level, Role
from shared.domain.events import ComplaintRegistered, Escalated, Event
from shared.domain.handling import Rules
from shared.domain.notify import Outbox, StaffDirectory, notices


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


async def companion_rows(
    conn: AsyncConnection,
    effects: Effects,
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    now: datetime,
    audit: AuditRecord,
) -> dict[str, list[dict[str, Any]]]:
    """The rows to write with the change; `states[i]` is the state after `stamped[i]`."""
    calendar = (await effects.calendars.get(conn)).calendar
    staff = StaffDirectory()
    if _needs_staff(stamped, states):
        by_role = await accounts.staff_by_role(conn, [Role.MANAGER.value, Role.DIRECTOR.value])
        staff = StaffDirectory(by_role={Role(k): v for k, v in by_role.items()})
    outbox = Outbox(now=now, calendar=calendar)
    notices(outbox, stamped, states, staff=staff, survey_url=effects.survey_url)
    return {"audit_events": [audit.row()], "outbox": outbox.rows()}
