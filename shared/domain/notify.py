"""Who is told what when a complaint changes (通知, SPEC §5): the outbox rows an event owes.

Every event some webhook subscription wants goes to its subscribers (ids and non-personal fields
only; `WebhookInterest`: an event nobody subscribed to is not queued at all). Customers hear of
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
from shared.domain.enums import DurationUnit, Level, Role, Stage, Status
from shared.domain.events import (
    Assigned,
    ComplaintRegistered,
    CustomerReplySent,
    DeadlineBreached,
    DeadlineWarned,
    Escalated,
    Event,
    GroupLinked,
    MarkedInvalid,
    Resolved,
    SatisfactionRecorded,
    SolutionApproved,
    SolutionProposed,
)
from shared.domain.reference import SHANGHAI
from shared.domain.sla import PlannedDeadline
from shared.domain.templates import TemplateKey, format_due_at_local, stage_label


@dataclass(frozen=True)
class StaffDirectory:
    """The staff to alert, by role: `(user id, department)` pairs of active accounts, and which
    tier handles each level (the routing rules in force)."""

    by_role: Mapping[Role, Sequence[tuple[uuid.UUID, str | None]]] = field(default_factory=dict)
    tier_by_level: Mapping[Level, Role] = field(default_factory=lambda: DEFAULT_TIER_BY_LEVEL)
    # The routing rules' `report_to_manager_from`: the level from which the responsible
    # department's managers are told at once as well (seed 002 §5.1.1.3).
    report_to_manager_from: Level | None = Level.VERY_SERIOUS
    # What a customer is told of their handler (seed 002 §5.3.1.3): name and direct work
    # contact (`users.contact_phone`, never the personal mobile), by user id.
    contacts: Mapping[uuid.UUID, tuple[str, str | None]] = field(default_factory=dict)

    def tier(self, role: Role, department: str | None) -> list[uuid.UUID]:
        """Everyone of `role` whose scope covers the department (company-wide ones included)."""
        return [
            user_id
            for user_id, dept in self.by_role.get(role, ())
            if dept is None or department is None or dept == department
        ]


@dataclass(frozen=True)
class WebhookInterest:
    """The event types the active webhook subscriptions want, as their patterns: a type
    ("complaint.escalated"), a family ("complaint.*") or everything ("*"); `None`: every event
    (whoever does not know the subscriptions).

    An event no subscription wants gets no outbox row: the worker would only mark it skipped,
    a row written, indexed and updated again for every event of every complaint when nobody
    subscribes (issue 16). The worker's fan-out (shared.db.outbox) matches the same rule in SQL
    and stays the judge of who gets a row that was queued."""

    patterns: frozenset[str] | None = None

    def wants(self, topic: str) -> bool:
        if self.patterns is None:
            return True
        return any(
            p == "*" or p == topic or (p.endswith(".*") and topic.startswith(p[:-1]))
            for p in self.patterns
        )


EVERY_EVENT = WebhookInterest()


def webhook_payload(state: ComplaintState, event: Event, meta: EventMeta) -> dict[str, Any]:
    """Ids and non-personal fields only."""
    return {
        "complaint_id": str(state.id),
        "reference": state.reference,
        "event": event.type,
        "seq": meta.seq,
        "occurred_at": meta.occurred_at.astimezone(SHANGHAI).isoformat(),  # as shown everywhere
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


_TIER_ABOVE = {Role.AGENT: Role.MANAGER, Role.MANAGER: Role.DIRECTOR, Role.DIRECTOR: Role.DIRECTOR}


def supervisors(state: ComplaintState, staff: StaffDirectory) -> list[uuid.UUID]:
    """The supervisor tier of the case (上级, seed 002 §5.4): the tier above the one handling
    its level by the routing rules — a level-1 case's managers, a level-2 case's directors; a
    level-3 case is already the directors' and stays with them."""
    handling = staff.tier_by_level[state.level]
    return staff.tier(_TIER_ABOVE.get(handling, Role.DIRECTOR), state.department)


def _breach_recipients(
    state: ComplaintState, event: DeadlineBreached, staff: StaffDirectory
) -> list[uuid.UUID]:
    """The stage policy's `notify` list (assignee, supervisor, agent, manager, director,
    admin); a level-3 breach tells the director and management whatever the policy says."""
    recipients: list[uuid.UUID] = []
    for who in event.notify:
        if who == "assignee":
            recipients.extend(_holders(state, staff))
        elif who == "supervisor":
            recipients.extend(supervisors(state, staff))
        elif who in _ROLES:
            recipients.extend(staff.tier(Role(who), state.department))
    if state.level is Level.VERY_SERIOUS:
        recipients.extend(_management(state, staff))
    return recipients


# Why a case is late, as the customer is told it (seed 000 第五条「向客户说明原因」), in seed
# 002's polite phrases: what the case is waiting for, by its status.
OVERRUN_REASONS: Mapping[Status, str] = {
    Status.REGISTERED: "您反映的问题需要转交相关部门核实",
    Status.ASSIGNED: "您反映的问题需要相关部门进一步调查核实",
    Status.INVESTIGATING: "您反映的问题需要相关部门进一步调查核实",
    Status.AWAITING_CUSTOMER: "我们正在等待您补充的资料或答复",
    Status.SOLUTION_PROPOSED: "处理方案正在确认和审批中",
    Status.REOPENED: "我们正在重新核实处理您反映的问题",
}
_DEFAULT_OVERRUN_REASON = "您反映的问题需要进一步核实处理"


def stages_summary(planned: Sequence[PlannedDeadline]) -> str:
    """The stages and their approximate times for the acknowledgement (seed 002 §5.3.1.3),
    from the deadlines the SLA policy in force planned at registration."""
    parts = []
    for p in sorted(planned, key=lambda p: p.due_at):
        if p.stage is Stage.PROGRESS_UPDATE:
            parts.append(f"处理期间每{p.amount}个工作日向您通报进展")
        elif p.stage is not Stage.ACKNOWLEDGEMENT:
            parts.append(f"{stage_label(p.stage)}：{format_due_at_local(p.due_at)}前")
    return "；".join(parts) or "我们会尽快与您联系"


def notices(
    outbox: Outbox,
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    staff: StaffDirectory,
    survey_url: Callable[[uuid.UUID, str], str] | None = None,
    planned: Sequence[PlannedDeadline] = (),
    calendar: BusinessCalendar | None = None,
    before: ComplaintState | None = None,
    webhooks: WebhookInterest = EVERY_EVENT,
) -> None:
    """Add to `outbox` what each event of a change owes; `states[i]` is the state after event i.
    `webhooks`: the events the webhook subscriptions want (the others are not queued).
    `planned` are the deadlines the change planned (the acknowledgement lists them);
    `calendar` dates the answer promised to a customer whose case is late; `before` is the
    state the change started from (None for a registration)."""
    previous_assignee = before.assignee_id if before is not None else None
    # 集体投诉: management hears of the group once, when it forms, not of each member.
    grouped = any(isinstance(event, GroupLinked) for event, _ in stamped)
    for (event, meta), state in zip(stamped, states, strict=True):
        held_by, previous_assignee = previous_assignee, state.assignee_id
        topic = event.type
        if webhooks.wants(topic):
            outbox.webhook(state, event, meta)
        if isinstance(event, Assigned) and state.assignee_id not in (None, held_by):
            _handler_notice(outbox, state, meta, staff)
        if isinstance(event, DeadlineBreached) and event.tell_customer_within and calendar:
            expected = calendar.add(
                meta.occurred_at, event.tell_customer_within, DurationUnit.WORKING_DAYS
            ).at
            outbox.customer(
                state,
                meta,
                "deadline.overrun_explained",
                TemplateKey.OVERRUN_NOTICE,
                overrun_reason=OVERRUN_REASONS.get(state.status, _DEFAULT_OVERRUN_REASON),
                expected_by_local=format_due_at_local(expected),
            )
        if isinstance(event, ComplaintRegistered):
            # The one place `notify_customer` counts: the channel may have given the 受理号
            # already (a walk-in, a call); the later messages are owed whatever it said.
            if state.notify_customer:
                outbox.customer(
                    state,
                    meta,
                    topic,
                    TemplateKey.COMPLAINT_ACKNOWLEDGED,
                    stages_summary=stages_summary(planned),
                )
            if state.level is Level.VERY_SERIOUS and not grouped:
                outbox.staff(
                    state,
                    meta,
                    topic,
                    TemplateKey.LEVEL3_ALERT,
                    _level3_alerted(state, staff),
                    urgent=True,
                )
        elif isinstance(event, GroupLinked) and event.formed:
            outbox.staff(
                state,
                meta,
                topic,
                TemplateKey.GROUP_ALERT,
                _level3_alerted(state, staff),
                urgent=True,
                customers=str(event.customers),
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
            # The holder before and after: a case that moved to the next tier (SPEC §2) tells
            # the handler who no longer holds it as well.
            for holder in (state.assignee_id, held_by):
                if holder is not None:
                    recipients = [holder, *recipients]
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
            if urgent and event.cause != "group":
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


def _handler_notice(
    outbox: Outbox, state: ComplaintState, meta: EventMeta, staff: StaffDirectory
) -> None:
    """Seed 002 §5.3.1.3: once assigned, the customer learns who handles the case and how to
    reach them directly (the work contact on the staff account; the service line otherwise)."""
    assert state.assignee_id is not None
    contact = staff.contacts.get(state.assignee_id)
    if contact is None:
        return
    name, phone = contact
    values = {"handler_name": name, "handler_contact": phone or "本公司客服热线"}
    outbox.customer(state, meta, "complaint.handler_assigned", TemplateKey.HANDLER_NOTICE, **values)
