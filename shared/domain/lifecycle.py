"""The complaint lifecycle (处理流程) as one declarative transition table.

Every change to a complaint is an event named by an `Action`; the table below says in which
statuses (`enums.Status`) the action may happen and which status follows. The API validates a
command with `next_status` before appending the event, and the projection applies the same
function when it folds the event log, so the two can never disagree.

The paths come from the seed procedures:

- seed 000 第五条: 接到投诉 → 确定投诉类别 (triage) → 转交责任部门 (assign) → 详细调查, 制定处理方案
  (investigate, propose) → 实施处理方案 (implement) → 处理结果告知客户 (resolve) → 满意度回访
  (record_satisfaction) → 结案 (close);
- seed 002 §5.3.1.6: a rating of 4 不满意 or 5 很不满意 reopens the case one level up (reopen,
  escalate); §5.3.1.5: contact the customer at least weekly while open (log_contact);
- seed 004 顾客抱怨处理流程: 责任判定 NO → 向顾客解释 (mark_invalid); YES → 分析原因 → 制订纠正预防
  措施 → 核准 → 措施绩效跟踪 (record_root_cause, add/update/verify_corrective_action);
- seed 003 §3.2.1: 投诉人要求撤诉的, 可以允许撤诉 (withdraw).

`awaiting_customer` (等待客户, SLA clock paused) returns to the status it was entered from.
The status is not stored in the table: the projection keeps it as `status_before_pause` and passes
it to `next_status(..., previous=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from shared.domain.enums import Status
from shared.domain.errors import Conflict

__all__ = [
    "OPEN_STATES",
    "PAUSABLE_STATES",
    "STATUS_LABELS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Action",
    "InvalidTransition",
    "Relative",
    "Transition",
    "allowed_actions",
    "clock_paused",
    "is_open",
    "is_terminal",
    "mermaid_state_diagram",
    "next_status",
]


class Action(StrEnum):
    """What staff, customers, regulators or the SLA worker do to a complaint; one event each.

    The value is the name stored and used in code; `slug` is how the API spells it everywhere
    (the action's URL, `allowed_actions`, problem documents, the diagram): kebab-case."""

    @property
    def slug(self) -> str:
        """The action as the API spells it: `start_investigation` → `start-investigation`."""
        return self.value.replace("_", "-")

    @classmethod
    def from_slug(cls, slug: str) -> Action:
        return cls(slug.replace("-", "_"))

    TRIAGE = "triage"  # 初步判断: kind, category, level (确定投诉类别)
    ASSIGN = "assign"  # 转交相应责任部门 and handler
    REASSIGN = "reassign"  # another handler or department: recusal, next tier, absence
    START_INVESTIGATION = "start_investigation"  # 责任部门进行调查
    LOG_CONTACT = "log_contact"  # 与客户联系 (counts for the progress-update SLA)
    AWAIT_CUSTOMER = "await_customer"  # waiting for evidence, a sample, an answer: clock paused
    CUSTOMER_RESPONDED = "customer_responded"  # the customer answered: back where we paused
    RECORD_FINDINGS = "record_findings"  # 调查结果 and 责任判定 (responsibility)
    RECORD_ROOT_CAUSE = "record_root_cause"  # 分析原因 / 8D root cause
    PROPOSE_SOLUTION = "propose_solution"  # 制定处理方案 (remedies, amounts)
    APPROVE_SOLUTION = "approve_solution"  # 审批 by 二级/三级受理人 above the approval limits
    REJECT_SOLUTION = "reject_solution"  # the approver sends it back
    CUSTOMER_AGREES = "customer_agrees"  # 与客户协商, 客户确认 OK
    CUSTOMER_REJECTS = "customer_rejects"  # 客户确认 NG: rework the solution
    IMPLEMENT_SOLUTION = "implement_solution"  # 实施处理方案: refund paid, part replaced …
    RESOLVE = "resolve"  # 将处理结果告知客户
    RECORD_SATISFACTION = "record_satisfaction"  # 满意度回访, seed 002's 1–5 scale
    ADD_CORRECTIVE_ACTION = "add_corrective_action"  # 制订纠正预防措施 (owner, due date)
    UPDATE_CORRECTIVE_ACTION = "update_corrective_action"
    VERIFY_CORRECTIVE_ACTION = "verify_corrective_action"  # 措施绩效跟踪 / 效果确认
    ESCALATE = "escalate"  # 升级: one level up, next tier
    WITHDRAW = "withdraw"  # 撤诉
    MARK_INVALID = "mark_invalid"  # 非我方原因: explanation given, 投诉不成立
    REOPEN = "reopen"  # rated 4–5, or the customer contests the outcome
    CLOSE = "close"  # 结案, 归档
    REGULATOR_REPLY = "regulator_reply"  # reply sent back to 12315 / the market regulator
    ADD_NOTE = "add_note"  # internal note
    REPLY_TO_CUSTOMER = "reply_to_customer"  # written reply sent to the customer
    # --- the sign-off chain (审核 → 存档) and the honest 回访 (seed 002 §5.1.1, §5.3.1.6) ---
    CLAIM = "claim"  # a tier takes an unassigned case from its queue (认领)
    REVIEW = "review"  # 审核: the tier above the handler signs the case off
    SEND_BACK = "send_back"  # 退回: the reviewer returns the case to its handler, with a reason
    LOG_FOLLOWUP_ATTEMPT = "log_followup_attempt"  # 回访未接通: an attempt to reach the customer
    RECORD_UNREACHABLE = "record_unreachable"  # 回访无法联系: after the configured attempts
    LINK_REPEAT = "link_repeat"  # 二次投诉: staff link a repeat complaint (seed 002 §4.3.2)
    UNLINK_REPEAT = "unlink_repeat"  # the link was wrong: not the same event


class Relative(StrEnum):
    """A target named relative to the current status instead of a fixed one."""

    SAME = "same"  # the action records something and the status stays
    PREVIOUS = "previous"  # leave the pause: back to `status_before_pause`


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: the statuses an action is allowed in and the status it leads to."""

    sources: frozenset[Status]
    target: Status | Relative


class InvalidTransition(Conflict):
    """An action was attempted in a status that does not allow it.

    A `Conflict` (so the API's one error handler answers 409 with a problem document) and so an
    `Exception`; `allowed` lets the client offer what it may do instead.
    """

    title = "Invalid transition"
    code = "invalid-transition"

    def __init__(self, status: Status, action: Action, allowed: frozenset[Action]) -> None:
        self.status = status
        self.action = action
        self.allowed = allowed
        listed = ", ".join(sorted(a.slug for a in allowed)) or "none"
        super().__init__(f"cannot {action.slug} a complaint in status {status}; allowed: {listed}")


STATUS_LABELS: Mapping[Status, str] = MappingProxyType(
    {
        Status.REGISTERED: "已登记受理",
        Status.ASSIGNED: "已分派责任部门",
        Status.INVESTIGATING: "调查处理中",
        Status.AWAITING_CUSTOMER: "等待客户 (暂停计时)",
        Status.SOLUTION_PROPOSED: "处理方案待确认",
        Status.RESOLVED: "已告知处理结果, 待回访",
        Status.CLOSED: "已结案",
        Status.INVALID: "投诉不成立",
        Status.WITHDRAWN: "已撤诉",
        Status.REOPENED: "重新处理",
    }
)

# Terminal means the handling is over: no SLA clock, not counted as open. It does not mean
# frozen: the record keeps growing (回访, regulator reply, 8D verification) and closed or
# invalid cases can be reopened.
TERMINAL_STATES: frozenset[Status] = frozenset({Status.CLOSED, Status.INVALID, Status.WITHDRAWN})
# `resolved` is still open: the result is told but the survey (回访) and 结案 are pending.
OPEN_STATES: frozenset[Status] = frozenset(Status) - TERMINAL_STATES

_S = Status
_EVERY_STATE = frozenset(Status)
# Being worked on: open and not yet resolved.
_IN_HANDLING = OPEN_STATES - {_S.RESOLVED}
_ASSIGNED_WORK = _IN_HANDLING - {_S.REGISTERED}
# 8D work needs an investigation behind it and may outlive the complaint (效果确认 takes weeks).
_AFTER_INVESTIGATION = frozenset(
    {
        _S.INVESTIGATING,
        _S.AWAITING_CUSTOMER,
        _S.SOLUTION_PROPOSED,
        _S.RESOLVED,
        _S.REOPENED,
        _S.CLOSED,
    }
)


def _row(sources: frozenset[Status] | set[Status], target: Status | Relative) -> Transition:
    return Transition(frozenset(sources), target)


TRANSITIONS: Mapping[Action, Transition] = MappingProxyType(
    {
        # Reclassifying is normal until the solution stands; level changes after that go
        # through `escalate`.
        Action.TRIAGE: _row(
            {_S.REGISTERED, _S.ASSIGNED, _S.INVESTIGATING, _S.REOPENED}, Relative.SAME
        ),
        # A reopened case usually goes to the next tier, hence assign from reopened.
        Action.ASSIGN: _row({_S.REGISTERED, _S.REOPENED}, _S.ASSIGNED),
        Action.REASSIGN: _row(OPEN_STATES - {_S.REGISTERED}, Relative.SAME),
        Action.START_INVESTIGATION: _row({_S.ASSIGNED, _S.REOPENED}, _S.INVESTIGATING),
        # Append-only records never move the status, and the record outlives the handling.
        Action.LOG_CONTACT: _row(_EVERY_STATE, Relative.SAME),
        Action.ADD_NOTE: _row(_EVERY_STATE, Relative.SAME),
        Action.LINK_REPEAT: _row(OPEN_STATES, Relative.SAME),
        Action.UNLINK_REPEAT: _row(OPEN_STATES, Relative.SAME),
        Action.REPLY_TO_CUSTOMER: _row(_EVERY_STATE, Relative.SAME),
        # The regulator's reply is owed whatever the outcome, withdrawn or invalid included.
        Action.REGULATOR_REPLY: _row(_EVERY_STATE, Relative.SAME),
        # Registration is not paused: acknowledging the complaint never waits on the customer.
        Action.AWAIT_CUSTOMER: _row(
            {_S.ASSIGNED, _S.INVESTIGATING, _S.SOLUTION_PROPOSED, _S.REOPENED},
            _S.AWAITING_CUSTOMER,
        ),
        Action.CUSTOMER_RESPONDED: _row({_S.AWAITING_CUSTOMER}, Relative.PREVIOUS),
        Action.RECORD_FINDINGS: _row({_S.INVESTIGATING}, Relative.SAME),
        Action.RECORD_ROOT_CAUSE: _row(_AFTER_INVESTIGATION, Relative.SAME),
        Action.ADD_CORRECTIVE_ACTION: _row(_AFTER_INVESTIGATION, Relative.SAME),
        Action.UPDATE_CORRECTIVE_ACTION: _row(_AFTER_INVESTIGATION, Relative.SAME),
        Action.VERIFY_CORRECTIVE_ACTION: _row(_AFTER_INVESTIGATION, Relative.SAME),
        # Proposing again while proposed replaces the proposal (approvals start over).
        Action.PROPOSE_SOLUTION: _row(
            {_S.INVESTIGATING, _S.SOLUTION_PROPOSED}, _S.SOLUTION_PROPOSED
        ),
        Action.APPROVE_SOLUTION: _row({_S.SOLUTION_PROPOSED}, Relative.SAME),
        Action.REJECT_SOLUTION: _row({_S.SOLUTION_PROPOSED}, _S.INVESTIGATING),
        Action.CUSTOMER_AGREES: _row({_S.SOLUTION_PROPOSED}, Relative.SAME),
        # Seed 004: 客户确认 NG → 原因分析 again.
        Action.CUSTOMER_REJECTS: _row({_S.SOLUTION_PROPOSED}, _S.INVESTIGATING),
        Action.IMPLEMENT_SOLUTION: _row({_S.SOLUTION_PROPOSED}, Relative.SAME),
        # From assigned and investigating too: inquiries and simple level-1 problems are answered
        # or fixed at first contact (seed 000 现场维修解决, "可直接解决").
        Action.RESOLVE: _row({_S.ASSIGNED, _S.INVESTIGATING, _S.SOLUTION_PROPOSED}, _S.RESOLVED),
        # A survey may be answered after 结案, and an explanation (invalid) is rated as well.
        Action.RECORD_SATISFACTION: _row({_S.RESOLVED, _S.CLOSED, _S.INVALID}, Relative.SAME),
        Action.ESCALATE: _row(OPEN_STATES, Relative.SAME),
        # A resolved case is closed, not withdrawn.
        Action.WITHDRAW: _row(_IN_HANDLING, _S.WITHDRAWN),
        # Only an investigation can establish that we are not at fault (seed 004 责任判定 NO).
        Action.MARK_INVALID: _row({_S.INVESTIGATING}, _S.INVALID),
        # Invalid can be reopened: seed 004 向顾客解释, 获得顾客理解 NG → 协商解决. A withdrawn
        # complaint that comes back is a new, repeat complaint instead.
        Action.REOPEN: _row({_S.RESOLVED, _S.CLOSED, _S.INVALID}, _S.REOPENED),
        Action.CLOSE: _row({_S.RESOLVED}, _S.CLOSED),
        # The sign-off chain and the 回访 (seed 002 §5.1.1.1–3, §5.3.1.6): a claim takes an
        # unassigned case; the follow-up, the review and a send-back happen once the result is
        # told (resolved), before the clerk archives (close).
        Action.CLAIM: _row({_S.REGISTERED, _S.ASSIGNED, _S.REOPENED}, _S.ASSIGNED),
        Action.REVIEW: _row({_S.RESOLVED}, Relative.SAME),
        Action.SEND_BACK: _row({_S.RESOLVED}, _S.INVESTIGATING),
        Action.LOG_FOLLOWUP_ATTEMPT: _row({_S.RESOLVED}, Relative.SAME),
        Action.RECORD_UNREACHABLE: _row({_S.RESOLVED}, Relative.SAME),
    }
)

_missing = set(Action) - set(TRANSITIONS)
if _missing:  # pragma: no cover - guards edits to the table at import time
    raise RuntimeError(f"actions without a transition: {sorted(_missing)}")

_ALLOWED: Mapping[Status, frozenset[Action]] = MappingProxyType(
    {
        status: frozenset(a for a, row in TRANSITIONS.items() if status in row.sources)
        for status in Status
    }
)

# The statuses a pause can return to: exactly those `await_customer` starts from.
PAUSABLE_STATES: frozenset[Status] = TRANSITIONS[Action.AWAIT_CUSTOMER].sources


def allowed_actions(status: Status) -> frozenset[Action]:
    """The actions allowed in `status`."""
    return _ALLOWED[status]


def next_status(status: Status, action: Action, *, previous: Status | None = None) -> Status:
    """The status after `action` in `status`.

    `previous` is the projection's `status_before_pause`; it is required to leave
    `awaiting_customer` and ignored otherwise. Raises `InvalidTransition` when the action is not
    allowed, and `ValueError` when `previous` is missing or could never have been paused.
    """
    row = TRANSITIONS[action]
    if status not in row.sources:
        raise InvalidTransition(status, action, allowed_actions(status))
    target = row.target
    if isinstance(target, Status):
        return target
    if target is Relative.SAME:
        return status
    if previous is None or previous not in PAUSABLE_STATES:
        raise ValueError(
            f"{action} needs the status before the pause, one of "
            f"{sorted(PAUSABLE_STATES)}; got {previous}"
        )
    return previous


def is_open(status: Status) -> bool:
    """Whether the complaint is still being handled (未结案); `resolved` counts as open."""
    return status in OPEN_STATES


def is_terminal(status: Status) -> bool:
    """Whether handling is over (closed, invalid, withdrawn); reopen may still apply."""
    return status in TERMINAL_STATES


def clock_paused(status: Status) -> bool:
    """Whether the SLA clock is paused because we are waiting for the customer (SPEC §4)."""
    return status is Status.AWAITING_CUSTOMER


def _in_place(status: Status) -> list[Action]:
    """Actions allowed in `status` that leave it where it is, in enum order."""
    return [
        action
        for action in Action
        if status in TRANSITIONS[action].sources
        and TRANSITIONS[action].target in (Relative.SAME, status)
    ]


def _edges() -> dict[tuple[Status, Status], list[Action]]:
    """Status-changing transitions grouped by (source, target), in enum order."""
    edges: dict[tuple[Status, Status], list[Action]] = {}
    for source in Status:
        for action in Action:
            row = TRANSITIONS[action]
            if source not in row.sources:
                continue
            if row.target is Relative.PREVIOUS:
                targets = [s for s in Status if s in PAUSABLE_STATES]
            elif isinstance(row.target, Status):
                targets = [row.target]
            else:
                targets = []
            for target in targets:
                if target is not source:
                    edges.setdefault((source, target), []).append(action)
    return edges


def mermaid_state_diagram(*, include_in_place: bool = True) -> str:
    """The table as a Mermaid `stateDiagram-v2`, for the API docs page.

    Status-changing actions are arrows (one per pair of statuses, actions joined by ", ");
    `customer_responded` is drawn back to every status a pause can start from. With
    `include_in_place`, the actions that keep the status are listed in a note on each state.
    """
    lines = ["stateDiagram-v2"]
    lines += [f"    {status} : {STATUS_LABELS[status]}" for status in Status]
    lines.append(f"    [*] --> {Status.REGISTERED}")
    for (source, target), actions in _edges().items():
        lines.append(f"    {source} --> {target} : {', '.join(a.slug for a in actions)}")
    lines += [f"    {status} --> [*]" for status in Status if status in TERMINAL_STATES]
    if include_in_place:
        for status in Status:
            lines.append(f"    note right of {status}")
            lines += [f"        {action.slug}" for action in _in_place(status)]
            lines.append("    end note")
    return "\n".join(lines) + "\n"
