"""The lifecycle table checked against an independent, hand-written reading of the seeds.

`SEED_MOVES` and `SEED_IN_PLACE` below are written per state from the seed procedures, in a
different shape from the module's per-action table, and never derived from it. Every state ×
every action is compared against them.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.enums import Status
from shared.domain.errors import Conflict
from shared.domain.lifecycle import (
    OPEN_STATES,
    TERMINAL_STATES,
    Action,
    InvalidTransition,
    allowed_actions,
    clock_paused,
    is_open,
    is_terminal,
    mermaid_state_diagram,
    next_status,
)

S = Status
A = Action

# Status-changing moves, read off the seeds: (from, action, to).
SEED_MOVES: list[tuple[Status, Action, Status]] = [
    # seed 000 第五条: 确定投诉类别 → 转交责任部门 → 调查 → 方案 → 实施 → 告知结果
    (S.REGISTERED, A.ASSIGN, S.ASSIGNED),
    (S.ASSIGNED, A.START_INVESTIGATION, S.INVESTIGATING),
    (S.INVESTIGATING, A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
    (S.SOLUTION_PROPOSED, A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
    (S.SOLUTION_PROPOSED, A.RESOLVE, S.RESOLVED),
    # first-contact resolution of simple problems and inquiries (seed 000 "可直接解决")
    (S.ASSIGNED, A.RESOLVE, S.RESOLVED),
    (S.INVESTIGATING, A.RESOLVE, S.RESOLVED),
    # approval sends a solution back; seed 004 客户确认 NG → 原因分析
    (S.SOLUTION_PROPOSED, A.REJECT_SOLUTION, S.INVESTIGATING),
    (S.SOLUTION_PROPOSED, A.CUSTOMER_REJECTS, S.INVESTIGATING),
    # waiting for the customer pauses the clock and returns where it paused
    (S.ASSIGNED, A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),
    (S.INVESTIGATING, A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),
    (S.SOLUTION_PROPOSED, A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),
    (S.REOPENED, A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),
    (S.AWAITING_CUSTOMER, A.CUSTOMER_RESPONDED, S.ASSIGNED),
    (S.AWAITING_CUSTOMER, A.CUSTOMER_RESPONDED, S.INVESTIGATING),
    (S.AWAITING_CUSTOMER, A.CUSTOMER_RESPONDED, S.SOLUTION_PROPOSED),
    (S.AWAITING_CUSTOMER, A.CUSTOMER_RESPONDED, S.REOPENED),
    # 结案 after 回访 and 审核: the clerk archives (seed 002 §5.1.1.1, §3.2)
    (S.RESOLVED, A.CLOSE, S.CLOSED),
    # seed 002 §5.1.1.1 the tier's queue: a claim takes an unassigned case (认领)
    (S.REGISTERED, A.CLAIM, S.ASSIGNED),
    (S.REOPENED, A.CLAIM, S.ASSIGNED),
    # seed 002 §5.1.1: the reviewer sends the case back to its handler (退回)
    (S.RESOLVED, A.SEND_BACK, S.INVESTIGATING),
    # seed 002 §5.3.1.6 rated 4–5; seed 004 向顾客解释 NG → 协商解决
    (S.RESOLVED, A.REOPEN, S.REOPENED),
    (S.CLOSED, A.REOPEN, S.REOPENED),
    (S.INVALID, A.REOPEN, S.REOPENED),
    (S.REOPENED, A.ASSIGN, S.ASSIGNED),
    (S.REOPENED, A.START_INVESTIGATION, S.INVESTIGATING),
    # seed 004 责任判定 NO → 向顾客解释
    (S.INVESTIGATING, A.MARK_INVALID, S.INVALID),
    # seed 003 §3.2.1 撤诉, while the complaint is still being handled
    (S.REGISTERED, A.WITHDRAW, S.WITHDRAWN),
    (S.ASSIGNED, A.WITHDRAW, S.WITHDRAWN),
    (S.INVESTIGATING, A.WITHDRAW, S.WITHDRAWN),
    (S.AWAITING_CUSTOMER, A.WITHDRAW, S.WITHDRAWN),
    (S.SOLUTION_PROPOSED, A.WITHDRAW, S.WITHDRAWN),
    (S.REOPENED, A.WITHDRAW, S.WITHDRAWN),
]

_RECORDS = {A.LOG_CONTACT, A.ADD_NOTE, A.REPLY_TO_CUSTOMER, A.REGULATOR_REPLY}
_EIGHT_D = {
    A.RECORD_ROOT_CAUSE,
    A.ADD_CORRECTIVE_ACTION,
    A.UPDATE_CORRECTIVE_ACTION,
    A.VERIFY_CORRECTIVE_ACTION,
}

# Actions that record something and leave the status as it is, per state.
# Seed 002 §4.3.2: a repeat link is set or removed by staff while the case is open.
_REPEAT = {A.LINK_REPEAT, A.UNLINK_REPEAT}
SEED_IN_PLACE: dict[Status, set[Action]] = {
    S.REGISTERED: {A.TRIAGE, A.ESCALATE} | _RECORDS | _REPEAT,
    # a case routed to a department but held by nobody is still in the queue (claim)
    S.ASSIGNED: {A.TRIAGE, A.REASSIGN, A.ESCALATE, A.CLAIM} | _RECORDS | _REPEAT,
    S.INVESTIGATING: {A.TRIAGE, A.REASSIGN, A.ESCALATE, A.RECORD_FINDINGS}
    | _EIGHT_D
    | _RECORDS
    | _REPEAT,
    S.AWAITING_CUSTOMER: {A.REASSIGN, A.ESCALATE} | _EIGHT_D | _RECORDS | _REPEAT,
    S.SOLUTION_PROPOSED: {
        A.REASSIGN,
        A.ESCALATE,
        A.APPROVE_SOLUTION,
        A.CUSTOMER_AGREES,
        A.IMPLEMENT_SOLUTION,
        A.PROPOSE_SOLUTION,
    }
    | _EIGHT_D
    | _RECORDS
    | _REPEAT,
    # seed 002 §5.3.1.6 回访 (rating, failed attempts, unreachable), then 审核
    S.RESOLVED: {
        A.REASSIGN,
        A.ESCALATE,
        A.RECORD_SATISFACTION,
        A.LOG_FOLLOWUP_ATTEMPT,
        A.RECORD_UNREACHABLE,
        A.REVIEW,
    }
    | _EIGHT_D
    | _RECORDS
    | _REPEAT,
    S.CLOSED: {A.RECORD_SATISFACTION} | _EIGHT_D | _RECORDS,
    S.INVALID: {A.RECORD_SATISFACTION} | _RECORDS,
    S.WITHDRAWN: set(_RECORDS),
    S.REOPENED: {A.TRIAGE, A.REASSIGN, A.ESCALATE} | _EIGHT_D | _RECORDS | _REPEAT,
}

PAUSED_FROM = {S.ASSIGNED, S.INVESTIGATING, S.SOLUTION_PROPOSED, S.REOPENED}


def expected_allowed(status: Status) -> set[Action]:
    return SEED_IN_PLACE[status] | {action for src, action, _ in SEED_MOVES if src is status}


def expected_target(status: Status, action: Action) -> Status | None:
    """The seeds' target for a fixed move; None when the action is not a fixed move there."""
    targets = {dst for src, act, dst in SEED_MOVES if src is status and act is action}
    if action in SEED_IN_PLACE[status]:
        targets.add(status)
    assert len(targets) <= 1 or action is A.CUSTOMER_RESPONDED
    return targets.pop() if len(targets) == 1 else None


def test_the_hand_written_spec_covers_every_action() -> None:
    mentioned = {a for _, a, _ in SEED_MOVES} | set().union(*SEED_IN_PLACE.values())
    assert mentioned == set(Action)
    assert set(SEED_IN_PLACE) == set(Status)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_every_state_and_action(status: Status, action: Action) -> None:
    allowed = expected_allowed(status)
    if action not in allowed:
        with pytest.raises(InvalidTransition) as caught:
            next_status(status, action, previous=S.INVESTIGATING)
        error = caught.value
        assert (error.status, error.action) == (status, action)
        assert error.allowed == allowed
        for name in allowed:
            assert name.slug in str(error)
        return
    if action is A.CUSTOMER_RESPONDED:
        for previous in PAUSED_FROM:
            assert next_status(status, action, previous=previous) is previous
        return
    assert next_status(status, action) is expected_target(status, action)


@pytest.mark.parametrize("status", list(Status))
def test_allowed_actions(status: Status) -> None:
    assert allowed_actions(status) == expected_allowed(status)


def test_invalid_transition_is_a_conflict_for_the_api() -> None:
    with pytest.raises(Conflict):
        next_status(S.CLOSED, A.CLOSE)


@pytest.mark.parametrize("previous", [None, *sorted(set(Status) - PAUSED_FROM)])
def test_leaving_a_pause_needs_a_status_it_could_have_paused_from(
    previous: Status | None,
) -> None:
    with pytest.raises(ValueError, match="before the pause"):
        next_status(S.AWAITING_CUSTOMER, A.CUSTOMER_RESPONDED, previous=previous)


def test_previous_is_ignored_outside_the_pause() -> None:
    assert next_status(S.INVESTIGATING, A.ADD_NOTE, previous=S.ASSIGNED) is S.INVESTIGATING


def test_open_terminal_and_paused() -> None:
    terminal = {S.CLOSED, S.INVALID, S.WITHDRAWN}
    assert terminal == TERMINAL_STATES
    assert set(Status) - terminal == OPEN_STATES
    for status in Status:
        assert is_terminal(status) is (status in terminal)
        assert is_open(status) is (status not in terminal)
        assert clock_paused(status) is (status is S.AWAITING_CUSTOMER)


class Projection:
    """The smallest projection a caller needs: the status and where a pause started."""

    def __init__(self) -> None:
        self.status = S.REGISTERED
        self.status_before_pause: Status | None = None

    def apply(self, action: Action) -> Status:
        new = next_status(self.status, action, previous=self.status_before_pause)
        if new is S.AWAITING_CUSTOMER and self.status is not S.AWAITING_CUSTOMER:
            self.status_before_pause = self.status
        elif self.status is S.AWAITING_CUSTOMER and new is not S.AWAITING_CUSTOMER:
            self.status_before_pause = None
        self.status = new
        return new


def run(*steps: tuple[Action, Status]) -> None:
    projection = Projection()
    for action, expected in steps:
        assert projection.apply(action) is expected, action


def test_seed_000_ordinary_complaint() -> None:
    run(
        (A.TRIAGE, S.REGISTERED),
        (A.LOG_CONTACT, S.REGISTERED),  # 24 小时内初步沟通
        (A.ASSIGN, S.ASSIGNED),
        (A.START_INVESTIGATION, S.INVESTIGATING),
        (A.RECORD_FINDINGS, S.INVESTIGATING),
        (A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
        (A.CUSTOMER_AGREES, S.SOLUTION_PROPOSED),
        (A.IMPLEMENT_SOLUTION, S.SOLUTION_PROPOSED),
        (A.RESOLVE, S.RESOLVED),
        (A.RECORD_SATISFACTION, S.RESOLVED),
        (A.CLOSE, S.CLOSED),
    )


def test_seed_004_company_fault_with_corrective_actions() -> None:
    run(
        (A.ASSIGN, S.ASSIGNED),
        (A.START_INVESTIGATION, S.INVESTIGATING),
        (A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),  # 索取不良品样品
        (A.LOG_CONTACT, S.AWAITING_CUSTOMER),
        (A.CUSTOMER_RESPONDED, S.INVESTIGATING),
        (A.RECORD_FINDINGS, S.INVESTIGATING),  # 责任判定 YES
        (A.RECORD_ROOT_CAUSE, S.INVESTIGATING),  # 分析原因
        (A.ADD_CORRECTIVE_ACTION, S.INVESTIGATING),  # 制订纠正预防措施
        (A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
        (A.REJECT_SOLUTION, S.INVESTIGATING),  # 核准 refused
        (A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
        (A.APPROVE_SOLUTION, S.SOLUTION_PROPOSED),
        (A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),
        (A.CUSTOMER_RESPONDED, S.SOLUTION_PROPOSED),
        (A.CUSTOMER_AGREES, S.SOLUTION_PROPOSED),
        (A.IMPLEMENT_SOLUTION, S.SOLUTION_PROPOSED),
        (A.RESOLVE, S.RESOLVED),
        (A.RECORD_SATISFACTION, S.RESOLVED),
        (A.CLOSE, S.CLOSED),
        (A.VERIFY_CORRECTIVE_ACTION, S.CLOSED),  # 措施绩效跟踪 after 结案
    )


def test_seed_002_dissatisfied_customer_reopens_one_level_up() -> None:
    run(
        (A.ASSIGN, S.ASSIGNED),
        (A.RESOLVE, S.RESOLVED),
        (A.RECORD_SATISFACTION, S.RESOLVED),  # 4 不满意
        (A.ESCALATE, S.RESOLVED),
        (A.REOPEN, S.REOPENED),
        (A.ASSIGN, S.ASSIGNED),  # 汇报对应受理人
        (A.START_INVESTIGATION, S.INVESTIGATING),
        (A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
        (A.CUSTOMER_REJECTS, S.INVESTIGATING),
        (A.PROPOSE_SOLUTION, S.SOLUTION_PROPOSED),
        (A.CUSTOMER_AGREES, S.SOLUTION_PROPOSED),
        (A.RESOLVE, S.RESOLVED),
        (A.CLOSE, S.CLOSED),
    )


def test_seed_004_not_our_fault_then_contested() -> None:
    run(
        (A.ASSIGN, S.ASSIGNED),
        (A.START_INVESTIGATION, S.INVESTIGATING),
        (A.RECORD_FINDINGS, S.INVESTIGATING),  # 责任判定 NO
        (A.REPLY_TO_CUSTOMER, S.INVESTIGATING),  # 出示鉴定结果及依据
        (A.MARK_INVALID, S.INVALID),
        (A.REOPEN, S.REOPENED),  # 获得顾客理解 NG
        (A.START_INVESTIGATION, S.INVESTIGATING),
    )


def test_seed_003_withdrawal_and_regulator_reply() -> None:
    run(
        (A.ASSIGN, S.ASSIGNED),
        (A.START_INVESTIGATION, S.INVESTIGATING),
        (A.AWAIT_CUSTOMER, S.AWAITING_CUSTOMER),
        (A.WITHDRAW, S.WITHDRAWN),
        (A.REGULATOR_REPLY, S.WITHDRAWN),
        (A.ADD_NOTE, S.WITHDRAWN),
    )
    with pytest.raises(InvalidTransition):
        run((A.ASSIGN, S.ASSIGNED), (A.RESOLVE, S.RESOLVED), (A.WITHDRAW, S.WITHDRAWN))


def _successors(status: Status) -> set[Status]:
    found = set()
    for action in allowed_actions(status):
        previous_options = PAUSED_FROM if action is A.CUSTOMER_RESPONDED else {None}
        for previous in previous_options:
            found.add(next_status(status, action, previous=previous))
    return found


def _reachable(start: Status) -> set[Status]:
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in _successors(queue.popleft()) - seen:
            seen.add(nxt)
            queue.append(nxt)
    return seen


def test_every_state_is_reachable_and_can_end() -> None:
    assert _reachable(S.REGISTERED) == set(Status)
    for status in Status:
        assert _reachable(status) & {S.CLOSED, S.INVALID, S.WITHDRAWN}, status


@settings(max_examples=200)
@given(st.lists(st.sampled_from(list(Action)), max_size=60))
def test_random_walks_follow_allowed_actions(actions: list[Action]) -> None:
    projection = Projection()
    for action in actions:
        allowed = allowed_actions(projection.status)
        if action not in allowed:
            with pytest.raises(InvalidTransition):
                projection.apply(action)
            continue
        projection.apply(action)
        paused = clock_paused(projection.status)
        assert (projection.status_before_pause is not None) is paused
        if paused:
            assert projection.status_before_pause in PAUSED_FROM


# --- Mermaid -----------------------------------------------------------------------------------

_EDGE = re.compile(r"^    (\w+) --> (\w+) : (.+)$")
_START = re.compile(r"^    \[\*\] --> (\w+)$")
_END = re.compile(r"^    (\w+) --> \[\*\]$")
_STATE = re.compile(r"^    (\w+) : (.+)$")


@dataclass
class Diagram:
    states: set[str] = field(default_factory=set)
    edges: set[tuple[str, str, str]] = field(default_factory=set)
    starts: set[str] = field(default_factory=set)
    ends: set[str] = field(default_factory=set)
    notes: dict[str, set[str]] = field(default_factory=dict)


def _parse(diagram: str) -> Diagram:
    lines = diagram.splitlines()
    assert lines[0] == "stateDiagram-v2"
    parsed = Diagram()
    current_note: str | None = None
    for line in lines[1:]:
        if current_note is not None:
            if line == "    end note":
                current_note = None
            else:
                assert line.startswith("        ")
                parsed.notes[current_note].add(line.strip())
            continue
        if line.startswith("    note right of "):
            current_note = line.removeprefix("    note right of ")
            parsed.notes[current_note] = set()
        elif match := _EDGE.match(line):
            for label in match[3].split(", "):
                parsed.edges.add((match[1], label, match[2]))
        elif match := _START.match(line):
            parsed.starts.add(match[1])
        elif match := _END.match(line):
            parsed.ends.add(match[1])
        elif match := _STATE.match(line):
            parsed.states.add(match[1])
        else:
            pytest.fail(f"unexpected line {line!r}")
    assert current_note is None
    return parsed


def test_mermaid_has_every_state_move_and_in_place_action() -> None:
    diagram = _parse(mermaid_state_diagram())
    assert diagram.states == {str(s) for s in Status}
    assert diagram.starts == {"registered"}
    assert diagram.ends == {"closed", "invalid", "withdrawn"}
    # Self-moves (propose again) are drawn in the note, not as arrows.
    # Actions are spelled as their URLs are (kebab-case).
    expected_edges = {(str(src), a.slug, str(dst)) for src, a, dst in SEED_MOVES if src != dst}
    assert diagram.edges == expected_edges
    assert diagram.notes == {str(s): {a.slug for a in SEED_IN_PLACE[s]} for s in Status}


def test_mermaid_without_notes() -> None:
    diagram = _parse(mermaid_state_diagram(include_in_place=False))
    assert diagram.notes == {}
    assert diagram.edges == _parse(mermaid_state_diagram()).edges
