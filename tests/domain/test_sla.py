"""SLA policies and deadline planning (shared.domain.sla), on the real 2025/2026 calendar.

Expected moments come from the State Council schedules (see tests/domain/test_calendar.py):
2025 春节 1-28..2-04 off, make-up days Sun 1-26 and Sat 2-08; 2026 国庆 10-01..10-07 off,
make-up days Sun 9-20 and Sat 10-10.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.calendar_data import default_calendar
from shared.domain.calendar import BusinessCalendar, DayOverride, DayType
from shared.domain.enums import Category, Channel, DurationUnit, Kind, Level, Stage
from shared.domain.sla import (
    DEFAULT_POLICIES,
    BreachAction,
    PlannedDeadline,
    PolicyBook,
    SlaPolicy,
    SlaStage,
    StageTrigger,
    effective_stages,
    plan_on,
    plan_stage,
    recompute,
    replan_after_pause,
    select_policy,
    time_remaining,
)

SH = ZoneInfo("Asia/Shanghai")
WD = DurationUnit.WORKING_DAYS
BH = DurationUnit.BUSINESS_HOURS
H = DurationUnit.HOURS
CAL = default_calendar()
# The defaults as the database stores them: ids 1..7 in order.
STORED = tuple(p.model_copy(update={"id": i}) for i, p in enumerate(DEFAULT_POLICIES, start=1))
GENERAL, LEVEL1, LEVEL2, LEVEL3, INQUIRY, SUGGESTION, REGULATOR = STORED


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


class Facts(TypedDict):
    kind: Kind
    level: Level
    category: Category
    channel: Channel


def facts(
    *,
    kind: Kind = Kind.COMPLAINT,
    level: Level = Level.ORDINARY,
    category: Category = Category.PRODUCT_QUALITY,
    channel: Channel = Channel.WEB,
) -> Facts:
    return Facts(kind=kind, level=level, category=category, channel=channel)


def stages_of(pairs: list[tuple[SlaPolicy, SlaStage]]) -> dict[Stage, tuple[int, int, str]]:
    return {s.stage: (p.id or 0, s.amount, s.unit.value) for p, s in pairs}


# -- the defaults of SPEC §4 -----------------------------------------------------------------


def test_an_ordinary_complaint_gets_the_spec_stages() -> None:
    got = stages_of(effective_stages(STORED, **facts()))
    assert got == {
        Stage.ACKNOWLEDGEMENT: (1, 1, "working_days"),
        Stage.FIRST_CONTACT: (1, 1, "working_days"),  # seed 002 §5.1.1, not 24 hours
        Stage.INVESTIGATION: (1, 2, "working_days"),
        Stage.RESULT_TO_CUSTOMER: (1, 1, "working_days"),
        Stage.RESOLUTION: (2, 3, "working_days"),
        Stage.PROGRESS_UPDATE: (1, 5, "working_days"),
    }


@pytest.mark.parametrize(("level", "days"), [(1, 3), (2, 7), (3, 15)])
def test_resolution_time_follows_the_level(level: int, days: int) -> None:
    policy = select_policy(STORED, **facts(level=Level(level)), stage=Stage.RESOLUTION)
    assert policy is not None
    entry = policy.stage(Stage.RESOLUTION)
    assert entry is not None
    assert (entry.amount, entry.unit) == (days, WD)


def test_a_regulator_case_also_owes_the_regulator_a_reply_in_10_working_days() -> None:
    regulator = facts(level=Level.VERY_SERIOUS, channel=Channel.REGULATOR)
    got = stages_of(effective_stages(STORED, **regulator))
    assert got[Stage.REGULATOR_REPLY] == (7, 10, "working_days")
    assert got[Stage.RESOLUTION] == (4, 15, "working_days")
    reply = REGULATOR.stage(Stage.REGULATOR_REPLY)
    assert reply is not None
    assert "director" in reply.on_breach.notify


@pytest.mark.parametrize("kind", [Kind.INQUIRY, Kind.SUGGESTION])
def test_inquiries_and_suggestions_are_answered_in_3_working_days(kind: Kind) -> None:
    got = stages_of(effective_stages(STORED, **facts(kind=kind)))
    assert set(got) == {Stage.ACKNOWLEDGEMENT, Stage.RESOLUTION}
    assert got[Stage.RESOLUTION][1:] == (3, "working_days")


def test_stages_started_at_registration() -> None:
    got = effective_stages(STORED, **facts(), starts_on=StageTrigger.REGISTRATION)
    assert [s.stage for _, s in got] == [
        Stage.ACKNOWLEDGEMENT,
        Stage.FIRST_CONTACT,
        Stage.RESOLUTION,
        Stage.PROGRESS_UPDATE,
    ]
    on_assignment = effective_stages(STORED, **facts(), starts_on=StageTrigger.ASSIGNMENT)
    assert [s.stage for _, s in on_assignment] == [Stage.INVESTIGATION]


def test_progress_updates_repeat_and_do_not_escalate_by_themselves() -> None:
    entry = GENERAL.stage(Stage.PROGRESS_UPDATE)
    assert entry is not None
    assert entry.repeats
    assert not entry.on_breach.escalate
    assert all(s.warn_ratio == 0.75 for p in STORED for s in p.stages)


# -- choosing --------------------------------------------------------------------------------


def _policy(pid: int, *, priority: int = 0, active: bool = True, **match: object) -> SlaPolicy:
    return SlaPolicy(
        id=pid,
        name=f"p{pid}",
        priority=priority,
        active=active,
        stages=(SlaStage(stage=Stage.FIRST_CONTACT, amount=pid, unit=H),),
        **match,
    )


def test_the_most_specific_policy_wins_at_equal_priority() -> None:
    broad = _policy(1)
    narrow = _policy(2, kind=Kind.COMPLAINT, category=Category.LOGISTICS)
    medium = _policy(3, category=Category.LOGISTICS)
    chosen = select_policy([broad, narrow, medium], **facts(category=Category.LOGISTICS))
    assert chosen is narrow


def test_priority_beats_specificity_and_ties_go_to_the_oldest() -> None:
    narrow = _policy(2, kind=Kind.COMPLAINT, level=Level.ORDINARY)
    urgent = _policy(5, priority=10)
    also_urgent = _policy(4, priority=10)
    chosen = select_policy([narrow, urgent, also_urgent], **facts())
    assert chosen is also_urgent


def test_inactive_and_non_matching_policies_are_ignored() -> None:
    off = _policy(1, active=False)
    other_channel = _policy(2, channel=Channel.PHONE)
    assert select_policy([off, other_channel], **facts()) is None
    assert select_policy(STORED, **facts(), stage=Stage.REGULATOR_REPLY) is None


def test_a_policy_lists_each_stage_once_and_validates_its_numbers() -> None:
    entry = SlaStage(stage=Stage.RESOLUTION, amount=3, unit=WD)
    with pytest.raises(ValidationError):
        SlaPolicy(name="twice", stages=(entry, entry))
    with pytest.raises(ValidationError):
        SlaStage(stage=Stage.RESOLUTION, amount=3, unit=WD, warn_ratio=1.5)
    with pytest.raises(ValidationError):
        SlaStage(stage=Stage.RESOLUTION, amount=-1, unit=WD)
    with pytest.raises(ValidationError):
        BreachAction(notify=("nobody",))


# -- planning on real dates ------------------------------------------------------------------


def test_one_working_day_before_national_day_is_due_after_the_holiday() -> None:
    planned = plan_stage(GENERAL, Stage.ACKNOWLEDGEMENT, start=sh(2026, 9, 30, 14), calendar=CAL)
    assert planned is not None
    assert planned.due_at == sh(2026, 10, 8, 18)
    # 13 working hours (14:00–18:00 on 9-30, then 10-08); 75 % = 9 h 45 min.
    assert planned.warn_at == sh(2026, 10, 8, 14, 45)
    assert not planned.provisional
    assert (planned.stage, planned.cycle, planned.policy_id, planned.policy_version) == (
        Stage.ACKNOWLEDGEMENT,
        1,
        1,
        1,
    )
    assert planned.due_at.tzinfo is UTC


def test_first_contact_within_1_working_day_seed_002_5_1_1() -> None:
    """Seed 002 §5.1.1 (its penalty §5.4.1.1 is tied to it): first contact within 1 working
    day, not 24 calendar hours through the National Day holiday (10-01..10-07 in 2026)."""
    planned = plan_stage(GENERAL, Stage.FIRST_CONTACT, start=sh(2026, 9, 30, 14), calendar=CAL)
    assert planned is not None
    assert planned.unit is WD
    assert planned.due_at == sh(2026, 10, 8, 18)


@pytest.mark.parametrize(("level", "every"), [(1, 5), (2, 3), (3, 2)])
def test_progress_updates_by_level_seed_002_5_3_1_5(level: int, every: int) -> None:
    """Seed 002 §5.3.1.5 (SPEC §4): weekly (5 working days) for level 1, every 3 working days
    for level 2, every 2 for level 3; each repeats while the case is open."""
    got = stages_of(effective_stages(STORED, **facts(level=Level(level))))
    assert got[Stage.PROGRESS_UPDATE][1:] == (every, "working_days")
    policy = select_policy(STORED, **facts(level=Level(level)), stage=Stage.PROGRESS_UPDATE)
    assert policy is not None
    entry = policy.stage(Stage.PROGRESS_UPDATE)
    assert entry is not None
    assert entry.repeats


def test_a_breach_does_not_raise_the_level_by_default_seed_002_4_3() -> None:
    """Seed 002 §4.3: the level is the complaint's nature; no default stage raises it on a
    breach. The missed resolution alerts the supervisor tier and tells the customer (seed 000
    第五条「向客户说明原因」)."""
    for policy in STORED:
        for entry in policy.stages:
            assert not entry.on_breach.escalate, (policy.name, entry.stage)
    for level in Level:
        policy = select_policy(STORED, **facts(level=level), stage=Stage.RESOLUTION)
        assert policy is not None
        entry = policy.stage(Stage.RESOLUTION)
        assert entry is not None
        assert entry.on_breach.tell_customer_within is not None
        assert "assignee" in entry.on_breach.notify


def test_resolution_across_spring_festival_counts_the_make_up_sunday() -> None:
    # Fri 2025-01-24: Sun 1-26 (调休, 1), Mon 1-27 (2), holiday 1-28..2-04, Wed 2-05 (3).
    planned = plan_stage(LEVEL1, Stage.RESOLUTION, start=sh(2025, 1, 24, 10), calendar=CAL)
    assert planned is not None
    assert planned.due_at == sh(2025, 2, 5, 18)


def test_progress_update_starting_on_a_saturday_counts_the_make_up_sunday() -> None:
    # Sat 2026-09-19: Sun 9-20 (调休, 1), Mon 9-21 .. Thu 9-24 (2..5).
    planned = plan_stage(
        GENERAL, Stage.PROGRESS_UPDATE, start=sh(2026, 9, 19, 10), calendar=CAL, cycle=3
    )
    assert planned is not None
    assert (planned.due_at, planned.cycle) == (sh(2026, 9, 24, 18), 3)


def test_a_deadline_reaching_into_an_unknown_year_is_provisional() -> None:
    late = plan_stage(LEVEL3, Stage.RESOLUTION, start=sh(2026, 12, 20, 10), calendar=CAL)
    early = plan_stage(LEVEL3, Stage.RESOLUTION, start=sh(2026, 6, 1, 10), calendar=CAL)
    assert late is not None
    assert early is not None
    assert late.provisional
    assert late.due_at.year == 2027
    assert not early.provisional


def test_plan_stage_without_the_stage_or_with_a_bad_cycle() -> None:
    assert plan_stage(LEVEL1, Stage.FIRST_CONTACT, start=sh(2026, 6, 1, 10), calendar=CAL) is None
    with pytest.raises(ValueError, match="cycles"):
        plan_stage(LEVEL1, Stage.RESOLUTION, start=sh(2026, 6, 1, 10), calendar=CAL, cycle=0)


def test_plan_on_registration_plans_every_stage_of_a_regulator_case() -> None:
    regulator = facts(level=Level.VERY_SERIOUS, channel=Channel.REGULATOR)
    planned = plan_on(
        STORED, StageTrigger.REGISTRATION, **regulator, start=sh(2026, 6, 1, 10), calendar=CAL
    )
    by_stage = {p.stage: p for p in planned}
    assert set(by_stage) == {
        Stage.ACKNOWLEDGEMENT,
        Stage.FIRST_CONTACT,
        Stage.RESOLUTION,
        Stage.PROGRESS_UPDATE,
        Stage.REGULATOR_REPLY,
    }
    # Mon 2026-06-01 + 10 working days: 6-02..6-05, 6-08..6-12, 6-15 (端午 is Fri 6-19).
    assert by_stage[Stage.REGULATOR_REPLY].due_at == sh(2026, 6, 15, 18)
    assert by_stage[Stage.REGULATOR_REPLY].policy_id == 7


# -- pauses, recomputation, time remaining -----------------------------------------------------


def test_a_pause_moves_the_deadline_by_the_paused_working_time() -> None:
    planned = plan_stage(LEVEL1, Stage.RESOLUTION, start=sh(2026, 6, 1, 10), calendar=CAL)
    assert planned is not None
    assert planned.due_at == sh(2026, 6, 4, 18)
    moved = replan_after_pause(
        planned, pauses=[(sh(2026, 6, 2, 9), sh(2026, 6, 2, 13))], calendar=CAL
    )
    assert moved.due_at == sh(2026, 6, 5, 13)
    assert moved.warn_at == CAL.extend_for_pause(planned.warn_at, WD, timedelta(hours=4)).at
    # A pause over a weekend costs no working time.
    weekend = replan_after_pause(
        planned, pauses=[(sh(2026, 6, 6, 9), sh(2026, 6, 8, 0))], calendar=CAL
    )
    assert weekend == planned


def test_a_warning_already_due_before_the_pause_stays() -> None:
    planned = plan_stage(LEVEL1, Stage.RESOLUTION, start=sh(2026, 6, 1, 10), calendar=CAL)
    assert planned is not None
    pause = (planned.warn_at + timedelta(hours=1), planned.warn_at + timedelta(hours=2))
    moved = replan_after_pause(planned, pauses=[pause], calendar=CAL)
    assert moved.warn_at == planned.warn_at
    assert moved.due_at == sh(2026, 6, 5, 10)  # one working hour after Thursday's close


def test_recompute_follows_a_changed_calendar() -> None:
    planned = plan_stage(LEVEL1, Stage.RESOLUTION, start=sh(2026, 6, 1, 10), calendar=CAL)
    assert planned is not None
    closed = BusinessCalendar(
        known_from=CAL.known_from,
        known_until=CAL.known_until,
        overrides=[*CAL.overrides, DayOverride(day=date(2026, 6, 3), type=DayType.HOLIDAY)],
    )
    assert recompute(planned, calendar=CAL) == planned
    assert recompute(planned, calendar=closed).due_at == sh(2026, 6, 5, 18)
    paused = recompute(planned, calendar=CAL, paused=timedelta(hours=9))
    assert paused.due_at == sh(2026, 6, 5, 18)


def test_time_remaining_is_working_time_and_freezes_while_paused() -> None:
    friday_close = sh(2026, 6, 5, 18)
    assert time_remaining(friday_close, WD, now=sh(2026, 6, 5, 17), calendar=CAL) == timedelta(
        hours=1
    )
    monday_close = sh(2026, 6, 8, 18)
    assert time_remaining(monday_close, WD, now=sh(2026, 6, 5, 17), calendar=CAL) == timedelta(
        hours=10
    )
    assert time_remaining(friday_close, H, now=sh(2026, 6, 5, 17), calendar=CAL) == timedelta(
        hours=1
    )
    overdue = time_remaining(friday_close, WD, now=sh(2026, 6, 8, 10), calendar=CAL)
    assert overdue == -timedelta(hours=1)
    frozen = time_remaining(
        monday_close, WD, now=sh(2026, 6, 8, 17), paused_at=sh(2026, 6, 5, 17), calendar=CAL
    )
    assert frozen == timedelta(hours=10)


# -- properties -------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2026, 6, 30, 23, 59, 59),  # noqa: DTZ001
    timezones=st.just(SH),
)
units = st.sampled_from([WD, BH, H])
amounts = st.integers(min_value=0, max_value=40)
ratios = st.floats(min_value=0, max_value=1)


def _single(amount: int, unit: DurationUnit, ratio: float = 0.75) -> SlaPolicy:
    return SlaPolicy(
        id=1,
        name="p",
        stages=(SlaStage(stage=Stage.RESOLUTION, amount=amount, unit=unit, warn_ratio=ratio),),
    )


def _plan(start: datetime, amount: int, unit: DurationUnit, ratio: float = 0.75) -> PlannedDeadline:
    planned = plan_stage(_single(amount, unit, ratio), Stage.RESOLUTION, start=start, calendar=CAL)
    assert planned is not None
    return planned


@given(starts, amounts, units, ratios)
def test_warning_lies_between_start_and_due(
    start: datetime, amount: int, unit: DurationUnit, ratio: float
) -> None:
    planned = _plan(start, amount, unit, ratio)
    assert start <= planned.due_at
    assert start <= planned.warn_at <= planned.due_at
    assert not planned.provisional  # 40 working days from mid-2026 stay inside 2026


@given(starts, amounts, st.sampled_from([WD, BH, H]))
def test_due_is_monotonic_in_the_amount(start: datetime, amount: int, unit: DurationUnit) -> None:
    assert _plan(start, amount, unit).due_at <= _plan(start, amount + 1, unit).due_at


@given(starts, amounts, units, ratios, ratios)
def test_warning_is_monotonic_in_the_ratio(
    start: datetime, amount: int, unit: DurationUnit, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    assert _plan(start, amount, unit, low).warn_at <= _plan(start, amount, unit, high).warn_at


@given(starts, st.integers(min_value=1, max_value=40))
def test_working_days_end_at_close_of_business_on_a_working_day(start: datetime, n: int) -> None:
    due = _plan(start, n, WD).due_at.astimezone(SH)
    assert due.time() == time(18)
    assert CAL.is_working_day(due.date())
    assert due.date() > start.date()  # the day of the event is not counted


@given(starts, amounts, units, st.integers(min_value=0, max_value=20))
def test_a_pause_moves_due_by_exactly_the_paused_time(
    start: datetime, amount: int, unit: DurationUnit, hours: int
) -> None:
    planned = _plan(start, amount, unit)
    pause = (start + timedelta(hours=1), start + timedelta(hours=1 + hours))
    moved = replan_after_pause(planned, pauses=[pause], calendar=CAL)
    paused = CAL.paused_time(unit, [pause])
    assert moved.due_at >= planned.due_at
    assert CAL.time_remaining(planned.due_at, moved.due_at, unit) == paused
    assert replan_after_pause(planned, pauses=[], calendar=CAL) == planned
    empty = (start, start)
    assert replan_after_pause(planned, pauses=[empty], calendar=CAL) == planned


@given(starts, amounts, units)
def test_recompute_on_the_same_calendar_changes_nothing(
    start: datetime, amount: int, unit: DurationUnit
) -> None:
    planned = _plan(start, amount, unit)
    assert recompute(planned, calendar=CAL) == planned


_match = st.fixed_dictionaries(
    {
        "kind": st.none() | st.sampled_from(Kind),
        "level": st.none() | st.sampled_from(Level),
        "category": st.none() | st.sampled_from(Category),
        "channel": st.none() | st.sampled_from([Channel.WEB, Channel.PHONE, Channel.REGULATOR]),
        "priority": st.integers(min_value=-2, max_value=2),
        "active": st.booleans(),
    }
)


@given(
    st.lists(_match, max_size=8),
    st.sampled_from(Kind),
    st.sampled_from(Level),
    st.sampled_from(Category),
    st.sampled_from([Channel.WEB, Channel.REGULATOR]),
)
def test_select_policy_returns_the_best_ranked_match(
    matches: list[dict[str, object]], kind: Kind, level: Level, category: Category, channel: Channel
) -> None:
    policies = [_policy(i, **m) for i, m in enumerate(matches, start=1)]
    chosen = select_policy(policies, kind=kind, level=level, category=category, channel=channel)
    candidates = [
        p
        for p in policies
        if p.active and p.matches(kind=kind, level=level, category=category, channel=channel)
    ]
    if not candidates:
        assert chosen is None
        return
    best = max(candidates, key=lambda p: (p.priority, p.specificity, -(p.id or 0)))
    assert chosen is best


channels = st.sampled_from([Channel.WEB, Channel.REGULATOR])


@given(
    starts,
    st.sampled_from(Kind),
    st.sampled_from(Level),
    st.sampled_from(Category),
    channels,
    st.sampled_from(StageTrigger),
)
def test_a_policy_book_plans_like_plan_on(
    start: datetime,
    kind: Kind,
    level: Level,
    category: Category,
    channel: Channel,
    trigger: StageTrigger,
) -> None:
    book = PolicyBook(STORED)
    facts_ = facts(kind=kind, level=level, category=category, channel=channel)
    expected = plan_on(STORED, trigger, **facts_, start=start, calendar=CAL)
    assert book.plan(trigger, **facts_, start=start, calendar=CAL) == expected
    again = book.stages(**facts_, starts_on=trigger)
    assert book.stages(**facts_, starts_on=trigger) is again  # remembered
