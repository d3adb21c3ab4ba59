"""The events of a complaint's log (事件). Each is a pydantic model; its payload is the JSON stored
in `complaint_events.payload` and its `apply` moves the projection one event forward.

Events named by a lifecycle `Action` move the status through `lifecycle.next_status`, so the
state machine is enforced the same way when a command is decided and when the log is replayed.
New event types are registered in `EVENT_TYPES`; stored payloads are parsed back with
`parse_event`, so every payload in the database is one the domain validates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from shared.domain.complaint import Actor, ComplaintState, EventMeta
from shared.domain.enums import (
    Category,
    CauseClass,
    ContactMethod,
    Kind,
    Level,
    Responsibility,
    Role,
    Satisfaction,
    Stage,
    Status,
)
from shared.domain.intake import ComplaintIntake
from shared.domain.lifecycle import Action, next_status
from shared.domain.records import (
    ActionStatus,
    Approval,
    CorrectiveAction,
    CustomerResponse,
    FollowUp,
    FollowUpAttempt,
    Investigation,
    RegulatorReply,
    Remedy,
    SignOff,
    Solution,
)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _require(state: ComplaintState | None, event: Event) -> ComplaintState:
    if state is None:
        raise ValueError(f"{event.type} cannot be the first event of a complaint")
    return state


class ComplaintRegistered(Event):
    """受理: the complaint is registered and given its reference number (受理号)."""

    type: ClassVar[str] = "complaint.registered"

    reference: str
    intake: ComplaintIntake
    level: Level
    level_reasons: list[str] = []
    repeat_of: uuid.UUID | None = None
    department: str | None = None  # the default responsible department for the category

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        if state is not None:
            raise ValueError("a complaint is registered once")
        intake = self.intake
        return ComplaintState(
            id=meta.complaint_id,
            reference=self.reference,
            version=meta.seq,
            status=Status.REGISTERED,
            kind=intake.kind,
            category=intake.category,
            subcategory=intake.subcategory,
            cause_class=intake.cause_class,
            level=self.level,
            level_reasons=self.level_reasons,
            channel=intake.channel,
            customer=intake.customer,
            product=intake.product,
            content=intake.content,
            desired_resolution=intake.desired_resolution,
            attachments=intake.attachments,
            subject=intake.subject,
            channel_meta=intake.channel_meta,
            notify_customer=intake.notify_customer,
            department=self.department,
            assignee_id=None,
            repeat_of=self.repeat_of,
            created_by_kind=meta.actor.kind,
            created_by_id=meta.actor.id,
            created_at=meta.occurred_at,
            updated_at=meta.occurred_at,
        )


class LifecycleEvent(Event):
    """An event made by a lifecycle action: the status follows the transition table."""

    action: ClassVar[Action]

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        state = _require(state, self)
        status = next_status(state.status, self.action, previous=state.status_before_pause)
        changes: dict[str, Any] = {"status": status}
        if self.action is Action.AWAIT_CUSTOMER:
            changes.update(status_before_pause=state.status, paused_at=meta.occurred_at)
        elif state.status is Status.AWAITING_CUSTOMER and status is not Status.AWAITING_CUSTOMER:
            changes.update(status_before_pause=None, paused_at=None)
        changes.update(self.changes(state, meta))
        return state.advanced(meta, **changes)

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {}


class Triaged(LifecycleEvent):
    """初步判断: kind, category, cause class and level (staff may override the suggestion)."""

    type: ClassVar[str] = "complaint.triaged"
    action: ClassVar[Action] = Action.TRIAGE

    kind: Kind
    category: Category
    subcategory: str | None = None
    cause_class: CauseClass | None = None
    level: Level
    level_reasons: list[str] = []
    override_reason: str | None = None
    department: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "category": self.category,
            "subcategory": self.subcategory,
            "cause_class": self.cause_class,
            "level": self.level,
            "level_reasons": self.level_reasons,
            "department": self.department,
        }


class Assigned(LifecycleEvent):
    """转交责任部门: the responsible department and, when known, the handler."""

    type: ClassVar[str] = "complaint.assigned"
    action: ClassVar[Action] = Action.ASSIGN

    department: str
    assignee_id: uuid.UUID | None = None
    note: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {"department": self.department, "assignee_id": self.assignee_id}


class Reassigned(Assigned):
    type: ClassVar[str] = "complaint.reassigned"
    action: ClassVar[Action] = Action.REASSIGN

    reason: str


class InvestigationStarted(LifecycleEvent):
    type: ClassVar[str] = "complaint.investigation_started"
    action: ClassVar[Action] = Action.START_INVESTIGATION

    note: str | None = None


class ContactLogged(LifecycleEvent):
    """与客户联系: counts for the first-contact and progress-update deadlines."""

    type: ClassVar[str] = "complaint.contact_logged"
    action: ClassVar[Action] = Action.LOG_CONTACT

    method: ContactMethod
    contacted_at: datetime
    outcome: str
    summary: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        last = state.last_contact_at
        return {
            "last_contact_at": self.contacted_at if last is None else max(last, self.contacted_at),
            "contact_count": state.contact_count + 1,
        }


class AwaitingCustomer(LifecycleEvent):
    """Waiting for the customer (evidence, a visit date …): the SLA clock is paused."""

    type: ClassVar[str] = "complaint.awaiting_customer"
    action: ClassVar[Action] = Action.AWAIT_CUSTOMER

    reason: str
    expected_by: date | None = None


class CustomerResponded(LifecycleEvent):
    type: ClassVar[str] = "complaint.customer_responded"
    action: ClassVar[Action] = Action.CUSTOMER_RESPONDED

    summary: str | None = None


class FindingsRecorded(LifecycleEvent):
    """调查结果 and 责任判定."""

    type: ClassVar[str] = "complaint.findings_recorded"
    action: ClassVar[Action] = Action.RECORD_FINDINGS

    findings: str
    responsibility: Responsibility
    evidence: list[str] = []
    fault_department: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        investigation = Investigation(
            findings=self.findings,
            responsibility=self.responsibility,
            evidence=self.evidence,
            fault_department=self.fault_department,
            recorded_at=meta.occurred_at,
        )
        return {"investigation": investigation}


class RootCauseRecorded(LifecycleEvent):
    type: ClassVar[str] = "complaint.root_cause_recorded"
    action: ClassVar[Action] = Action.RECORD_ROOT_CAUSE

    root_cause: str

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {"root_cause": self.root_cause}


class SolutionProposed(LifecycleEvent):
    """处理方案: replaces any earlier proposal; approvals start over."""

    type: ClassVar[str] = "complaint.solution_proposed"
    action: ClassVar[Action] = Action.PROPOSE_SOLUTION

    remedies: list[Remedy]
    description: str
    required_approval: Role | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        solution = Solution(
            remedies=self.remedies,
            description=self.description,
            proposed_at=meta.occurred_at,
            proposed_by=meta.actor.id,
            required_approval=self.required_approval,
        )
        return {"solution": solution}


def _solution(state: ComplaintState, event: Event) -> Solution:
    if state.solution is None:
        raise ValueError(f"{event.type} needs a proposed solution")
    return state.solution


class SolutionApproved(LifecycleEvent):
    type: ClassVar[str] = "complaint.solution_approved"
    action: ClassVar[Action] = Action.APPROVE_SOLUTION

    role: Role
    comment: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        solution = _solution(state, self)
        approval = Approval(
            role=self.role, user_id=meta.actor.id or "", at=meta.occurred_at, comment=self.comment
        )
        return {
            "solution": solution.model_copy(update={"approvals": [*solution.approvals, approval]})
        }


class SolutionRejected(LifecycleEvent):
    """The approver sends the solution back (审批不通过): investigate and propose again."""

    type: ClassVar[str] = "complaint.solution_rejected"
    action: ClassVar[Action] = Action.REJECT_SOLUTION

    reason: str


class CustomerAgreed(LifecycleEvent):
    type: ClassVar[str] = "complaint.customer_agreed"
    action: ClassVar[Action] = Action.CUSTOMER_AGREES

    note: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        solution = _solution(state, self).model_copy(
            update={"customer_response": CustomerResponse.AGREED}
        )
        return {"solution": solution}


class CustomerRejected(LifecycleEvent):
    """客户确认 NG: the customer rejects the solution; back to the investigation."""

    type: ClassVar[str] = "complaint.customer_rejected"
    action: ClassVar[Action] = Action.CUSTOMER_REJECTS

    reason: str

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        solution = _solution(state, self).model_copy(
            update={
                "customer_response": CustomerResponse.REJECTED,
                "customer_response_reason": self.reason,
            }
        )
        return {"solution": solution}


class SolutionImplemented(LifecycleEvent):
    type: ClassVar[str] = "complaint.solution_implemented"
    action: ClassVar[Action] = Action.IMPLEMENT_SOLUTION

    note: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        solution = _solution(state, self).model_copy(
            update={"implemented_at": meta.occurred_at, "implementation_note": self.note}
        )
        return {"solution": solution}


class Resolved(LifecycleEvent):
    """处理结果告知客户; opens the satisfaction survey (the invitation's nonce).

    A new result starts a new survey round: the rating of an earlier round (before a reopen)
    stays in the log but no longer speaks for the case, so it neither blocks nor allows 结案.
    """

    type: ClassVar[str] = "complaint.resolved"
    action: ClassVar[Action] = Action.RESOLVE

    result: str
    survey_nonce: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {
            "resolved_at": meta.occurred_at,
            "survey_nonce": self.survey_nonce,
            "satisfaction": None,
            "satisfaction_source": None,
            "resolved_by": meta.actor.id,
            "review": None,
            "followup": None,
        }


class SatisfactionRecorded(LifecycleEvent):
    """满意度回访 on seed 002's scale, from the survey link or a return call (回访)."""

    type: ClassVar[str] = "complaint.satisfaction_recorded"
    action: ClassVar[Action] = Action.RECORD_SATISFACTION

    score: Satisfaction
    source: str  # "survey" (the customer) or "return_call" (staff)
    comment: str | None = None
    management_review: bool = False  # level 3 rated 4–5: 提交总经理例会
    # Who recorded a return call (user id; never the case's handler: 私自填写舞弊) and how.
    recorded_by: str | None = None
    method: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {
            "satisfaction": self.score,
            "satisfaction_source": self.source,
            "survey_nonce": None,
            "management_review": state.management_review or self.management_review,
        }


class CorrectiveActionAdded(LifecycleEvent):
    type: ClassVar[str] = "complaint.corrective_action_added"
    action: ClassVar[Action] = Action.ADD_CORRECTIVE_ACTION

    action_id: uuid.UUID
    kind: str
    description: str
    owner: str
    due_date: date

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        added = CorrectiveAction(
            id=self.action_id,
            kind=self.kind,
            description=self.description,
            owner=self.owner,
            due_date=self.due_date,
            created_at=meta.occurred_at,
            updated_at=meta.occurred_at,
        )
        return {"corrective_actions": [*state.corrective_actions, added]}


def _replace_action(
    state: ComplaintState, action_id: uuid.UUID, event: Event, **update: Any
) -> dict[str, Any]:
    actions = list(state.corrective_actions)
    for i, existing in enumerate(actions):
        if existing.id == action_id:
            actions[i] = existing.model_copy(update=update)
            return {"corrective_actions": actions}
    raise ValueError(f"{event.type}: no corrective action {action_id}")


class CorrectiveActionUpdated(LifecycleEvent):
    type: ClassVar[str] = "complaint.corrective_action_updated"
    action: ClassVar[Action] = Action.UPDATE_CORRECTIVE_ACTION

    action_id: uuid.UUID
    status: ActionStatus
    note: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return _replace_action(
            state,
            self.action_id,
            self,
            status=self.status,
            note=self.note,
            updated_at=meta.occurred_at,
        )


class CorrectiveActionVerified(LifecycleEvent):
    """效果确认: whether the action worked."""

    type: ClassVar[str] = "complaint.corrective_action_verified"
    action: ClassVar[Action] = Action.VERIFY_CORRECTIVE_ACTION

    action_id: uuid.UUID
    effective: bool
    note: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return _replace_action(
            state,
            self.action_id,
            self,
            verified=self.effective,
            verification_note=self.note,
            updated_at=meta.occurred_at,
        )


class Escalated(LifecycleEvent):
    """升级: one level up, to the next tier (by hand, after a 4–5 rating, or after a breach)."""

    type: ClassVar[str] = "complaint.escalated"
    action: ClassVar[Action] = Action.ESCALATE

    from_level: Level
    to_level: Level
    reason: str
    cause: str  # "manual", "triage", "satisfaction", "breach", "repeat" or "group"
    stage: Stage | None = None  # the deadline whose breach caused it
    deadline_id: int | None = None
    # SPEC §2: when the level rises the case moves to the new tier: `assignee_id` holds it
    # afterwards (None: the new tier's queue, 待领取). Events written before this rule have
    # `handed_over` false and kept their holder.
    handed_over: bool = False
    assignee_id: uuid.UUID | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        if self.handed_over:
            return {"level": self.to_level, "assignee_id": self.assignee_id}
        return {"level": self.to_level}


class Withdrawn(LifecycleEvent):
    """撤诉."""

    type: ClassVar[str] = "complaint.withdrawn"
    action: ClassVar[Action] = Action.WITHDRAW

    reason: str


class MarkedInvalid(LifecycleEvent):
    """投诉不成立: not the company's fault; the explanation is sent to the customer."""

    type: ClassVar[str] = "complaint.marked_invalid"
    action: ClassVar[Action] = Action.MARK_INVALID

    explanation: str


class Reopened(LifecycleEvent):
    """Handling starts again. The survey invitation of the result being reopened is withdrawn:
    the customer rates the next result, with the next link."""

    type: ClassVar[str] = "complaint.reopened"
    action: ClassVar[Action] = Action.REOPEN

    reason: str

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {
            "resolved_at": None,
            "closed_at": None,
            "survey_nonce": None,
            "review": None,
            "followup": None,
        }


class Closed(LifecycleEvent):
    """结案."""

    type: ClassVar[str] = "complaint.closed"
    action: ClassVar[Action] = Action.CLOSE

    summary: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {"closed_at": meta.occurred_at}


class RegulatorReplied(LifecycleEvent):
    """The reply sent back to the regulator (12315) for a forwarded case."""

    type: ClassVar[str] = "complaint.regulator_replied"
    action: ClassVar[Action] = Action.REGULATOR_REPLY

    replied_at: datetime
    content: str
    outcome: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        reply = RegulatorReply(
            replied_at=self.replied_at,
            content=self.content,
            outcome=self.outcome,
            recorded_at=meta.occurred_at,
        )
        return {"regulator_reply": reply}


class NoteAdded(LifecycleEvent):
    """An internal note: never shown to the customer."""

    type: ClassVar[str] = "complaint.note_added"
    action: ClassVar[Action] = Action.ADD_NOTE

    text: str


class CustomerReplySent(LifecycleEvent):
    """A reply to the customer (customer-visible), sent with the progress-update template."""

    type: ClassVar[str] = "complaint.customer_reply_sent"
    action: ClassVar[Action] = Action.REPLY_TO_CUSTOMER

    text: str


class EvidenceAttached(Event):
    """证据附件: a file given as evidence (by staff, an integration or the customer), stored
    under `storage_key`; the status does not move. The file's row is written with the event."""

    type: ClassVar[str] = "complaint.evidence_attached"

    attachment_id: uuid.UUID
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str
    storage_key: str

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        return _require(state, self).advanced(meta)


# --- the sign-off chain (审核 → 存档) and the 回访 (seed 002 §5.1.1, §5.3.1.6) ------------------


class Claimed(Assigned):
    """认领: a tier member takes an unassigned case from the queue of the levels it handles."""

    type: ClassVar[str] = "complaint.claimed"
    action: ClassVar[Action] = Action.CLAIM


class CaseReviewed(LifecycleEvent):
    """审核: the tier above the handler (a director for level 3, never the handler) signs the
    case off; the clerk may then archive it (存档)."""

    type: ClassVar[str] = "complaint.reviewed"
    action: ClassVar[Action] = Action.REVIEW

    role: Role
    comment: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        review = SignOff(
            reviewer_id=meta.actor.id or "",
            role=self.role,
            at=meta.occurred_at,
            comment=self.comment,
        )
        return {"review": review}


class CaseSentBack(LifecycleEvent):
    """退回: the reviewer returns the case to its handler with a reason (counted in the reports);
    the handler works on and tells the customer a new result, rated again."""

    type: ClassVar[str] = "complaint.sent_back"
    action: ClassVar[Action] = Action.SEND_BACK

    role: Role
    reason: str
    handler_id: uuid.UUID | None = None  # the assignee the case returns to

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {"resolved_at": None, "survey_nonce": None, "review": None}


class FollowUpAttemptLogged(LifecycleEvent):
    """回访未接通: an attempt to reach the customer for the rating that did not reach them."""

    type: ClassVar[str] = "complaint.followup_attempt_logged"
    action: ClassVar[Action] = Action.LOG_FOLLOWUP_ATTEMPT

    method: ContactMethod
    attempted_at: datetime
    note: str | None = None
    working_day: date | None = None  # the Asia/Shanghai working day it counts for

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        followup = state.followup or FollowUp()
        attempt = FollowUpAttempt(
            attempted_at=self.attempted_at,
            by=meta.actor.id or "",
            method=self.method.value,
            note=self.note,
            working_day=self.working_day,
        )
        return {"followup": followup.model_copy(update={"attempts": [*followup.attempts, attempt]})}


class FollowUpUnreachable(LifecycleEvent):
    """回访无法联系: after the configured attempts on different working days the desk records
    the customer as unreachable, an outcome of its own (not a rating)."""

    type: ClassVar[str] = "complaint.followup_unreachable"
    action: ClassVar[Action] = Action.RECORD_UNREACHABLE

    attempts: int
    working_days: int
    note: str | None = None

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        followup = state.followup or FollowUp()
        update = {"unreachable_at": meta.occurred_at, "unreachable_by": meta.actor.id}
        return {"followup": followup.model_copy(update=update)}


class DeadlineEvent(Event):
    """A deadline the SLA worker handled; the status of the complaint does not move."""

    deadline_id: int
    stage: Stage
    cycle: int
    due_at: datetime

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        return _require(state, self).advanced(meta)


class DeadlineWarned(DeadlineEvent):
    """时限预警: the warning share of the time (75 % by default) has passed."""

    type: ClassVar[str] = "deadline.warned"


class DeadlineBreached(DeadlineEvent):
    """超时: recorded against the handler who held the case (seed 002 counts them)."""

    type: ClassVar[str] = "deadline.breached"

    assignee_id: uuid.UUID | None = None
    repeats: bool = False  # a repeating stage (progress update) is planned again
    notify: list[str] = []  # whom the stage policy says to tell (shared.domain.sla.Recipient)
    # Seed 000 第五条「向客户说明原因」: the customer is told the case is late and promised an
    # answer within this many working days (None: not told; the stage policy decides).
    tell_customer_within: int | None = None


class RecomputedDeadline(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    deadline_id: int
    stage: Stage
    cycle: int
    due_before: datetime
    due_at: datetime
    provisional: bool


class DeadlinesRecomputed(Event):
    """The business calendar changed (a holiday, a 调休 day, next year's schedule): these open
    deadlines were counted again from their start on the new calendar."""

    type: ClassVar[str] = "deadlines.recomputed"

    calendar_version: int
    deadlines: list[RecomputedDeadline]

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        return _require(state, self).advanced(meta)


# --- repeats and rules migrations (issue 11 §2, §5) -------------------------------------------


class RepeatLinked(LifecycleEvent):
    """二次投诉, linked by staff: this complaint repeats `repeat_of` (seed 002 §4.3.2); the
    level is raised to the repeat level in the same change when it is lower."""

    type: ClassVar[str] = "complaint.repeat_linked"
    action: ClassVar[Action] = Action.LINK_REPEAT

    repeat_of: uuid.UUID
    reason: str

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {"repeat_of": self.repeat_of}


class RepeatUnlinked(LifecycleEvent):
    """A repeat link found wrong by staff (not the same event): the link is removed; the level
    stays where it is (staff triage it down with a reason if it should drop)."""

    type: ClassVar[str] = "complaint.repeat_unlinked"
    action: ClassVar[Action] = Action.UNLINK_REPEAT

    reason: str

    def changes(self, state: ComplaintState, meta: EventMeta) -> dict[str, Any]:
        return {"repeat_of": None}


class GroupLinked(Event):
    """集体投诉 (seed 002 §4.3.3; SPEC §2: 3+ customers about the same product model or batch
    within the window): the complaint belongs to the group `group_id` (its first complaint).
    `formed` marks the change that made the group: management is told then, once."""

    type: ClassVar[str] = "complaint.group_linked"

    group_id: uuid.UUID
    customers: int
    formed: bool = False

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        return _require(state, self).advanced(meta, group_id=self.group_id)


class DeadlinesReplanned(Event):
    """The SLA rules changed under an open case (a rules migration): its open deadlines were
    planned again under the policies in force (shared.domain.deadline_rules)."""

    type: ClassVar[str] = "deadlines.replanned"

    reason: str

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        return _require(state, self).advanced(meta)


_TYPES: tuple[type[Event], ...] = (
    ComplaintRegistered,
    Triaged,
    Assigned,
    Reassigned,
    InvestigationStarted,
    ContactLogged,
    AwaitingCustomer,
    CustomerResponded,
    FindingsRecorded,
    RootCauseRecorded,
    SolutionProposed,
    SolutionApproved,
    SolutionRejected,
    CustomerAgreed,
    CustomerRejected,
    SolutionImplemented,
    Resolved,
    SatisfactionRecorded,
    CorrectiveActionAdded,
    CorrectiveActionUpdated,
    CorrectiveActionVerified,
    Escalated,
    Withdrawn,
    MarkedInvalid,
    Reopened,
    Closed,
    RegulatorReplied,
    NoteAdded,
    CustomerReplySent,
    EvidenceAttached,
    DeadlineWarned,
    DeadlineBreached,
    DeadlinesRecomputed,
    Claimed,
    CaseReviewed,
    CaseSentBack,
    FollowUpAttemptLogged,
    FollowUpUnreachable,
    RepeatLinked,
    RepeatUnlinked,
    DeadlinesReplanned,
    GroupLinked,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.type: cls for cls in _TYPES}


def parse_event(type_: str, payload: dict[str, Any]) -> Event:
    try:
        cls = EVENT_TYPES[type_]
    except KeyError:
        raise ValueError(f"unknown event type {type_!r}") from None
    return cls.model_validate(payload)


def stamp(
    state: ComplaintState, events: Sequence[Event], *, actor: Actor, now: datetime
) -> tuple[list[tuple[Event, EventMeta]], list[ComplaintState]]:
    """Apply new events to a state, numbering them after its version: the stamped events and
    the state after each (the last is the new projection)."""
    stamped, states = [], []
    for event in events:
        meta = EventMeta(complaint_id=state.id, seq=state.version + 1, occurred_at=now, actor=actor)
        state = event.apply(state, meta)
        stamped.append((event, meta))
        states.append(state)
    return stamped, states


def replay(events: Iterable[tuple[Event, EventMeta]]) -> ComplaintState:
    """Rebuild a complaint's state from its whole event log, oldest first."""
    state: ComplaintState | None = None
    for event, meta in events:
        state = event.apply(state, meta)
    if state is None:
        raise ValueError("a complaint has at least one event")
    return state
