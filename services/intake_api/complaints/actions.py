"""Acting on a complaint: load it, check the caller and the ETag, let the domain decide, and write
the events, the new projection and their companion rows in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.intake_api.complaints.service import (
    Answer,
    Present,
    load_visible,
    presenting,
    viewer_for,
)
from services.intake_api.etags import required_version
from shared.application.bootstrap import Collaborators
from shared.application.complaint_changes import Decision, change_complaints
from shared.db import accounts
from shared.db import complaints as repo
from shared.db.audit import AuditContext
from shared.db.changes import StaleVersion
from shared.domain.access import Principal
from shared.domain.complaint import Actor, ActorKind, ComplaintState
from shared.domain.enums import Satisfaction
from shared.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.domain.events import Event, RepeatLinked
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
    going_to = state.department  # an earlier event of the action may route it (triage)
    for event in events:
        if isinstance(event, RepeatLinked) and await repo.get_row(conn, event.repeat_of) is None:
            raise InvalidInput([FieldError(("body", "repeat_of"), "no such complaint")])
        assignee_id = getattr(event, "assignee_id", None)
        department = getattr(event, "department", None)
        if department is not None and await accounts.get_department(conn, department) is None:
            raise InvalidInput([FieldError(("body", "department"), "no such department")])
        going_to = department or going_to
        if assignee_id is None:
            continue
        user = await accounts.get_user(conn, assignee_id)
        level = getattr(event, "to_level", state.level)  # an escalation hands to the next tier
        problem = assignee_problem(user, department=going_to, level=level, routing=routing)
        if problem is not None:
            raise InvalidInput([FieldError(("body", "assignee_id"), problem)])


async def act(
    collab: Collaborators,
    principal: Principal,
    complaint_id: uuid.UUID,
    action: Action,
    command: Command,
    *,
    if_match: str | None,
    audit: AuditContext,
    present: Present[Answer],
) -> Answer:
    """One lifecycle action: load the complaint, check the ETag, let the domain decide, write
    through the complaint-change pipeline (one statement, guarded by the version). `present`
    builds the answer from the new row, before it is written."""
    expected = required_version(if_match, "complaint")
    now = audit.now
    async with collab.db.connect() as conn:
        row = await load_visible(conn, collab.caches, principal, complaint_id)
        state = repo.state_from_row(row)
        if state.version != expected:
            raise StaleVersion(
                f"the complaint is at version {state.version}, not {expected}: reload it"
            )
        ctx = Context(
            principal=principal,
            now=now,
            rules=await collab.caches.rules.get(conn),
            calendar=(await collab.caches.calendars.get(conn)).calendar,
        )
        events = decide(state, action, command, ctx)
        await _check_assignee(conn, state, events, ctx.rules.routing)
        record = audit.record(
            f"complaint.{action}",
            target_type="complaint",
            target_id=str(complaint_id),
            details={"events": [e.type for e in events], "version": state.version + len(events)},
        )
        answers: list[Answer] = []
        new_assignees = [
            a for e in events if isinstance(a := getattr(e, "assignee_id", None), uuid.UUID)
        ]
        viewer = await viewer_for(
            conn, collab.caches, principal, [row], now=now, more_ids=new_assignees
        )

        def present_row(new_row: dict[str, Any], new_state: ComplaintState) -> Answer:
            return present(
                {**new_row, "subject_user_id": row["subject_user_id"]}, viewer, new_state
            )

        try:
            await change_complaints(
                conn,
                [Decision(before=state, events=events, actor=principal.actor)],
                now=now,
                audit=[record],
                caches=collab.caches,
                survey_url=collab.survey_url,
                before_write=presenting(present_row, answers),
            )
        except StaleVersion:
            if action is Action.CLAIM:
                # Two claims of one case at once: the one written first holds it (认领).
                raise Conflict("this complaint was just claimed by someone else") from None
            raise
    return answers[0]


async def answer_survey(
    collab: Collaborators,
    *,
    complaint_id: uuid.UUID,
    nonce: str,
    score: Satisfaction,
    comment: str | None,
    audit: AuditContext,
) -> None:
    """The customer's answer through the survey link (满意度调查). The link works once: the
    answer clears the invitation's nonce in the same statement that records it. `audit` is
    the customer's (no account: the link is the credential)."""
    not_found = NotFound(SURVEY_LINK_UNUSABLE)
    async with collab.db.connect() as conn:
        row = await repo.get_row(conn, complaint_id)
        if row is None or not row["survey_nonce"] or row["survey_nonce"] != nonce:
            raise not_found
        state = repo.state_from_row(row)
        events = satisfaction_events(state, score, source="survey", comment=comment)
        decision = Decision(before=state, events=events, actor=Actor(kind=ActorKind.CUSTOMER))
        record = audit.record(
            "complaint.survey_answered",
            target_type="complaint",
            target_id=str(complaint_id),
            details={"score": int(score)},
        )
        try:
            await change_complaints(
                conn,
                [decision],
                now=audit.now,
                audit=[record],
                caches=collab.caches,
                survey_url=collab.survey_url,
            )
        except InvalidTransition:
            # An open invitation in a status that takes no rating: the customer learns only
            # that the link is spent, never the complaint's internal state.
            raise not_found from None
        except StaleVersion:
            raise not_found from None  # answered twice at once: the first one counts
