"""Who is told what when a complaint changes (通知, SPEC §5): the outbox rows an event owes.

Every event goes to webhook subscribers (ids and non-personal fields only). Customers hear of
registration (with the 受理号, unless the channel says not to: `notify_customer`), progress
replies, the solution, the result and the survey; staff hear of assignments and escalations,
and level-3 cases alert management at once. Staff alerts that are not urgent wait for working
hours — nobody is woken at midnight for a level-1 matter.

Rows carry no customer contact data: the worker resolves the address at send time, and never
sends a complaint's notices to the staff member it is about (recusal). This module is pure: the
people to tell (`StaffDirectory`) and the calendar are given to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.access import DEFAULT_TIER_BY_LEVEL
from shared.domain.calendar import BusinessCalendar
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.enums import DurationUnit, Level, Role
from shared.domain.events import (
    Assigned,
    ComplaintRegistered,
    CustomerReplySent,
    DeadlineBreached,
    DeadlineWarned,
    Escalated,
    Event,
    MarkedInvalid,
    Resolved,
    SatisfactionRecorded,
    SolutionApproved,
    SolutionProposed,
)
from shared.domain.templates import TemplateKey


@dataclass(frozen=True)
class StaffDirectory:
    """The staff to alert, by role: `(user id, department)` pairs of active accounts, and which
    tier handles each level (the routing rules in force)."""

    by_role: Mapping[Role, Sequence[tuple[uuid.UUID, str | None]]] = field(default_factory=dict)
    tier_by_level: Mapping[Level, Role] = field(default_factory=lambda: DEFAULT_TIER_BY_LEVEL)
    # The routing rules' `report_to_manager_from`: the level from which the responsible
    # department's managers are told at once as well (seed 002 §5.1.1.3).
    report_to_manager_from: Level | None = Level.VERY_SERIOUS

    def tier(self, role: Role, department: str | None) -> list[uuid.UUID]:
        """Everyone of `role` whose scope covers the department (company-wide ones included)."""
        return [
            user_id
            for user_id, dept in self.by_role.get(role, ())
            if dept is None or department is None or dept == department
        ]


def webhook_payload(state: ComplaintState, event: Event, meta: EventMeta) -> dict[str, Any]:
    """Ids and non-personal fields only."""
    return {
        "complaint_id": str(state.id),
        "reference": state.reference,
        "event": event.type,
        "seq": meta.seq,
        "occurred_at": meta.occurred_at.isoformat(),
        "status": state.status.value,
        "level": int(state.level),
        "kind": state.kind.value,
        "category": state.category.value,
        "department": state.department,
        "assignee_id": str(state.assignee_id) if state.assignee_id else None,
    }


class Outbox:
    """Collects the outbox rows of one change (`rows()`: the columns each row gives; the
    writer's `OutboxRow` names them all)."""

    def __init__(self, *, now: datetime, calendar: BusinessCalendar) -> None:
        self._now = now
        self._calendar = calendar
        self._rows: list[dict[str, Any]] = []

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def webhook(self, state: ComplaintState, event: Event, meta: EventMeta) -> None:
        self._rows.append(
            {
                "created_at": self._now,
                "available_at": self._now,
                "kind": "webhook",
                "topic": event.type,
                "complaint_id": state.id,
                "event_seq": meta.seq,
                "payload": webhook_payload(state, event, meta),
            }
        )

    def customer(
        self, state: ComplaintState, meta: EventMeta, topic: str, key: TemplateKey, **values: str
    ) -> None:
        self._rows.append(
            {
                "created_at": self._now,
                "available_at": self._now,
                "kind": "message",
                "topic": topic,
                "complaint_id": state.id,
                "event_seq": meta.seq,
                "payload": {"reference": state.reference, **values},
                "template_key": key.value,
                "audience": "customer",
            }
        )

    def staff(
        self,
        state: ComplaintState,
        meta: EventMeta,
        topic: str,
        key: TemplateKey,
        recipients: Sequence[uuid.UUID],
        *,
        urgent: bool,
        **values: str,
    ) -> None:
        subject = state.subject.staff_user_id if state.subject else None
        available = self._now if urgent else self._working_moment()
        for user_id in dict.fromkeys(recipients):  # once each, in order
            if user_id == subject:
                continue  # recusal: never told about a complaint about themselves
            self._rows.append(
                {
                    "created_at": self._now,
                    "available_at": available,
                    "kind": "message",
                    "topic": topic,
                    "complaint_id": state.id,
                    "event_seq": meta.seq,
                    "payload": {
                        "reference": state.reference,
                        "level": str(int(state.level)),
                        "department": state.department or "",
                        **values,
                    },
                    "template_key": key.value,
                    "audience": "staff",
                    "recipient_user_id": user_id,
                }
            )

    def _working_moment(self) -> datetime:
        """Now if it is working time, else the start of the next working hours."""
        return self._calendar.add(self._now, 0, DurationUnit.BUSINESS_HOURS).at


def _holders(state: ComplaintState, staff: StaffDirectory) -> list[uuid.UUID]:
    """Who holds the case: its assignee, else the tier its level belongs to (level 1 goes to
    the service managers: no single agent holds an unassigned case)."""
    if state.assignee_id is not None:
        return [state.assignee_id]
    tier = staff.tier_by_level[max(state.level, Level.SERIOUS)]
    return staff.tier(tier, state.department)


def _offered(event: SolutionProposed | SolutionApproved, state: ComplaintState) -> bool:
    """Whether this event puts the solution before the customer: when it is proposed if it
    needs no approval, else when the approval it needs is given. The customer is never promised
    a compensation that a manager or director (审批) may still refuse."""
    solution = state.solution
    if solution is None or not solution.approved:
        return False
    if isinstance(event, SolutionProposed):
        return True
    before = solution.model_copy(update={"approvals": solution.approvals[:-1]})
    return not before.approved


def _management(state: ComplaintState, staff: StaffDirectory) -> list[uuid.UUID]:
    """The director and management (三级受理人, seed 002 §4.2.3: 销售中心总监 and the company's
    行政管理中心): the director-role accounts over the complaint's department and the
    company-wide ones (no department). Managers (二级) and admins (who run the system, not
    complaints) are not management here."""
    return staff.tier(Role.DIRECTOR, state.department)


def _level3_alerted(state: ComplaintState, staff: StaffDirectory) -> list[uuid.UUID]:
    """Seed 002 §5.1.1.3 and seed 003 「重大投诉,必须马上报告部门经理」: the responsible
    department's managers (二级) hear of a level-3 case at once, with the directors."""
    managers: list[uuid.UUID] = []
    reported = staff.report_to_manager_from
    if reported is not None and state.level >= reported:
        managers = staff.tier(Role.MANAGER, state.department)
    return [*managers, *_management(state, staff)]


_ROLES = frozenset(Role)  # StrEnum members: a policy's plain role names are found in it


def _breach_recipients(
    state: ComplaintState, event: DeadlineBreached, staff: StaffDirectory
) -> list[uuid.UUID]:
    """The stage policy's `notify` list (assignee, agent, manager, director, admin); a level-3
    breach tells the director and management whatever the policy says (SPEC §5)."""
    recipients: list[uuid.UUID] = []
    for who in event.notify:
        if who == "assignee":
            recipients.extend(_holders(state, staff))
        elif who in _ROLES:
            recipients.extend(staff.tier(Role(who), state.department))
    if state.level is Level.VERY_SERIOUS:
        recipients.extend(_management(state, staff))
    return recipients


def notices(
    outbox: Outbox,
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    staff: StaffDirectory,
    survey_url: Callable[[uuid.UUID, str], str] | None = None,
) -> None:
    """Add to `outbox` what each event of a change owes; `states[i]` is the state after event i."""
    for (event, meta), state in zip(stamped, states, strict=True):
        outbox.webhook(state, event, meta)
        topic = event.type
        if isinstance(event, ComplaintRegistered):
            # The one place `notify_customer` counts: the channel may have given the 受理号
            # already (a walk-in, a call); the later messages are owed whatever it said.
            if state.notify_customer:
                outbox.customer(state, meta, topic, TemplateKey.COMPLAINT_ACKNOWLEDGED)
            if state.level is Level.VERY_SERIOUS:
                outbox.staff(
                    state,
                    meta,
                    topic,
                    TemplateKey.LEVEL3_ALERT,
                    _level3_alerted(state, staff),
                    urgent=True,
                )
        elif isinstance(event, Assigned) and state.assignee_id is not None:
            outbox.staff(
                state,
                meta,
                topic,
                TemplateKey.ASSIGNMENT,
                [state.assignee_id],
                urgent=state.level is Level.VERY_SERIOUS,
            )
        elif isinstance(event, Escalated):
            tier = staff.tier_by_level[event.to_level]
            recipients = staff.tier(tier, state.department)
            if state.assignee_id is not None:
                recipients = [state.assignee_id, *recipients]
            urgent = event.to_level is Level.VERY_SERIOUS
            previous = str(int(event.from_level))
            outbox.staff(
                state,
                meta,
                topic,
                TemplateKey.ESCALATION,
                recipients,
                urgent=urgent,
                previous_level=previous,
                reason=event.reason,
            )
            if urgent:
                outbox.staff(
                    state,
                    meta,
                    topic,
                    TemplateKey.LEVEL3_ALERT,
                    _level3_alerted(state, staff),
                    urgent=True,
                )
        elif isinstance(event, SolutionProposed | SolutionApproved) and _offered(event, state):
            assert state.solution is not None
            outbox.customer(
                state,
                meta,
                topic,
                TemplateKey.SOLUTION_PROPOSED,
                solution_summary=state.solution.description,
            )
        elif isinstance(event, Resolved):
            outbox.customer(
                state, meta, topic, TemplateKey.RESULT_NOTICE, result_summary=event.result
            )
            if event.survey_nonce and survey_url is not None:
                outbox.customer(
                    state,
                    meta,
                    "survey.invited",
                    TemplateKey.SURVEY_INVITATION,
                    survey_url=survey_url(state.id, event.survey_nonce),
                )
        elif isinstance(event, MarkedInvalid):
            outbox.customer(
                state, meta, topic, TemplateKey.RESULT_NOTICE, result_summary=event.explanation
            )
        elif isinstance(event, DeadlineWarned):
            urgent = state.level is Level.VERY_SERIOUS
            outbox.staff(
                state,
                meta,
                topic,
                TemplateKey.DEADLINE_WARNING,
                _holders(state, staff),
                urgent=urgent,
                stage=event.stage.value,
                due_at_local=event.due_at.isoformat(),
            )
        elif isinstance(event, DeadlineBreached):
            urgent = state.level is Level.VERY_SERIOUS
            outbox.staff(
                state,
                meta,
                topic,
                TemplateKey.DEADLINE_BREACH,
                _breach_recipients(state, event, staff),
                urgent=urgent,
                stage=event.stage.value,
            )
        elif isinstance(event, SatisfactionRecorded) and event.management_review:
            # Seed 002 §5.3.1.7: a level-3 case the customer is not satisfied with goes to the
            # management meeting (总经理例会); management hears of it at once.
            outbox.staff(
                state,
                meta,
                "complaint.management_review",
                TemplateKey.MANAGEMENT_REVIEW,
                _management(state, staff),
                urgent=True,
                score=str(int(event.score)),
            )
        elif isinstance(event, CustomerReplySent):
            outbox.customer(
                state, meta, topic, TemplateKey.PROGRESS_UPDATE, progress_summary=event.text
            )
