"""The sign-off chain and the 回访 as pure decisions (shared.domain.handling): the claim, the
reviewer's tier and four eyes, the send-back, and unreachable only after attempts on different
working days of the business calendar (seed 002 §5.1.1, §5.3.1.6, §5.4.1.3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.calendar_data import default_calendar
from shared.domain.calendar import BusinessCalendar
from shared.domain.complaint import ComplaintState
from shared.domain.enums import Level, Role, Status
from shared.domain.errors import (
    ClosureRequirements,
    Conflict,
    Forbidden,
    InvalidInput,
    StateConflict,
)
from shared.domain.events import stamp
from shared.domain.handling import COMMANDS, Context, decide
from shared.domain.lifecycle import Action
from shared.domain.rules import ClosureRules, Rules
from tests.domain.test_handling import (
    AGENT,
    AGENT2,
    CLERK,
    DIRECTOR,
    MANAGER,
    NOW,
    registered,
    user,
)

A = Action
SH = ZoneInfo("Asia/Shanghai")
DIRECTOR2 = user(Role.DIRECTOR)


def act(
    state: ComplaintState,
    action: Action,
    who: object,
    body: dict[str, object] | None = None,
    *,
    rules: Rules | None = None,
    calendar: BusinessCalendar | None = None,
) -> ComplaintState:
    command = COMMANDS[action].model_validate(body or {})
    ctx = Context(principal=who, now=NOW, rules=rules or Rules(), calendar=calendar)  # type: ignore[arg-type]
    events = decide(state, action, command, ctx)
    _, states = stamp(state, events, actor=who.actor, now=NOW)  # type: ignore[attr-defined]
    return states[-1]


def resolved_by_agent(level: Level = Level.ORDINARY) -> ComplaintState:
    state = registered(level=level)
    handler = AGENT if level is Level.ORDINARY else DIRECTOR
    state = act(state, A.CLAIM, handler)
    return act(state, A.RESOLVE, handler, {"result": "已处理"})


def test_seed_002_5_1_1_1_a_claim_takes_an_unassigned_case_once() -> None:
    state = act(registered(), A.CLAIM, AGENT)
    assert (state.status, state.assignee_id, state.department) == (
        Status.ASSIGNED,
        uuid.UUID(AGENT.id),
        "quality",
    )
    with pytest.raises(Conflict):
        act(state, A.CLAIM, AGENT2)
    with pytest.raises(Forbidden):
        act(registered(level=Level.SERIOUS), A.CLAIM, AGENT)  # level 2 is tier 2's


def test_seed_002_5_1_1_3_level_3_is_reviewed_by_another_director() -> None:
    state = resolved_by_agent(Level.VERY_SERIOUS)  # directed and resolved by DIRECTOR
    state = act(state, A.RECORD_SATISFACTION, CLERK, {"score": 2})
    with pytest.raises(Forbidden, match="四眼"):
        act(state, A.REVIEW, DIRECTOR)
    with pytest.raises(Forbidden):
        act(state, A.REVIEW, MANAGER)
    reviewed = act(state, A.REVIEW, DIRECTOR2)
    assert reviewed.review is not None
    assert (reviewed.review.reviewer_id, reviewed.review.role) == (DIRECTOR2.id, Role.DIRECTOR)
    with pytest.raises(StateConflict, match="already reviewed"):
        act(reviewed, A.REVIEW, DIRECTOR2)
    assert act(reviewed, A.CLOSE, CLERK).status is Status.CLOSED


def test_seed_002_5_1_1_a_send_back_returns_the_case_to_its_handler() -> None:
    state = act(resolved_by_agent(), A.RECORD_SATISFACTION, AGENT2, {"score": 1})
    back = act(state, A.SEND_BACK, MANAGER, {"reason": "补充记录"})
    assert (back.status, back.assignee_id, back.resolved_at) == (
        Status.INVESTIGATING,
        uuid.UUID(AGENT.id),
        None,
    )
    again = act(back, A.RESOLVE, AGENT, {"result": "已补充处理"})
    assert again.satisfaction is None  # rated again
    with pytest.raises(ClosureRequirements, match="satisfaction_missing"):
        act(again, A.REVIEW, MANAGER)


def test_seed_002_5_3_1_6_attempts_count_on_distinct_working_days() -> None:
    calendar = default_calendar()
    state = resolved_by_agent()
    for local in (
        datetime(2026, 10, 3, 10, tzinfo=SH),  # 国庆 holiday: not a working day
        datetime(2026, 10, 9, 10, tzinfo=SH),
        datetime(2026, 10, 9, 17, tzinfo=SH),  # the same day: counts once
        datetime(2026, 10, 10, 10, tzinfo=SH),  # 调休 Saturday: a working day
    ):
        body = {"attempted_at": local.isoformat()}
        state = act(state, A.LOG_FOLLOWUP_ATTEMPT, AGENT2, body, calendar=calendar)
    assert state.followup is not None
    assert state.followup.attempts[0].working_day is None
    assert state.followup.working_days() == 2
    with pytest.raises(StateConflict, match="2 so far"):
        act(state, A.RECORD_UNREACHABLE, AGENT2, calendar=calendar)
    # A company that accepts two attempts (rule data) records it now.
    two = Rules(closure=ClosureRules(followup_attempts=2))
    done = act(state, A.RECORD_UNREACHABLE, CLERK, rules=two, calendar=calendar)
    assert done.followup is not None
    assert done.followup.unreachable_at == NOW


def test_seed_002_5_4_1_3_the_handler_logs_no_attempt_and_a_future_one_is_refused() -> None:
    state = resolved_by_agent()
    with pytest.raises(Forbidden, match="私自填写舞弊"):
        act(state, A.LOG_FOLLOWUP_ATTEMPT, AGENT)
    with pytest.raises(InvalidInput):
        act(state, A.LOG_FOLLOWUP_ATTEMPT, AGENT2, {"attempted_at": "2030-01-02T10:00:00+08:00"})
