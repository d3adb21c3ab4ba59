"""Handling a complaint (处理): the commands staff send, who may send them, and the events each
produces. `decide` is pure: given the current state, the command, the caller and the rules, it
returns the events to append (or raises a domain error), and nothing else.

Who may act (on top of record visibility, shared.domain.access):
- agents (一级受理人), handlers, managers and directors handle: contact, investigate, propose,
  record the customer's answer, implement, resolve, add notes and corrective actions, escalate;
- triage, assignment, claiming, withdrawal and reopening are tier decisions, taken by the tier
  the routing rules give the level or a higher one (by default agents up to level 1, managers up
  to level 2, directors at every level: 一级/二级/三级受理人); the assignee is held to the same
  rule, department handlers excepted (they investigate at any level);
- the sign-off chain (seed 002 §5.1.1, rule data in `ClosureRules`): once the customer rated the
  result or was recorded unreachable (回访, never by the case's handler: §5.4.1.3 私自填写舞弊),
  the tier above the handler reviews (审核: level 1 a manager, level 2 and 3 a director who did
  not handle it) or sends the case back; the clerk (事务文员) archives it (`close`, 存档);
- solutions above the approval limits are approved by a manager or a director (审批), never by the
  person who proposed them (four eyes);
- the reply to the regulator is sent by a manager or director;
- auditors, admins and integrations never act on complaints.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from shared.domain.access import TIER_OF_ROLE, Principal
from shared.domain.calendar import BusinessCalendar
from shared.domain.complaint import ComplaintState
from shared.domain.enums import (
    Category,
    CauseClass,
    Channel,
    ContactMethod,
    Kind,
    Level,
    RemedyType,
    Responsibility,
    Role,
    Satisfaction,
)
from shared.domain.errors import (
    AwaitingApproval,
    ClosureRequirements,
    DomainError,
    FieldError,
    Forbidden,
    FourEyes,
    InvalidInput,
    Recusal,
    StateConflict,
    TierTooLow,
    WrongRole,
)
from shared.domain.events import (
    Assigned,
    AwaitingCustomer,
    CaseReviewed,
    CaseSentBack,
    Claimed,
    Closed,
    ContactLogged,
    CorrectiveActionAdded,
    CorrectiveActionUpdated,
    CorrectiveActionVerified,
    CustomerAgreed,
    CustomerRejected,
    CustomerReplySent,
    CustomerResponded,
    Escalated,
    Event,
    FindingsRecorded,
    FollowUpAttemptLogged,
    FollowUpUnreachable,
    InvestigationStarted,
    MarkedInvalid,
    NoteAdded,
    Reassigned,
    RegulatorReplied,
    Reopened,
    RepeatLinked,
    RepeatUnlinked,
    Resolved,
    RootCauseRecorded,
    SatisfactionRecorded,
    SolutionApproved,
    SolutionImplemented,
    SolutionProposed,
    SolutionRejected,
    Triaged,
    Withdrawn,
)
from shared.domain.lifecycle import Action, InvalidTransition, allowed_actions
from shared.domain.records import ActionStatus, FollowUp, Remedy
from shared.domain.rules import (
    DEFAULT_CLOSURE_RULES,
    DEFAULT_ROUTING_RULES,
    STAFF_OVERRIDE,
    ClosureBlocker,
    ClosureRules,
    RoutingRules,
    Rules,
    closure_blockers,
    escalate,
    level_text,
    may_mark_invalid,
    required_approval,
    reviewer_problem,
    route,
    satisfaction_outcome,
    suggest_level,
    tier_reaches,
)
from shared.domain.templates import find_forbidden_phrases
from shared.domain.values import Code, IsoDate, IsoDateTime, LongText, MediumText

HANDLERS = frozenset({Role.AGENT, Role.HANDLER, Role.MANAGER, Role.DIRECTOR})
TIERED = frozenset({Role.AGENT, Role.MANAGER, Role.DIRECTOR})
LEADS = frozenset({Role.MANAGER, Role.DIRECTOR})

ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.TRIAGE: TIERED,
    Action.ASSIGN: TIERED,
    Action.REASSIGN: TIERED,
    Action.WITHDRAW: TIERED,
    Action.REOPEN: TIERED,
    # The sign-off chain (seed 002 §5.1.1, §3.2); the rule sets in force decide (`action_roles`).
    Action.CLOSE: DEFAULT_CLOSURE_RULES.archivist_roles,
    Action.RECORD_SATISFACTION: DEFAULT_CLOSURE_RULES.followup_roles,
    Action.LOG_FOLLOWUP_ATTEMPT: DEFAULT_CLOSURE_RULES.followup_roles,
    Action.RECORD_UNREACHABLE: DEFAULT_CLOSURE_RULES.followup_roles,
    Action.REVIEW: LEADS,
    Action.SEND_BACK: LEADS,
    Action.CLAIM: TIERED,
    Action.APPROVE_SOLUTION: LEADS,
    Action.REJECT_SOLUTION: LEADS,
    Action.REGULATOR_REPLY: LEADS,
    Action.MARK_INVALID: frozenset({Role.HANDLER, Role.MANAGER, Role.DIRECTOR}),
}
# Tier decisions: the caller's tier must cover the complaint's level.
TIER_ACTIONS = frozenset(
    {Action.TRIAGE, Action.ASSIGN, Action.REASSIGN, Action.WITHDRAW, Action.REOPEN, Action.CLAIM}
)


def action_roles(action: Action, closure: ClosureRules = DEFAULT_CLOSURE_RULES) -> frozenset[Role]:
    """The roles that may take `action` under the closure rules in force: who archives (存档)
    and who does the 回访 are rule data; reviewers are tiers (`reviewer_problem`)."""
    if action is Action.CLOSE:
        return closure.archivist_roles
    if action in (
        Action.RECORD_SATISFACTION,
        Action.LOG_FOLLOWUP_ATTEMPT,
        Action.RECORD_UNREACHABLE,
    ):
        return closure.followup_roles
    if action in (Action.REVIEW, Action.SEND_BACK):
        # Any tier that reviews some level; `reviewer_problem` checks the case's own level.
        lowest = min(TIER_OF_ROLE[role] for role in closure.reviewer_by_level.values())
        return frozenset(r for r in TIERED if TIER_OF_ROLE[r] >= lowest)
    return ACTION_ROLES.get(action, HANDLERS)


@dataclass(frozen=True)
class Context:
    principal: Principal
    now: datetime
    rules: Rules = field(default_factory=Rules)
    new_id: Callable[[], uuid.UUID] = uuid.uuid4
    new_nonce: Callable[[], str] = lambda: uuid.uuid4().hex
    # The business calendar (回访 attempts count on different working days); None: Mon–Fri.
    calendar: BusinessCalendar | None = None


def authorize(
    principal: Principal,
    action: Action,
    state: ComplaintState,
    *,
    routing: RoutingRules = DEFAULT_ROUTING_RULES,
    closure: ClosureRules = DEFAULT_CLOSURE_RULES,
) -> None:
    roles = action_roles(action, closure)
    if principal.role not in roles or not principal.has_role(*roles):
        raise WrongRole(f"your role may not {action.slug} complaints")
    if action in TIER_ACTIONS and not tier_reaches(principal.role, state.level, rules=routing):
        raise TierTooLow(
            f"a level-{int(state.level)} complaint needs a higher tier to {action.slug} "
            f"(一级/二级/三级受理人)"
        )


def may_hold(role: Role, level: Level, *, routing: RoutingRules = DEFAULT_ROUTING_RULES) -> bool:
    """Whether an account of `role` may be the assignee of a `level` complaint. Seed 002 §5.1.1:
    a level-2 case 交由二级受理人跟进处理, a level-3 one is led by 三级受理人; the responsible
    department's handlers (seed 000 责任部门) investigate whatever the level."""
    return role is Role.HANDLER or tier_reaches(role, level, rules=routing)


def assignee_problem(
    account: Mapping[str, Any] | None,
    *,
    department: str | None,
    level: Level,
    routing: RoutingRules = DEFAULT_ROUTING_RULES,
) -> str | None:
    """Why `account` (a stored user: role, department, is_active) cannot be assigned a `level`
    complaint going to `department`, or None if it can: an active handling account whose tier
    reaches the level; a department handler only in the department the complaint goes to."""
    if account is None or not account["is_active"] or Role(account["role"]) not in HANDLERS:
        return "not an active agent, handler, manager or director"
    role = Role(account["role"])
    if role is Role.HANDLER and account["department"] != department:
        return "this handler is in another department"
    if not may_hold(role, level, routing=routing):
        return (
            f"a level-{int(level)} complaint is held by a higher tier "
            "(一级/二级/三级受理人) or a department handler"
        )
    return None


def _polite(loc: str, text: str | None) -> None:
    """Text sent to customers must not use seed 002's forbidden phrases (禁忌语言)."""
    if text and (found := find_forbidden_phrases(text)):
        raise InvalidInput(
            [FieldError(("body", loc), f"禁忌语言 (forbidden phrases): {'、'.join(found)}")]
        )


_CMD = ConfigDict(extra="forbid", frozen=True)


class Command(BaseModel):
    model_config = _CMD

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        """The rules of this action that depend on the complaint and the caller only, never on
        the request's body (approval pending, closure requirements, four eyes …): checked
        before `decide`, and dry-run by `available_actions` to tell a caller what it may do
        now. Raise a `StateConflict` (409) or a `Forbidden` (403); body rules go in `decide`."""

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        raise NotImplementedError


# --- classification and routing ------------------------------------------------------------


class Triage(Command):
    """初步判断: set kind, category, cause class and level. Without `level` the suggested level
    applies (regulator → 3, keywords → 3, repeat → ≥2) unless staff set the level earlier, which
    then stands; a `level` other than the suggested and the current one needs a reason. A level
    that rises moves the case to the new tier exactly as `escalate` does (seed 002
    §5.1.1.2–3, SPEC §2): to `assignee_id` of that tier, or to the tier's queue without one."""

    kind: Kind | None = None
    category: Category | None = None
    subcategory: Code | None = None
    cause_class: CauseClass | None = None
    level: Level | None = None
    level_reason: MediumText | None = Field(default=None, description="Why the level differs")
    assignee_id: uuid.UUID | None = Field(
        default=None,
        description="When the level rises: who of the new tier takes the case (default: its queue)",
    )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        suggestion = suggest_level(
            channel=state.channel,
            text=level_text(state),
            is_repeat=state.repeat_of is not None,
            rules=ctx.rules.level,
        )
        if self.level is not None:
            level = self.level
            overridden = level != suggestion.level
        elif STAFF_OVERRIDE in state.level_reasons:
            level, overridden = state.level, True
        else:
            # Escalations only ever raise the level, so the current level is a floor.
            level, overridden = max(suggestion.level, state.level), False
        if level != suggestion.level and level != state.level and not self.level_reason:
            raise InvalidInput(
                [FieldError(("body", "level_reason"), "give a reason to override the level")]
            )
        reasons = [*suggestion.reasons, STAFF_OVERRIDE] if overridden else suggestion.reasons
        category = self.category or state.category
        department = state.department
        if category != state.category and state.assignee_id is None:
            department = route(category, level, rules=ctx.rules.routing).department_code
        rises = level > state.level
        if self.assignee_id is not None and not rises:
            raise InvalidInput(
                [FieldError(("body", "assignee_id"), "a new holder only when the level rises")]
            )
        _not_the_subject(state, self.assignee_id)
        events: list[Event] = [
            Triaged(
                kind=self.kind or state.kind,
                category=category,
                subcategory=self.subcategory if self.subcategory is not None else state.subcategory,
                cause_class=self.cause_class or state.cause_class,
                level=level,
                level_reasons=reasons,
                override_reason=self.level_reason,
                department=department,
            )
        ]
        if rises:
            # The same move as `escalate`: the new tier's queue or the named person of it, the
            # tier told, the resolution counted from registration at the new level.
            events.append(
                Escalated(
                    from_level=state.level,
                    to_level=level,
                    reason=self.level_reason or f"初步判断：定为{int(level)}级投诉",
                    cause="triage",
                    handed_over=True,
                    assignee_id=self.assignee_id,
                )
            )
        return events


class Assign(Command):
    """转交责任部门: the department (default: by category) and optionally the handler."""

    department: Code | None = Field(default=None, examples=["quality"])
    assignee_id: uuid.UUID | None = None
    note: MediumText | None = None

    def _department(self, state: ComplaintState, ctx: Context) -> str:
        _not_the_subject(state, self.assignee_id)
        if self.department or state.department:
            return self.department or state.department or ""
        return route(state.category, state.level, rules=ctx.rules.routing).department_code

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        department = self._department(state, ctx)
        return [Assigned(department=department, assignee_id=self.assignee_id, note=self.note)]


class Reassign(Assign):
    """Another handler or department (recusal, next tier, absence), with a reason."""

    reason: MediumText = Field(examples=["原处理人休假，转交同部门同事"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        department = self._department(state, ctx)
        return [
            Reassigned(
                department=department,
                assignee_id=self.assignee_id,
                note=self.note,
                reason=self.reason,
            )
        ]


def _not_the_subject(state: ComplaintState, assignee_id: uuid.UUID | None) -> None:
    subject = state.subject.staff_user_id if state.subject else None
    if assignee_id is not None and assignee_id == subject:
        raise Recusal(
            [
                FieldError(
                    ("body", "assignee_id"),
                    "the staff member complained about must recuse (回避): choose someone else",
                )
            ]
        )


# --- investigation ---------------------------------------------------------------------------


class StartInvestigation(Command):
    """责任部门进行调查: the assigned department starts investigating."""

    note: MediumText | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [InvestigationStarted(note=self.note)]


class LogContact(Command):
    """与客户联系: each contact counts for the first-contact and progress-update deadlines."""

    method: ContactMethod
    contacted_at: IsoDateTime | None = Field(default=None, description="Default: now")
    outcome: MediumText = Field(examples=["已电话联系客户，约定明天上门检测"])
    summary: LongText | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        at = self.contacted_at or ctx.now
        if at.tzinfo is None or at > ctx.now:
            raise InvalidInput([FieldError(("body", "contacted_at"), "must be past, with offset")])
        return [
            ContactLogged(
                method=self.method, contacted_at=at, outcome=self.outcome, summary=self.summary
            )
        ]


class AwaitCustomer(Command):
    """Wait for the customer (evidence, a visit date …): the SLA clock pauses."""

    reason: MediumText = Field(examples=["等待客户提供购买凭证和故障照片"])
    expected_by: IsoDate | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [AwaitingCustomer(reason=self.reason, expected_by=self.expected_by)]


class CustomerRespondedCmd(Command):
    """The customer answered: the SLA clock runs again from where it paused."""

    summary: MediumText | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [CustomerResponded(summary=self.summary)]


class RecordFindings(Command):
    """调查结果 and 责任判定: company / customer / shared / third party / undetermined."""

    findings: LongText = Field(examples=["经检测，排水泵密封圈装配不良导致漏水"])
    responsibility: Responsibility
    evidence: list[MediumText] = Field(default_factory=list, max_length=20)
    fault_department: Code | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [
            FindingsRecorded(
                findings=self.findings,
                responsibility=self.responsibility,
                evidence=self.evidence,
                fault_department=self.fault_department,
            )
        ]


class RecordRootCause(Command):
    """分析原因: record the root cause (8D)."""

    root_cause: LongText = Field(examples=["供应商来料密封圈尺寸超差，进货检验未覆盖该尺寸"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [RootCauseRecorded(root_cause=self.root_cause)]


# --- solution ------------------------------------------------------------------------------


class RemedyIn(BaseModel):
    model_config = _CMD

    type: RemedyType
    amount: Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,2})?$")] | None = Field(
        default=None, description='CNY with at most two decimals, as a string (e.g. "800.00")'
    )
    description: LongText | None = None


class ProposeSolution(Command):
    """处理方案: remedies and a description sent to the customer. Amounts above the approval
    limits need a manager's or director's approval before they are implemented."""

    remedies: list[RemedyIn] = Field(min_length=1, max_length=10)
    description: LongText = Field(examples=["免费更换排水泵并赔偿地板维修费用800元"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _polite("description", self.description)
        remedies = [
            Remedy(
                type=r.type,
                amount=Decimal(r.amount) if r.amount else None,
                description=r.description,
            )
            for r in self.remedies
        ]
        for i, remedy in enumerate(remedies):
            if remedy.type is RemedyType.COMPENSATION and remedy.amount is None:
                raise InvalidInput(
                    [FieldError(("body", "remedies", i, "amount"), "compensation needs an amount")]
                )
        needed = required_approval(remedies, rules=ctx.rules.approval)
        return [
            SolutionProposed(
                remedies=remedies, description=self.description, required_approval=needed
            )
        ]


class ApproveSolution(Command):
    """审批: approve a solution above the approval limits (never its own proposer)."""

    comment: MediumText | None = None

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        solution = state.solution
        assert solution is not None  # solution_proposed always has one
        if solution.approved:
            raise StateConflict(
                "this solution needs no approval or is approved already; implement it once the "
                "customer agrees"
            )
        if solution.required_approval is Role.DIRECTOR and ctx.principal.role is not Role.DIRECTOR:
            raise TierTooLow(
                "this solution's amount needs a director's approval (三级审批): ask a director"
            )
        if solution.proposed_by is not None and solution.proposed_by == ctx.principal.id:
            raise FourEyes(
                "a solution is approved by someone other than its proposer (四眼原则): "
                "ask another manager or director"
            )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        role = ctx.principal.role
        assert role is not None
        return [SolutionApproved(role=role, comment=self.comment)]


class RejectSolution(Command):
    """Send the solution back to the investigation, with a reason."""

    reason: MediumText

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [SolutionRejected(reason=self.reason)]


class CustomerAgrees(Command):
    """客户确认 OK: record that the customer accepts the solution."""

    note: MediumText | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [CustomerAgreed(note=self.note)]


class CustomerRejects(Command):
    """客户确认 NG: record that the customer refuses the solution; the investigation resumes."""

    reason: MediumText = Field(examples=["客户认为赔偿金额不足以覆盖地板损失"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [CustomerRejected(reason=self.reason)]


class ImplementSolution(Command):
    """实施处理方案: record that the approved, accepted solution was carried out."""

    note: MediumText | None = Field(default=None, examples=["已更换排水泵，赔偿款已转账"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        solution = state.solution
        assert solution is not None
        if solution.implemented_at is not None:
            raise StateConflict("this solution is already implemented: resolve the complaint")
        if not solution.approved:
            raise AwaitingApproval(
                f"the solution awaits approval by a {solution.required_approval} (审批): "
                "implement it once approved"
            )
        if solution.customer_response is None:
            raise StateConflict(
                "the customer has not agreed to the solution yet: record the customer's answer "
                "(customer-agrees) first"
            )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [SolutionImplemented(note=self.note)]


class Resolve(Command):
    """将处理结果告知客户: the result goes to the customer with the survey invitation."""

    result: LongText = Field(examples=["已为您更换排水泵并完成赔偿，感谢您的耐心等待"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        solution = state.solution
        if solution is not None and solution.implemented_at is None:
            raise StateConflict("implement the proposed solution first (implement-solution)")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _polite("result", self.result)
        return [Resolved(result=self.result, survey_nonce=ctx.new_nonce())]


# --- satisfaction, escalation, closure ---------------------------------------------------------


def satisfaction_events(
    state: ComplaintState,
    score: Satisfaction,
    *,
    source: str,
    comment: str | None,
    recorded_by: str | None = None,
    method: str | None = None,
) -> list[Event]:
    """Seed 002 §5.3.1.7: 1–3 lets the case close; 4–5 reopens it one level up; a level-3 case
    rated 4–5 goes to the management meeting."""
    outcome = satisfaction_outcome(score, state.level)
    events: list[Event] = [
        SatisfactionRecorded(
            score=score,
            source=source,
            comment=comment,
            management_review=outcome.management_review,
            recorded_by=recorded_by,
            method=method,
        )
    ]
    if outcome.reopen:
        events.append(Reopened(reason=f"满意度评价 {int(score)} (dissatisfied)"))
        if outcome.escalate_to is not None:
            events.append(
                Escalated(
                    from_level=state.level,
                    to_level=outcome.escalate_to,
                    reason=f"满意度评价 {int(score)}",
                    cause="satisfaction",
                    handed_over=True,
                )
            )
    return events


class RecordSatisfaction(Command):
    """回访: the rating the customer gave on a return call (1 非常满意 … 5 很不满意)."""

    score: Satisfaction
    comment: MediumText | None = None
    method: ContactMethod = Field(default=ContactMethod.PHONE, description="How it was asked")

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        _not_the_handler(state, ctx)

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return satisfaction_events(
            state,
            self.score,
            source="return_call",
            comment=self.comment,
            recorded_by=ctx.principal.id,
            method=self.method.value,
        )


class Escalate(Command):
    """升级 by hand: one level up, and the case moves to the next tier (SPEC §2): to
    `assignee_id` of that tier, or to the tier's queue (待领取) without one."""

    reason: MediumText = Field(examples=["客户情绪激动，扬言向媒体曝光"])
    assignee_id: uuid.UUID | None = Field(
        default=None, description="Who of the next tier takes the case (default: its queue)"
    )

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        if state.level >= Level.VERY_SERIOUS:
            raise StateConflict("already at level 3 (三级投诉), the highest")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _not_the_subject(state, self.assignee_id)
        return [
            Escalated(
                from_level=state.level,
                to_level=escalate(state.level),
                reason=self.reason,
                cause="manual",
                handed_over=True,
                assignee_id=self.assignee_id,
            )
        ]


# --- repeat complaints (二次投诉, seed 002 §4.3.2) -------------------------------------------


class LinkRepeat(Command):
    """Link this complaint as a repeat of an earlier one found by staff (the automatic check
    missed it): at least level 2 (seed 002 §4.3.2), so a lower case moves to tier 2."""

    repeat_of: uuid.UUID
    reason: MediumText = Field(examples=["同一客户就同一服务态度问题再次投诉"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        if self.repeat_of == state.id:
            raise InvalidInput([FieldError(("body", "repeat_of"), "not this complaint itself")])
        events: list[Event] = [RepeatLinked(repeat_of=self.repeat_of, reason=self.reason)]
        floor = ctx.rules.level.repeat_level
        if state.level < floor:
            events.append(
                Escalated(
                    from_level=state.level,
                    to_level=floor,
                    reason=f"二次投诉：{self.reason}",
                    cause="repeat",
                    handed_over=True,
                )
            )
        return events


class UnlinkRepeat(Command):
    """Remove a wrong repeat link (not the same event); the level stays until triaged."""

    reason: MediumText = Field(examples=["并非同一事件"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        if state.repeat_of is None:
            raise StateConflict(
                "this complaint is not linked as a repeat: there is nothing to unlink"
            )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [RepeatUnlinked(reason=self.reason)]


class Withdraw(Command):
    """撤诉: the customer withdraws the complaint."""

    reason: MediumText = Field(examples=["客户表示问题已自行解决，申请撤诉"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [Withdrawn(reason=self.reason)]


class MarkInvalid(Command):
    """投诉不成立: the findings show customer or third-party fault; the explanation is sent."""

    explanation: LongText = Field(examples=["经核实，漏水系安装时进水管未拧紧所致，已为您免费紧固"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        if state.investigation is None or not may_mark_invalid(state.investigation.responsibility):
            raise StateConflict(
                "only findings of customer or third-party fault make a complaint invalid: "
                "record such findings first (record-findings)"
            )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _polite("explanation", self.explanation)
        return [MarkedInvalid(explanation=self.explanation)]


class Reopen(Command):
    """Reopen a resolved, closed or invalid complaint, with a reason."""

    reason: MediumText

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [Reopened(reason=self.reason)]


class Close(Command):
    """存档/结案 by the clerk (事务文员, seed 002 §3.2): the case was reviewed (审核), the customer
    rated the result or was recorded unreachable (回访), company or shared fault has a root cause
    and a corrective action (四不放过), and a regulator case has its reply recorded."""

    summary: MediumText | None = None

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        blockers = _closure_blockers(state, ctx.rules.closure)
        if blockers:
            raise ClosureRequirements(f"cannot close yet (四不放过): {', '.join(blockers)}")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [Closed(summary=self.summary)]


# --- 8D corrective and preventive actions ------------------------------------------------------


class AddCorrectiveAction(Command):
    """制订纠正预防措施: add a corrective or preventive action with its owner and due date."""

    kind: Literal["corrective", "preventive"] = "corrective"
    description: LongText = Field(examples=["对密封圈来料增加尺寸全检"])
    owner: MediumText = Field(examples=["质量部 王工"])
    due_date: IsoDate

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [
            CorrectiveActionAdded(
                action_id=ctx.new_id(),
                kind=self.kind,
                description=self.description,
                owner=self.owner,
                due_date=self.due_date,
            )
        ]


def _known_action(state: ComplaintState, action_id: uuid.UUID) -> None:
    if all(a.id != action_id for a in state.corrective_actions):
        raise InvalidInput([FieldError(("body", "action_id"), "no such corrective action")])


class UpdateCorrectiveAction(Command):
    """Record the progress of a corrective action."""

    action_id: uuid.UUID
    status: ActionStatus
    note: MediumText | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _known_action(state, self.action_id)
        return [
            CorrectiveActionUpdated(action_id=self.action_id, status=self.status, note=self.note)
        ]


class VerifyCorrectiveAction(Command):
    """效果确认: record whether a corrective action proved effective."""

    action_id: uuid.UUID
    effective: StrictBool
    note: MediumText | None = None

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _known_action(state, self.action_id)
        return [
            CorrectiveActionVerified(
                action_id=self.action_id, effective=self.effective, note=self.note
            )
        ]


# --- regulator and communication ---------------------------------------------------------------


class RegulatorReply(Command):
    """The reply sent back to the regulator (12315) with its date."""

    replied_at: IsoDateTime
    content: LongText = Field(examples=["已与消费者协商一致，退还差价320元，消费者表示满意"])
    outcome: MediumText | None = Field(default=None, examples=["调解成功"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        if state.channel is not Channel.REGULATOR:
            raise StateConflict("only complaints forwarded by a regulator take a regulator reply")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        if self.replied_at.tzinfo is None or self.replied_at > ctx.now:
            raise InvalidInput([FieldError(("body", "replied_at"), "must be past, with offset")])
        return [
            RegulatorReplied(replied_at=self.replied_at, content=self.content, outcome=self.outcome)
        ]


class AddNote(Command):
    """An internal note (内部备注): never shown to the customer."""

    text: LongText = Field(examples=["客户要求周末上门，已与服务网点确认"])

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        return [NoteAdded(text=self.text)]


class ReplyToCustomer(Command):
    """A reply the customer receives (progress-update message)."""

    text: LongText = Field(
        examples=["您好，您反映的问题我们已安排质量部调查，预计3个工作日内给您答复"]
    )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        _polite("text", self.text)
        return [CustomerReplySent(text=self.text)]


# --- the sign-off chain (审核 → 存档) and the honest 回访 (seed 002 §5.1.1, §5.3.1.6, §5.4.1.3) ---


def _handlers(state: ComplaintState) -> list[str | None]:
    """Who handled the case: its assignee and whoever told the customer the result."""
    return [str(state.assignee_id) if state.assignee_id else None, state.resolved_by]


def _not_the_handler(state: ComplaintState, ctx: Context) -> None:
    """Seed 002 §5.4.1.3: the handler never records the 回访 of their own case (私自填写舞弊)."""
    if ctx.principal.id in {h for h in _handlers(state) if h}:
        raise Forbidden("the handler of a case never records its 回访 (私自填写舞弊)")


def _review_problem(state: ComplaintState, ctx: Context) -> None:
    problem = reviewer_problem(
        role=ctx.principal.role,
        reviewer_id=ctx.principal.id,
        level=state.level,
        handlers=_handlers(state),
        rules=ctx.rules.closure,
    )
    if problem is not None:
        raise Forbidden(problem)


class Claim(Command):
    """认领: take an unassigned case of a level your tier handles from the queue (seed 002
    §5.1.1.1: a level-1 case is tier 1's). The first claim wins; a later one gets 409."""

    note: MediumText | None = None

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        if state.assignee_id is not None:
            raise StateConflict("this complaint is already assigned (已被认领)")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        user_id = ctx.principal.user_id
        assert user_id is not None  # only staff roles claim
        department = (
            state.department
            or route(state.category, state.level, rules=ctx.rules.routing).department_code
        )
        return [Claimed(department=department, assignee_id=user_id, note=self.note)]


class Review(Command):
    """审核: the tier above the handler signs the handled, rated case off (level 1 → manager,
    level 2 → director, level 3 → a director who did not handle it); the clerk then archives."""

    comment: MediumText | None = Field(default=None, examples=["处理过程符合规定，同意存档"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        _review_problem(state, ctx)
        if state.review is not None:
            raise StateConflict("this result is already reviewed")
        blockers = [
            b
            for b in _closure_blockers(state, ctx.rules.closure)
            if b is not ClosureBlocker.REVIEW_MISSING
        ]
        if blockers:
            raise ClosureRequirements(f"cannot review yet: {', '.join(blockers)}")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        role = ctx.principal.role
        assert role is not None
        return [CaseReviewed(role=role, comment=self.comment)]


class SendBack(Command):
    """退回: the reviewer returns the case to its handler with the reason (counted in the
    reports); the handler works on, and the new result is rated and reviewed again."""

    reason: MediumText = Field(examples=["处理记录不完整，请补充与客户的沟通记录"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        _review_problem(state, ctx)

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        role = ctx.principal.role
        assert role is not None
        return [CaseSentBack(role=role, reason=self.reason, handler_id=state.assignee_id)]


class LogFollowUpAttempt(Command):
    """回访未接通: an attempt to reach the customer for the rating that failed. Attempts on
    different working days count towards recording the customer unreachable."""

    method: ContactMethod = ContactMethod.PHONE
    attempted_at: IsoDateTime | None = Field(default=None, description="Default: now")
    note: MediumText | None = Field(default=None, examples=["电话无人接听"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        _not_the_handler(state, ctx)
        if state.satisfaction is not None:
            raise StateConflict("the customer has rated this result")

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        at = self.attempted_at or ctx.now
        if at.tzinfo is None or at > ctx.now:
            raise InvalidInput([FieldError(("body", "attempted_at"), "must be past, with offset")])
        day = _working_day(at, ctx.calendar)
        return [
            FollowUpAttemptLogged(
                method=self.method, attempted_at=at, note=self.note, working_day=day
            )
        ]


def _working_day(at: datetime, calendar: BusinessCalendar | None) -> date | None:
    """The Asia/Shanghai day of `at` if it is a working day on the business calendar."""
    local = at.astimezone(ZoneInfo(calendar.tz if calendar else "Asia/Shanghai")).date()
    working = calendar.is_working_day(local) if calendar else local.weekday() < 5
    return local if working else None


class RecordUnreachable(Command):
    """回访无法联系: the customer could not be reached after the configured number of attempts
    on different working days (default 3); recorded as its own outcome, not a rating."""

    note: MediumText | None = Field(default=None, examples=["三个工作日内三次电话均无人接听"])

    @classmethod
    def check(cls, state: ComplaintState, ctx: Context) -> None:
        _not_the_handler(state, ctx)
        if state.satisfaction is not None:
            raise StateConflict("the customer has rated this result")
        followup = state.followup or FollowUp()
        if followup.unreachable_at is not None:
            raise StateConflict("already recorded as unreachable")
        needed = ctx.rules.closure.followup_attempts
        days = followup.working_days()
        if days < needed:
            raise StateConflict(
                f"log {needed} attempts on different working days first ({days} so far): "
                "log-followup-attempt"
            )

    def decide(self, state: ComplaintState, ctx: Context) -> list[Event]:
        followup = state.followup or FollowUp()
        days = followup.working_days()
        return [
            FollowUpUnreachable(attempts=len(followup.attempts), working_days=days, note=self.note)
        ]


def _closure_blockers(state: ComplaintState, rules: ClosureRules) -> list[ClosureBlocker]:
    investigation = state.investigation
    return closure_blockers(
        responsibility=investigation.responsibility if investigation else None,
        has_root_cause=bool(state.root_cause),
        action_count=len(state.corrective_actions),
        all_actions_verified=all(a.verified for a in state.corrective_actions),
        satisfaction=state.satisfaction,
        regulator_case=state.channel is Channel.REGULATOR,
        has_regulator_reply=state.regulator_reply is not None,
        reviewed=state.review is not None,
        unreachable=state.followup is not None and state.followup.unreachable_at is not None,
        rules=rules,
    )


COMMANDS: dict[Action, type[Command]] = {
    Action.TRIAGE: Triage,
    Action.ASSIGN: Assign,
    Action.REASSIGN: Reassign,
    Action.START_INVESTIGATION: StartInvestigation,
    Action.LOG_CONTACT: LogContact,
    Action.AWAIT_CUSTOMER: AwaitCustomer,
    Action.CUSTOMER_RESPONDED: CustomerRespondedCmd,
    Action.RECORD_FINDINGS: RecordFindings,
    Action.RECORD_ROOT_CAUSE: RecordRootCause,
    Action.PROPOSE_SOLUTION: ProposeSolution,
    Action.APPROVE_SOLUTION: ApproveSolution,
    Action.REJECT_SOLUTION: RejectSolution,
    Action.CUSTOMER_AGREES: CustomerAgrees,
    Action.CUSTOMER_REJECTS: CustomerRejects,
    Action.IMPLEMENT_SOLUTION: ImplementSolution,
    Action.RESOLVE: Resolve,
    Action.RECORD_SATISFACTION: RecordSatisfaction,
    Action.ADD_CORRECTIVE_ACTION: AddCorrectiveAction,
    Action.UPDATE_CORRECTIVE_ACTION: UpdateCorrectiveAction,
    Action.VERIFY_CORRECTIVE_ACTION: VerifyCorrectiveAction,
    Action.ESCALATE: Escalate,
    Action.WITHDRAW: Withdraw,
    Action.MARK_INVALID: MarkInvalid,
    Action.REOPEN: Reopen,
    Action.CLOSE: Close,
    Action.REGULATOR_REPLY: RegulatorReply,
    Action.ADD_NOTE: AddNote,
    Action.REPLY_TO_CUSTOMER: ReplyToCustomer,
    Action.CLAIM: Claim,
    Action.REVIEW: Review,
    Action.SEND_BACK: SendBack,
    Action.LOG_FOLLOWUP_ATTEMPT: LogFollowUpAttempt,
    Action.RECORD_UNREACHABLE: RecordUnreachable,
    Action.LINK_REPEAT: LinkRepeat,
    Action.UNLINK_REPEAT: UnlinkRepeat,
}


def check(state: ComplaintState, action: Action, ctx: Context) -> None:
    """Whether the caller may take `action` on `state` now, whatever the body: 403 when the
    caller may not (role, tier, four eyes), 409 when the status does not allow the action (with
    the allowed actions) or a rule of the action refuses it in this state (approval pending,
    closure requirements …). The one source of `decide`'s refusals and of `available_actions`."""
    # Who you are comes before what the state allows.
    authorize(ctx.principal, action, state, routing=ctx.rules.routing, closure=ctx.rules.closure)
    if action not in allowed_actions(state.status):
        raise InvalidTransition(state.status, action, allowed_actions(state.status))
    COMMANDS[action].check(state, ctx)


def decide(state: ComplaintState, action: Action, command: Command, ctx: Context) -> list[Event]:
    """The events `command` produces on `state`, or a domain error: `check`'s refusals first,
    then 422 when a rule of the body refuses it (recusal, forbidden phrases, an unknown
    corrective action …)."""
    check(state, action, ctx)
    return command.decide(state, ctx)


def available_actions(state: ComplaintState, ctx: Context) -> list[Action]:
    """What this caller may do to `state` now (the `allowed_actions` a complaint is shown
    with): every command whose `check` passes, dry-run, so an action offered is refused only
    for its body (or a change made in between)."""
    available = []
    in_status = allowed_actions(state.status)
    for action in COMMANDS:
        # Two of check's own conditions first, without raising: most actions fail one of them,
        # and an exception per action would cost most of the dry run. The status first: it
        # rules out most actions, and their roles need not be worked out.
        if action not in in_status:
            continue
        if not ctx.principal.has_role(*action_roles(action, ctx.rules.closure)):
            continue
        try:
            check(state, action, ctx)
        except DomainError:
            continue
        available.append(action)
    return available
