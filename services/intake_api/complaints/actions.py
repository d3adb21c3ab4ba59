"""Acting on a complaint: load it, check the caller and the ETag, let the domain decide, and write
the events, the new projection and their companion rows in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.intake_api.complaints.service import ensure_visible
from services.intake_api.etags import required_version
from shared.db import accounts
from shared.db import complaints as repo
from shared.db.audit import AuditRecord
from shared.db.changes import StaleVersion, write_change
from shared.db.complaint_effects import Effects, change_for
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.complaint import Actor, ActorKind, ComplaintState
from shared.domain.enums import Satisfaction
from shared.domain.errors import FieldError, InvalidInput, NotFound
from shared.domain.events import Event, stamp
from shared.domain.handling import (
    Command,
    Context,
    assignee_problem,
    decide,
    satisfaction_events,
)
from shared.domain.lifecycle import Action, InvalidTransition
from shared.domain.rules import RoutingRules

# One answer for every survey token that cannot be used (forged, answered, or withdrawn by a
# reopen): nothing about the complaint is revealed to whoever holds the link. Links do not
# expire; they stop working when used or when the result they rate is reopened.
SURVEY_LINK_UNUSABLE = "this survey link is unknown, already used or no longer valid"


async def _check_assignee(
    conn: Any, state: ComplaintState, events: Sequence[Event], routing: RoutingRules
) -> None:
    """An assignee must be an active handling account whose tier reaches the complaint's level;
    a department handler must belong to the department the complaint goes to."""
    for event in events:
        assignee_id = getattr(event, "assignee_id", None)
        department = getattr(event, "department", None)
        if department is not None and await accounts.get_department(conn, department) is None:
            raise InvalidInput([FieldError(("body", "department"), "no such department")])
        if assignee_id is None:
            continue
        user = await accounts.get_user(conn, assignee_id)
        problem = assignee_problem(user, department=department, level=state.level, routing=routing)
        if problem is not None:
            raise InvalidInput([FieldError(("body", "assignee_id"), problem)])


async def act(
    db: Database,
    principal: Principal,
    complaint_id: uuid.UUID,
    action: Action,
    command: Command,
    *,
    if_match: str | None,
    now: datetime,
    client_ip: str | None,
    effects: Effects,
) -> dict[str, Any]:
    expected = required_version(if_match, "complaint")
    async with db.connect() as conn:
        row = await ensure_visible(conn, principal, await repo.get_row(conn, complaint_id))
        state = repo.state_from_row(row)
        if state.version != expected:
            raise StaleVersion(
                f"the complaint is at version {state.version}, not {expected}: reload it"
            )
        ctx = Context(principal=principal, now=now, rules=await effects.rules(conn))
        events = decide(state, action, command, ctx)
        await _check_assignee(conn, state, events, ctx.rules.routing)
        stamped, states = stamp(state, events, actor=principal.actor, now=now)
        new_state = states[-1]
        audit = AuditRecord(
            occurred_at=now,
            actor_kind=principal.kind.value,
            actor_id=principal.id,
            actor_label=principal.label,
            action=f"complaint.{action}",
            target_type="complaint",
            target_id=str(complaint_id),
            client_ip=client_ip,
            details={"events": [e.type for e in events], "version": new_state.version},
        )
        change = await change_for(
            conn, effects, stamped, states, before=state, now=now, audit=audit
        )
        await write_change(conn, change)
    out = new_state.model_dump()
    out["subject_user_id"] = row["subject_user_id"]
    return out


async def answer_survey(
    db: Database,
    effects: Effects,
    *,
    complaint_id: uuid.UUID,
    nonce: str,
    score: Satisfaction,
    comment: str | None,
    now: datetime,
    client_ip: str | None,
) -> None:
    """The customer's answer through the survey link (满意度调查). The link works once: the
    answer clears the invitation's nonce in the same statement that records it."""
    not_found = NotFound(SURVEY_LINK_UNUSABLE)
    async with db.connect() as conn:
        row = await repo.get_row(conn, complaint_id)
        if row is None or not row["survey_nonce"] or row["survey_nonce"] != nonce:
            raise not_found
        state = repo.state_from_row(row)
        events = satisfaction_events(state, score, source="survey", comment=comment)
        customer = Actor(kind=ActorKind.CUSTOMER, id=None)
        try:
            stamped, states = stamp(state, events, actor=customer, now=now)
        except InvalidTransition:
            # An open invitation in a status that takes no rating: the customer learns only
            # that the link is spent, never the complaint's internal state.
            raise not_found from None
        audit = AuditRecord(
            occurred_at=now,
            actor_kind=ActorKind.CUSTOMER.value,
            actor_id=None,
            actor_label="survey",
            action="complaint.survey_answered",
            target_type="complaint",
            target_id=str(complaint_id),
            client_ip=client_ip,
            details={"score": int(score)},
        )
        change = await change_for(
            conn, effects, stamped, states, before=state, now=now, audit=audit
        )
        try:
            await write_change(conn, change)
        except StaleVersion:
            raise not_found from None  # answered twice at once: the first one counts
