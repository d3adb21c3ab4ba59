"""考核: the entries against handlers (seed 002 §5.4 违规处罚规定; SPEC §6).

Two kinds of entry follow from what happens to a complaint and are made by the change pipeline
itself (`automatic_entries`, called by `shared.application.complaint_changes._derive`):

- §5.4.1.1 first contact missed: the first-contact deadline (1 working day to 应诉) breached,
  against whoever held the case when it was breached; an unassigned case is the registering
  staff member's (受理人), and a case registered by an integration and never assigned is no one's;
- §5.4.1.3 survey not done: a case of a kind that owes the 回访 closed (结案) with neither a
  satisfaction recorded nor the customer recorded unreachable after the attempts, against its
  handler (the closure rules' `require_satisfaction`, on by default, refuses such a 结案; a
  company that turns it off gets the entry instead).

§5.4.1.2 procedure violations are entered by managers (`manual_amount` checks the amount).
Amounts are rule data (`shared.domain.rules.AssessmentRules`). Pure: no clock, no database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shared.domain.access import Principal
from shared.domain.complaint import ActorKind, ComplaintState, EventMeta
from shared.domain.enums import Role, Stage
from shared.domain.errors import FieldError, Forbidden, InvalidInput
from shared.domain.events import Closed, DeadlineBreached, Event
from shared.domain.reports import DEPARTMENT_BOUND_READERS, report_scope
from shared.domain.rules import AssessmentRules


class AssessmentRule(StrEnum):
    FIRST_CONTACT_MISSED = "first_contact_missed"  # seed 002 §5.4.1.1
    PROCEDURE_VIOLATION = "procedure_violation"  # seed 002 §5.4.1.2 (manual)
    SURVEY_NOT_DONE = "survey_not_done"  # seed 002 §5.4.1.3


RULE_LABELS: dict[AssessmentRule, str] = {
    AssessmentRule.FIRST_CONTACT_MISSED: "未在1个工作日内应诉",
    AssessmentRule.PROCEDURE_VIOLATION: "未按受理权责及业务指引操作",
    AssessmentRule.SURVEY_NOT_DONE: "处理完毕后未做满意度回访",
}


@dataclass(frozen=True)
class AutomaticEntry:
    """An entry a complaint change makes. `key` names the fact it is for, so a fact replayed
    (a sweep run twice) never makes a second entry."""

    key: str
    handler_id: uuid.UUID
    complaint_id: uuid.UUID
    reference: str
    rule: AssessmentRule
    amount: Decimal
    occurred_at: datetime


def _held_by(state: ComplaintState, assignee: uuid.UUID | None) -> uuid.UUID | None:
    if assignee is not None:
        return assignee
    if state.created_by_kind == ActorKind.USER.value and state.created_by_id:
        try:
            return uuid.UUID(state.created_by_id)
        except ValueError:
            return None
    return None


def automatic_entries(
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    rules: AssessmentRules,
) -> list[AutomaticEntry]:
    """The entries the events of one change make (`states[i]` is the state after event i)."""
    entries = []
    for (event, meta), state in zip(stamped, states, strict=True):
        if isinstance(event, DeadlineBreached) and event.stage is Stage.FIRST_CONTACT:
            handler = _held_by(state, event.assignee_id)
            if handler is not None:
                entries.append(
                    AutomaticEntry(
                        key=f"{AssessmentRule.FIRST_CONTACT_MISSED}:{event.deadline_id}",
                        handler_id=handler,
                        complaint_id=state.id,
                        reference=state.reference,
                        rule=AssessmentRule.FIRST_CONTACT_MISSED,
                        amount=rules.first_contact_missed,
                        occurred_at=meta.occurred_at,
                    )
                )
        elif (
            isinstance(event, Closed)
            and state.satisfaction is None
            and (state.followup is None or state.followup.unreachable_at is None)
            and state.kind in rules.survey_required_kinds
        ):
            handler = _held_by(state, state.assignee_id)
            if handler is not None:
                entries.append(
                    AutomaticEntry(
                        key=f"{AssessmentRule.SURVEY_NOT_DONE}:{state.id}:{meta.seq}",
                        handler_id=handler,
                        complaint_id=state.id,
                        reference=state.reference,
                        rule=AssessmentRule.SURVEY_NOT_DONE,
                        amount=rules.survey_not_done,
                        occurred_at=meta.occurred_at,
                    )
                )
    return entries


def manual_amount(amount: Decimal | None, rules: AssessmentRules) -> Decimal:
    """A manager's entry for a procedure violation (§5.4.1.2): within the rules' range, the
    lower end when no amount is given."""
    if amount is None:
        return rules.procedure_violation_min
    low, high = rules.procedure_violation_min, rules.procedure_violation_max
    if not low <= amount <= high:
        raise InvalidInput(
            [FieldError(("body", "amount"), f"the amount must lie between {low} and {high} 元")]
        )
    return amount


# Who adds and voids entries (§5.4.1.2: the managers; directors above them).
ASSESSMENT_WRITERS: frozenset[Role] = frozenset({Role.MANAGER, Role.DIRECTOR})
# Who read their own entries only.
SELF_READERS: frozenset[Role] = frozenset({Role.HANDLER, Role.AGENT})


@dataclass(frozen=True)
class LedgerScope:
    """The entries a reader sees: one handler's, one department's, or all (None, None)."""

    handler_id: uuid.UUID | None
    department: str | None


def ledger_scope(
    principal: Principal, *, handler_id: uuid.UUID | None, department: str | None
) -> LedgerScope:
    """Handlers and agents see their own entries; report readers (shared.domain.reports) see
    their department's (a department's manager) or everyone's."""
    if principal.role in SELF_READERS and principal.user_id is not None:
        if handler_id is not None and handler_id != principal.user_id:
            raise Forbidden("Handlers and agents see their own assessment entries only.")
        return LedgerScope(principal.user_id, None)
    return LedgerScope(handler_id, report_scope(principal, department))


def writer_department(principal: Principal) -> str | None:
    """The department a writer's entries are confined to (None: any)."""
    if principal.role not in ASSESSMENT_WRITERS:
        raise Forbidden("Assessment entries are added and voided by managers and directors.")
    return principal.department if principal.role in DEPARTMENT_BOUND_READERS else None
