"""The decisions of shared.domain.handling, taken on states built by the domain's own events:
who may act at which level (tiers), approval limits and four eyes, implementation, closure
(四不放过, the regulator's reply) and what a survey answer does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.access import Principal
from shared.domain.complaint import ActorKind, ComplaintState, EventMeta
from shared.domain.enums import Channel, Level, Role, Satisfaction, Status
from shared.domain.errors import (
    AwaitingApproval,
    ClosureRequirements,
    Forbidden,
    InvalidInput,
    StateConflict,
)
from shared.domain.events import (
    ComplaintRegistered,
    Escalated,
    Reopened,
    SatisfactionRecorded,
    stamp,
)
from shared.domain.handling import (
    COMMANDS,
    Context,
    assignee_problem,
    decide,
    may_hold,
    satisfaction_events,
)
from shared.domain.intake import ChannelMeta, ComplaintIntake, Customer, Product, Wish
from shared.domain.lifecycle import Action, InvalidTransition
from shared.domain.rules import STAFF_OVERRIDE, ClosureRules, RoutingRules, Rules

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
A = Action


def user(role: Role, department: str | None = None) -> Principal:
    return Principal(
        kind=ActorKind.USER,
        id=str(uuid.uuid4()),
        label=role.value,
        role=role,
        department=department,
    )


AGENT = user(Role.AGENT, "service")
HANDLER = user(Role.HANDLER, "quality")
MANAGER = user(Role.MANAGER)
OTHER_MANAGER = user(Role.MANAGER)
DIRECTOR = user(Role.DIRECTOR)
AGENT2 = user(Role.AGENT, "service")
CLERK = user(Role.CLERK)


def signed_off(state: ComplaintState, reviewer: Principal = MANAGER) -> ComplaintState:
    """Seed 002 §5.3.1.6 then §5.1.1: another agent records the 回访 rating, the reviewer signs
    the case off (审核); the clerk may then archive it (存档)."""
    state = act(state, A.RECORD_SATISFACTION, AGENT2, {"score": 2})
    return act(state, A.REVIEW, reviewer)


def registered(
    *,
    level: Level = Level.ORDINARY,
    reasons: tuple[str, ...] = (),
    content: str = "电水壶使用一周后底座开裂，要求退货。",
    symptom: str | None = None,
    wish_detail: str | None = None,
    regulator: bool = False,
) -> ComplaintState:
    intake = ComplaintIntake(
        channel=Channel.REGULATOR if regulator else Channel.WEB,
        category="product_quality",
        customer=Customer(name="王芳", phone="13812345678"),
        product=Product(model="KX-200", symptom=symptom),
        content=content,
        desired_resolution=Wish(types=["refund"], detail=wish_detail),
        channel_meta=ChannelMeta(regulator_case_number="1231520261125000001")
        if regulator
        else ChannelMeta(),
    )
    event = ComplaintRegistered(
        reference="KS-20261125-000001",
        intake=intake,
        level=level,
        level_reasons=list(reasons),
        department="quality",
    )
    meta = EventMeta(complaint_id=uuid.uuid4(), seq=1, occurred_at=NOW, actor=AGENT.actor)
    return event.apply(None, meta)


def act(
    state: ComplaintState,
    action: Action,
    who: Principal,
    body: dict[str, Any] | None = None,
    *,
    rules: Rules | None = None,
) -> ComplaintState:
    """Decide `action` as `who` and apply the events, as the API does."""
    command = COMMANDS[action].model_validate(body or {})
    ctx = Context(principal=who, now=NOW, rules=rules or Rules())
    events = decide(state, action, command, ctx)
    _, states = stamp(state, events, actor=who.actor, now=NOW)
    return states[-1]


def investigating(state: ComplaintState) -> ComplaintState:
    state = act(state, A.ASSIGN, DIRECTOR, {"assignee_id": uuid.UUID(HANDLER.id)})
    return act(state, A.START_INVESTIGATION, HANDLER)


def proposed(
    amount: str | None, *, by: Principal = HANDLER, kind: str = "compensation"
) -> ComplaintState:
    state = investigating(registered())
    remedies = [{"type": kind, "amount": amount}]
    return act(state, A.PROPOSE_SOLUTION, by, {"remedies": remedies, "description": "赔偿"})


# --- tiers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "reachable"),
    [
        (AGENT, {Level.ORDINARY}),
        (MANAGER, {Level.ORDINARY, Level.SERIOUS}),
        (DIRECTOR, set(Level)),
    ],
)
def test_tier_decisions_need_the_levels_tier(who: Principal, reachable: set[Level]) -> None:
    for level in Level:
        state = registered(level=level)
        if level in reachable:
            assert act(state, A.WITHDRAW, who, {"reason": "客户撤诉"}).status is Status.WITHDRAWN
        else:
            with pytest.raises(Forbidden, match="higher tier"):
                act(state, A.WITHDRAW, who, {"reason": "客户撤诉"})


def test_handlers_take_no_tier_decision_whatever_the_level() -> None:
    with pytest.raises(Forbidden, match="role"):
        act(registered(), A.TRIAGE, HANDLER, {"subcategory": "漏电"})


def test_the_configured_tier_per_level_decides() -> None:
    # A company that trusts its agents with level-2 cases (二级投诉) says so in the routing rules.
    agents_to_two = RoutingRules(
        tier_by_level={
            Level.ORDINARY: Role.AGENT,
            Level.SERIOUS: Role.AGENT,
            Level.VERY_SERIOUS: Role.DIRECTOR,
        }
    )
    rules = Rules(routing=agents_to_two)
    level_two = registered(level=Level.SERIOUS)
    assert act(level_two, A.WITHDRAW, AGENT, {"reason": "撤诉"}, rules=rules).status == "withdrawn"
    with pytest.raises(Forbidden):
        act(
            registered(level=Level.VERY_SERIOUS),
            A.WITHDRAW,
            MANAGER,
            {"reason": "撤诉"},
            rules=rules,
        )
    assert may_hold(Role.AGENT, Level.SERIOUS, routing=agents_to_two)
    assert not may_hold(Role.MANAGER, Level.VERY_SERIOUS, routing=agents_to_two)


@pytest.mark.parametrize(
    ("role", "levels"),
    [
        (Role.AGENT, {Level.ORDINARY}),
        (Role.MANAGER, {Level.ORDINARY, Level.SERIOUS}),
        (Role.DIRECTOR, set(Level)),
        (Role.HANDLER, set(Level)),  # the responsible department investigates at any level
        (Role.AUDITOR, set()),
    ],
)
def test_who_may_hold_a_level(role: Role, levels: set[Level]) -> None:
    assert {level for level in Level if may_hold(role, level)} == levels


def test_a_higher_level_never_needs_a_lower_tier() -> None:
    with pytest.raises(ValueError, match="lower tier"):
        RoutingRules(
            tier_by_level={
                Level.ORDINARY: Role.MANAGER,
                Level.SERIOUS: Role.AGENT,
                Level.VERY_SERIOUS: Role.DIRECTOR,
            }
        )


def test_role_comes_before_status() -> None:
    # A handler may never close: 403 even where the status would refuse anyway (409). Seed 002
    # §3.2: the clerk archives; a director no longer closes alone either.
    with pytest.raises(Forbidden):
        act(registered(), A.CLOSE, HANDLER)
    with pytest.raises(Forbidden):
        act(registered(), A.CLOSE, DIRECTOR)
    with pytest.raises(InvalidTransition):
        act(registered(), A.CLOSE, CLERK)


# --- triage: the level staff set stands --------------------------------------------------------


def test_a_lowered_level_survives_later_triage() -> None:
    state = registered(level=Level.VERY_SERIOUS, content="产品起火，我要找媒体曝光")
    with pytest.raises(InvalidInput, match="reason"):
        act(state, A.TRIAGE, DIRECTOR, {"level": 1})
    state = act(state, A.TRIAGE, DIRECTOR, {"level": 1, "level_reason": "客户只是担心，实际未起火"})
    assert state.level is Level.ORDINARY
    assert STAFF_OVERRIDE in state.level_reasons
    state = act(state, A.TRIAGE, AGENT, {"subcategory": "外观"})  # fixing the subcategory only
    assert (state.level, state.subcategory) == (Level.ORDINARY, "外观")
    # Escalation still raises an overridden level, and triage keeps that too.
    state = act(state, A.ESCALATE, AGENT, {"reason": "客户情绪激动"})
    state = act(state, A.TRIAGE, MANAGER, {"cause_class": "quality"})
    assert state.level is Level.SERIOUS


def test_setting_the_suggested_level_again_ends_the_override() -> None:
    state = registered(level=Level.VERY_SERIOUS, content="孩子被烫伤，要起诉")
    state = act(state, A.TRIAGE, DIRECTOR, {"level": 2, "level_reason": "轻微烫红，已就医无碍"})
    state = act(state, A.TRIAGE, DIRECTOR, {"level": 3})
    assert STAFF_OVERRIDE not in state.level_reasons
    assert act(state, A.TRIAGE, DIRECTOR, {"subcategory": "烫伤"}).level is Level.VERY_SERIOUS


def test_a_level_rise_by_triage_moves_the_case_as_escalate_does_seed_002_5_1_1_2() -> None:
    """Seed 002 §5.1.1.2–3: a case triaged up goes to the new tier, exactly as `escalate`
    moves it — out of its holder's hands into the tier's queue, or to a named person of it."""
    held = act(registered(), A.ASSIGN, AGENT, {"assignee_id": uuid.UUID(AGENT.id)})
    command = COMMANDS[A.TRIAGE].model_validate({"level": 2, "level_reason": "客户情绪激动"})
    events = decide(held, A.TRIAGE, command, Context(principal=AGENT, now=NOW))
    assert [type(e).__name__ for e in events] == ["Triaged", "Escalated"]
    rise = events[1]
    assert isinstance(rise, Escalated)
    assert (rise.from_level, rise.to_level, rise.cause) == (Level.ORDINARY, Level.SERIOUS, "triage")
    assert (rise.handed_over, rise.assignee_id) == (True, None)
    queued = act(held, A.TRIAGE, AGENT, {"level": 2, "level_reason": "客户情绪激动"})
    assert (queued.level, queued.assignee_id) == (Level.SERIOUS, None)
    # To a named person of the new tier, as escalate's `assignee_id`.
    director = uuid.uuid4()
    named = act(
        held,
        A.TRIAGE,
        MANAGER,
        {"level": 3, "level_reason": "涉及人身安全", "assignee_id": director},
    )
    assert (named.level, named.assignee_id) == (Level.VERY_SERIOUS, director)
    # No rise, no move: the holder stays, and a new holder is refused.
    same = act(held, A.TRIAGE, AGENT, {"subcategory": "外观"})
    assert (same.level, same.assignee_id) == (Level.ORDINARY, uuid.UUID(AGENT.id))
    with pytest.raises(InvalidInput, match="level rises"):
        act(held, A.TRIAGE, AGENT, {"subcategory": "外观", "assignee_id": director})


@pytest.mark.parametrize(
    ("symptom", "wish_detail"), [("插上电源后冒烟起火", None), (None, "不处理就找律师起诉")]
)
def test_triage_reads_the_symptom_and_the_wish_too(
    symptom: str | None, wish_detail: str | None
) -> None:
    state = registered(content="电水壶有问题。", symptom=symptom, wish_detail=wish_detail)
    assert act(state, A.TRIAGE, DIRECTOR, {"subcategory": "漏电"}).level is Level.VERY_SERIOUS


# --- approval ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "amount", "needed"),
    [
        ("compensation", "1.00", Role.MANAGER),  # any compensation: a manager (seed 003)
        ("refund", "0.50", Role.MANAGER),
        ("replacement", None, Role.MANAGER),  # 换货 (seed 000: 报各部门审批)
        ("return", None, Role.MANAGER),  # 退货
        ("compensation", "5000.00", Role.MANAGER),  # the higher limit is exclusive
        ("refund", "5000.01", Role.DIRECTOR),  # above it a director (seed 000 公司领导)
        ("repair", None, None),  # warranty repair: the handler decides
        ("apology", None, None),
    ],
)
def test_approvals_follow_seed_000_and_003(kind: str, amount: str | None, needed: Role) -> None:
    """Seed 000 / 003: any compensation or refund needs a manager, above the higher limit a
    director; a replacement or return (换货/退货) needs a manager."""
    solution = proposed(amount, kind=kind).solution
    assert solution is not None
    assert solution.required_approval == needed
    assert solution.approved is (needed is None)


def test_approval_limits() -> None:
    manager_level = act(proposed("800.00"), A.APPROVE_SOLUTION, MANAGER)
    assert manager_level.solution is not None
    assert manager_level.solution.approved
    director_level = proposed("8000.00")
    with pytest.raises(Forbidden, match="director"):
        act(director_level, A.APPROVE_SOLUTION, MANAGER)
    approved = act(director_level, A.APPROVE_SOLUTION, DIRECTOR)
    assert approved.solution is not None
    assert approved.solution.approved


def test_four_eyes_on_approval() -> None:
    state = proposed("800.00", by=MANAGER)
    with pytest.raises(Forbidden, match="proposer"):
        act(state, A.APPROVE_SOLUTION, MANAGER)
    after = act(state, A.APPROVE_SOLUTION, OTHER_MANAGER)
    assert after.solution is not None
    assert after.solution.approved


def test_implementation_needs_approval_and_agreement_and_happens_once() -> None:
    """State conflicts (409), not bad input: the same request succeeds once the state allows."""
    state = proposed("800.00")
    with pytest.raises(AwaitingApproval, match="approval"):
        act(state, A.IMPLEMENT_SOLUTION, HANDLER)
    state = act(state, A.APPROVE_SOLUTION, MANAGER)
    with pytest.raises(StateConflict, match="agreed"):
        act(state, A.IMPLEMENT_SOLUTION, HANDLER)
    state = act(state, A.CUSTOMER_AGREES, HANDLER)
    state = act(state, A.IMPLEMENT_SOLUTION, HANDLER, {"note": "已付款"})
    with pytest.raises(StateConflict, match="already implemented"):
        act(state, A.IMPLEMENT_SOLUTION, HANDLER, {"note": "再次付款"})


# --- closure -----------------------------------------------------------------------------------


def company_fault_resolved(*, regulator: bool = False) -> ComplaintState:
    state = investigating(registered(regulator=regulator, level=Level.VERY_SERIOUS))
    state = act(
        state, A.RECORD_FINDINGS, HANDLER, {"findings": "绝缘层破损", "responsibility": "company"}
    )
    return act(state, A.RESOLVE, HANDLER, {"result": "已为您换新"})


def with_8d(state: ComplaintState) -> ComplaintState:
    """分析原因 and 制订纠正措施 (seed 004)."""
    state = act(state, A.RECORD_ROOT_CAUSE, HANDLER, {"root_cause": "注塑参数漂移"})
    action = {"description": "增加耐压测试", "owner": "质量部 王工", "due_date": "2026-12-31"}
    return act(state, A.ADD_CORRECTIVE_ACTION, HANDLER, action)


def test_closure_of_a_company_fault_needs_root_cause_and_action() -> None:
    state = company_fault_resolved()
    state = act(state, A.RECORD_SATISFACTION, AGENT2, {"score": 2})
    with pytest.raises(ClosureRequirements) as refused:
        act(state, A.CLOSE, CLERK)
    assert "root_cause_missing" in refused.value.detail
    assert "corrective_action_missing" in refused.value.detail
    assert "review_missing" in refused.value.detail
    with pytest.raises(ClosureRequirements, match="root_cause_missing"):
        act(state, A.REVIEW, DIRECTOR)  # the reviewer signs off a complete case only
    state = act(with_8d(state), A.REVIEW, DIRECTOR)  # level 3: reviewed by a director
    assert act(state, A.CLOSE, CLERK).status is Status.CLOSED


def test_a_regulator_case_closes_only_with_its_reply() -> None:
    state = company_fault_resolved(regulator=True)
    state = with_8d(state)
    state = act(state, A.RECORD_SATISFACTION, AGENT2, {"score": 2})
    with pytest.raises(ClosureRequirements, match="regulator_reply_missing"):
        act(state, A.REVIEW, DIRECTOR)  # the reviewer signs off a complete case only
    relaxed = Rules(closure=ClosureRules(require_regulator_reply=False))
    reviewed = act(state, A.REVIEW, DIRECTOR, rules=relaxed)
    assert act(reviewed, A.CLOSE, CLERK, rules=relaxed).status is Status.CLOSED
    with pytest.raises(ClosureRequirements, match="regulator_reply_missing"):
        act(reviewed, A.CLOSE, CLERK)
    replied = act(
        state,
        A.REGULATOR_REPLY,
        DIRECTOR,
        {"replied_at": "2026-11-25T09:00:00+08:00", "content": "已协商一致"},
    )
    replied = act(replied, A.REVIEW, DIRECTOR)
    assert act(replied, A.CLOSE, CLERK).status is Status.CLOSED


def test_a_case_resolved_at_first_contact_closes_without_findings() -> None:
    state = act(registered(), A.ASSIGN, AGENT, {"assignee_id": uuid.UUID(AGENT.id)})
    state = act(state, A.RESOLVE, AGENT, {"result": "已电话解答"})
    with pytest.raises(Forbidden):
        act(state, A.CLOSE, AGENT)  # seed 002 §5.1.1.1: agents no longer close alone
    state = signed_off(state)
    assert act(state, A.CLOSE, CLERK).status is Status.CLOSED


# --- survey outcomes ---------------------------------------------------------------------------


@pytest.mark.parametrize("score", [1, 2, 3])
def test_a_rating_of_one_to_three_only_records(score: int) -> None:
    state = company_fault_resolved()
    events = satisfaction_events(state, Satisfaction(score), source="survey", comment=None)
    assert [type(e) for e in events] == [SatisfactionRecorded]


@pytest.mark.parametrize(
    ("level", "escalated_to", "review"),
    [
        (Level.ORDINARY, Level.SERIOUS, False),
        (Level.SERIOUS, Level.VERY_SERIOUS, False),
        (Level.VERY_SERIOUS, None, True),  # seed 002 §5.3.1.7: 提交总经理例会
    ],
)
@pytest.mark.parametrize("score", [4, 5])
def test_a_rating_of_four_or_five_reopens_one_level_up(
    score: int, level: Level, escalated_to: Level | None, review: bool
) -> None:
    state = act(registered(level=level), A.ASSIGN, DIRECTOR, {"department": "quality"})
    state = act(state, A.RESOLVE, DIRECTOR, {"result": "已处理"})
    events = satisfaction_events(state, Satisfaction(score), source="survey", comment=None)
    assert isinstance(events[0], SatisfactionRecorded)
    assert events[0].management_review is review
    assert isinstance(events[1], Reopened)
    escalations = [e for e in events if isinstance(e, Escalated)]
    assert [e.to_level for e in escalations] == ([escalated_to] if escalated_to else [])
    _, states = stamp(state, events, actor=AGENT.actor, now=NOW)
    after = states[-1]
    assert after.status is Status.REOPENED
    assert after.level is (escalated_to or level)
    assert after.survey_nonce is None


def test_a_new_result_starts_a_new_survey_round() -> None:
    state = company_fault_resolved()
    state = with_8d(state)
    state = act(state, A.RECORD_SATISFACTION, DIRECTOR, {"score": 5})
    assert (state.status, state.satisfaction, state.management_review) == (
        Status.REOPENED,
        Satisfaction.VERY_DISSATISFIED,
        True,
    )
    state = act(state, A.START_INVESTIGATION, HANDLER)
    state = act(state, A.RESOLVE, HANDLER, {"result": "已为您再次上门检修"})
    assert state.satisfaction is None  # the 5 rated the previous result
    assert state.management_review  # the flag for the management meeting stays
    state = signed_off(state, DIRECTOR)
    assert act(state, A.CLOSE, CLERK).status is Status.CLOSED


def test_reopening_withdraws_the_open_survey_invitation() -> None:
    state = act(registered(), A.ASSIGN, AGENT, {"department": "quality"})
    state = act(state, A.RESOLVE, AGENT, {"result": "已处理"})
    assert state.survey_nonce
    reopened = act(state, A.REOPEN, AGENT, {"reason": "客户反映问题再次出现"})
    assert reopened.survey_nonce is None


@pytest.mark.parametrize(
    ("account", "department", "level", "refused"),
    [
        ({"role": "agent", "department": None, "is_active": True}, "quality", Level.ORDINARY, None),
        (
            {"role": "agent", "department": None, "is_active": True},
            "quality",
            Level.SERIOUS,
            "higher tier",
        ),
        ({"role": "manager", "department": None, "is_active": True}, None, Level.SERIOUS, None),
        (
            {"role": "handler", "department": "quality", "is_active": True},
            "quality",
            Level.VERY_SERIOUS,
            None,
        ),
        (
            {"role": "handler", "department": "logistics", "is_active": True},
            "quality",
            Level.ORDINARY,
            "another department",
        ),
        (
            {"role": "director", "department": None, "is_active": False},
            None,
            Level.ORDINARY,
            "not an active",
        ),
        (
            {"role": "auditor", "department": None, "is_active": True},
            None,
            Level.ORDINARY,
            "not an active",
        ),
        (None, None, Level.ORDINARY, "not an active"),
    ],
)
def test_who_may_be_assigned_a_complaint(
    account: dict[str, Any] | None, department: str | None, level: Level, refused: str | None
) -> None:
    problem = assignee_problem(account, department=department, level=level)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None
        assert refused in problem


def test_the_tier_per_level_decides_who_may_hold_a_level() -> None:
    agents_hold_two = RoutingRules(
        tier_by_level={
            Level.ORDINARY: Role.AGENT,
            Level.SERIOUS: Role.AGENT,
            Level.VERY_SERIOUS: Role.DIRECTOR,
        }
    )
    agent = {"role": "agent", "department": None, "is_active": True}
    assert assignee_problem(agent, department=None, level=Level.SERIOUS) is not None
    assert (
        assignee_problem(agent, department=None, level=Level.SERIOUS, routing=agents_hold_two)
        is None
    )
