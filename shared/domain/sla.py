"""SLA policies (时限规则) and the planning of a complaint's deadlines (时限), as pure domain code.

A policy is data: which complaints it matches (kind / level / category / channel, each `None`
for "any"), a priority, and a list of stages, each with a duration (`amount` `unit`s on the
business calendar), the share of that time after which the assignee is warned (`warn_ratio`,
default 75 %), the event that starts its clock (`starts_on`) and what a breach does
(`on_breach`: whom to alert, whether to tell the customer, and — only where a company wants it —
raise the level).

How policies combine (`effective_stages`, `select_policy`): stage by stage. For each stage the
policy that wins among the active ones matching the complaint *and defining that stage* is the
one with the highest `priority`, then the most specific (most non-null match fields), then the
lowest id (the oldest). So the defaults are small and composable: one policy for the stages
every complaint has, one per level for the resolution time, one for the regulator's reply
(channel `regulator`) — a level-3 regulator complaint gets its resolution from the level-3
policy and its reply deadline from the regulator policy, with no policy per combination.
Priority comes first so that an admin can make a broad rule override narrower ones on purpose;
with equal priorities (the defaults are all 0) the more specific rule wins, as one expects.

Planning (`plan_stage`, `plan_on`) turns a stage into a `PlannedDeadline`: due and warning
moments computed on a `BusinessCalendar`, `provisional` when the calendar had to guess (a year
whose official schedule it does not know). `recompute` plans again from the same start on a
changed calendar; `replan_after_pause` moves a deadline by the time spent awaiting the customer
(等待客户, SLA clock paused); `time_remaining` is the time left in the unit's sense (working
time for working units).

Everything here is pure and fast: no clock, no I/O; `plan_stage` is a handful of index look-ups
in the calendar plus one named tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from shared.domain.calendar import BusinessCalendar, Due
from shared.domain.enums import Category, Channel, DurationUnit, Kind, Level, Stage

__all__ = [
    "DEFAULT_POLICIES",
    "DEFAULT_WARN_RATIO",
    "BreachAction",
    "PlannedDeadline",
    "PolicyBook",
    "Recipient",
    "SlaPolicy",
    "SlaStage",
    "StageTrigger",
    "effective_stages",
    "plan_on",
    "plan_stage",
    "recompute",
    "replan_after_pause",
    "select_policy",
    "time_remaining",
]

DEFAULT_WARN_RATIO = 0.75
_STAGE_ORDER = {stage: i for i, stage in enumerate(Stage)}


class StageTrigger(StrEnum):
    """The lifecycle moment that starts a stage's clock."""

    REGISTRATION = "registration"  # 受理登记
    ASSIGNMENT = "assignment"  # handed to the responsible department (责任部门)
    RESULT_KNOWN = "result_known"  # investigation result known, to be told to the customer


class Recipient(StrEnum):
    """Who a breach notifies: the deadline's assignee, or everyone holding a tier role."""

    ASSIGNEE = "assignee"  # the handler holding the case when it breached
    # The tier above the one that handles the case's level (agent → manager → director;
    # a director's case goes to the directors): seed 002 §5.4, the 上级 who follows up.
    SUPERVISOR = "supervisor"
    AGENT = "agent"  # tier 1, 一级受理人
    MANAGER = "manager"  # tier 2, 二级受理人
    DIRECTOR = "director"  # tier 3, 三级受理人
    ADMIN = "admin"


class BreachAction(BaseModel):
    """What a breach (超时) does besides being recorded against the handler (seed 002 §5.4).

    The level is the complaint's nature, not its lateness (seed 002 §4.3): by default a breach
    raises nothing; it alerts the handler and the supervisor tier, and for the resolution the
    customer is told why it is late and when to expect an answer (seed 000 第五条
    「向客户说明原因」). `escalate` (raise the level, 升级) stays for companies that want it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    escalate: StrictBool = Field(
        default=False, description="Raise the level by one (next tier): off by default"
    )
    notify: tuple[Recipient, ...] = Field(
        default=(Recipient.ASSIGNEE, Recipient.SUPERVISOR), max_length=6
    )
    tell_customer_within: StrictInt | None = Field(
        default=None,
        ge=1,
        le=60,
        description="Tell the customer the case is late and promise an answer within this "
        "many working days (None: the customer is not told)",
    )


class SlaStage(BaseModel):
    """One stage of a policy: e.g. "首次联系客户 within 24 hours of registration"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Stage
    amount: StrictInt = Field(ge=0, le=1000, description="How many `unit`s")
    unit: DurationUnit
    warn_ratio: float = Field(
        default=DEFAULT_WARN_RATIO, ge=0.0, le=1.0, description="Warn after this share"
    )
    starts_on: StageTrigger = StageTrigger.REGISTRATION
    repeats: StrictBool = Field(
        default=False,
        description="Planned again (next cycle) each time it is met or breached while the "
        "complaint is open, e.g. progress updates every 5 working days",
    )
    on_breach: BreachAction = BreachAction()


class SlaPolicy(BaseModel):
    """A set of stage durations for the complaints it matches (`None` matches anything).

    `id` and `version` are the database's (`None`/1 before it is stored); deadlines keep both,
    so a later change of the policy never changes a deadline already planned.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int | None = None
    version: int = Field(default=1, ge=1)
    name: str = Field(min_length=1, max_length=100)
    kind: Kind | None = None
    level: Level | None = None
    category: Category | None = None
    channel: Channel | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    active: bool = True
    stages: tuple[SlaStage, ...] = Field(min_length=1, max_length=len(Stage))

    @model_validator(mode="after")
    def _one_entry_per_stage(self) -> SlaPolicy:
        seen = [s.stage for s in self.stages]
        if len(seen) != len(set(seen)):
            raise ValueError("a policy lists each stage at most once")
        return self

    @property
    def specificity(self) -> int:
        """How many match fields are set: the more, the narrower the policy."""
        return sum(f is not None for f in (self.kind, self.level, self.category, self.channel))

    def matches(
        self, *, kind: Kind, level: Level | int, category: Category, channel: Channel
    ) -> bool:
        return (
            (self.kind is None or self.kind == kind)
            and (self.level is None or self.level == level)
            and (self.category is None or self.category == category)
            and (self.channel is None or self.channel == channel)
        )

    def stage(self, stage: Stage) -> SlaStage | None:
        return next((s for s in self.stages if s.stage == stage), None)


class PlannedDeadline(NamedTuple):
    """A deadline as planned: what the `deadlines` table stores for one (stage, cycle).

    A named tuple because planning is the hot path of registration and of recomputing every
    open deadline when the calendar changes (see `Due` in the calendar module for the cost).
    """

    stage: Stage
    cycle: int
    policy_id: int | None
    policy_version: int
    unit: DurationUnit
    amount: int
    warn_ratio: float
    started_at: datetime
    due_at: datetime  # UTC
    warn_at: datetime  # UTC, in [started_at, due_at]
    provisional: bool  # computed on days whose official schedule the calendar does not know
    # Planned while the complaint awaits the customer: the clock is stopped from the start and
    # runs once the customer answers (the pause is then added like any other).
    paused_at: datetime | None = None
    # Paused time carried over from the deadline this one replaces (rules replanned): already
    # added to `due_at` / `warn_at`, stored as `deadlines.paused_total` so that a recompute
    # keeps it.
    paused_total: timedelta = timedelta(0)


# -- choosing -------------------------------------------------------------------------------


def _rank(policy: SlaPolicy) -> tuple[int, int, int]:
    # Higher wins; a missing id (a policy not yet stored) ranks after stored ones.
    return (policy.priority, policy.specificity, -(policy.id if policy.id is not None else 1 << 62))


def select_policy(
    policies: Iterable[SlaPolicy],
    *,
    kind: Kind,
    level: Level | int,
    category: Category,
    channel: Channel,
    stage: Stage | None = None,
) -> SlaPolicy | None:
    """The winning active policy for a complaint: highest priority, then most specific, then
    oldest. With `stage`, only policies defining that stage compete (how deadlines are
    planned, see the module docstring); without it, any matching policy does."""
    best: SlaPolicy | None = None
    for policy in policies:
        if not policy.active or not policy.matches(
            kind=kind, level=level, category=category, channel=channel
        ):
            continue
        if stage is not None and policy.stage(stage) is None:
            continue
        if best is None or _rank(policy) > _rank(best):
            best = policy
    return best


def effective_stages(
    policies: Sequence[SlaPolicy],
    *,
    kind: Kind,
    level: Level | int,
    category: Category,
    channel: Channel,
    starts_on: StageTrigger | None = None,
) -> list[tuple[SlaPolicy, SlaStage]]:
    """Every stage a complaint is subject to, each from its winning policy, in `Stage` order.

    `starts_on` keeps only the stages that trigger starts (e.g. registration).
    """
    out: list[tuple[SlaPolicy, SlaStage]] = []
    for stage in Stage:
        policy = select_policy(
            policies, kind=kind, level=level, category=category, channel=channel, stage=stage
        )
        if policy is None:
            continue
        entry = policy.stage(stage)
        assert entry is not None
        if starts_on is None or entry.starts_on == starts_on:
            out.append((policy, entry))
    return out


# -- planning -------------------------------------------------------------------------------


def _planned(
    policy: SlaPolicy,
    entry: SlaStage,
    *,
    start: datetime,
    calendar: BusinessCalendar,
    cycle: int,
) -> PlannedDeadline:
    unit = entry.unit
    due_at, provisional = calendar.add(start, entry.amount, unit)
    warn_at = calendar.warning_at(start, due_at, unit, entry.warn_ratio)
    return PlannedDeadline(
        entry.stage,
        cycle,
        policy.id,
        policy.version,
        unit,
        entry.amount,
        entry.warn_ratio,
        start,
        due_at,
        warn_at,
        provisional,
    )


def plan_stage(
    policy: SlaPolicy,
    stage: Stage,
    *,
    start: datetime,
    calendar: BusinessCalendar,
    cycle: int = 1,
) -> PlannedDeadline | None:
    """The deadline of `stage` under `policy` for a clock started at `start` (aware), or
    `None` if the policy does not define that stage. `cycle` numbers re-plans and repeats."""
    entry = policy.stage(stage)
    if entry is None:
        return None
    if cycle < 1:
        raise ValueError("cycles are numbered from 1")
    return _planned(policy, entry, start=start, calendar=calendar, cycle=cycle)


def plan_on(
    policies: Sequence[SlaPolicy],
    trigger: StageTrigger,
    *,
    kind: Kind,
    level: Level | int,
    category: Category,
    channel: Channel,
    start: datetime,
    calendar: BusinessCalendar,
    cycle: int = 1,
) -> list[PlannedDeadline]:
    """Every deadline `trigger` starts for such a complaint (e.g. all of them at 受理登记)."""
    stages = effective_stages(
        policies, kind=kind, level=level, category=category, channel=channel, starts_on=trigger
    )
    return [
        _planned(policy, entry, start=start, calendar=calendar, cycle=cycle)
        for policy, entry in stages
    ]


class PolicyBook:
    """The policies in force, with the stage choice remembered per kind / level / category /
    channel: planning a complaint is then only the calendar arithmetic. Immutable; build a
    new book when the policies change (`shared.db.sla.PolicyCache` does)."""

    __slots__ = ("_chosen", "policies")

    def __init__(self, policies: Iterable[SlaPolicy]) -> None:
        self.policies: tuple[SlaPolicy, ...] = tuple(policies)
        self._chosen: dict[tuple[object, ...], tuple[tuple[SlaPolicy, SlaStage], ...]] = {}

    def stages(
        self,
        *,
        kind: Kind,
        level: Level | int,
        category: Category,
        channel: Channel,
        starts_on: StageTrigger | None = None,
    ) -> tuple[tuple[SlaPolicy, SlaStage], ...]:
        """`effective_stages` for these facts, computed once per combination."""
        key = (kind, int(level), category, channel, starts_on)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = tuple(
                effective_stages(
                    self.policies,
                    kind=kind,
                    level=level,
                    category=category,
                    channel=channel,
                    starts_on=starts_on,
                )
            )
            self._chosen[key] = chosen
        return chosen

    def plan(
        self,
        trigger: StageTrigger,
        *,
        kind: Kind,
        level: Level | int,
        category: Category,
        channel: Channel,
        start: datetime,
        calendar: BusinessCalendar,
        cycle: int = 1,
    ) -> list[PlannedDeadline]:
        """`plan_on` with the remembered choice of stages."""
        stages = self.stages(
            kind=kind, level=level, category=category, channel=channel, starts_on=trigger
        )
        return [
            _planned(policy, entry, start=start, calendar=calendar, cycle=cycle)
            for policy, entry in stages
        ]


def recompute(
    deadline: PlannedDeadline, *, calendar: BusinessCalendar, paused: timedelta = timedelta(0)
) -> PlannedDeadline:
    """The same deadline planned again from its start on `calendar` (e.g. after an admin
    loaded next year's schedule), then moved by the time already `paused` (in the unit's
    sense, as stored in `deadlines.paused_total`)."""
    due = calendar.add(deadline.started_at, deadline.amount, deadline.unit)
    warn_at = calendar.warning_at(deadline.started_at, due.at, deadline.unit, deadline.warn_ratio)
    if paused:
        due = calendar.extend_for_pause(due, deadline.unit, paused)
        warn_at = calendar.extend_for_pause(warn_at, deadline.unit, paused).at
    return deadline._replace(due_at=due.at, warn_at=warn_at, provisional=due.provisional)


def replan_after_pause(
    deadline: PlannedDeadline,
    *,
    pauses: Sequence[tuple[datetime, datetime]],
    calendar: BusinessCalendar,
) -> PlannedDeadline:
    """The deadline moved later by the time spent in `pauses` ([from, until) pairs, e.g. the
    spells in `awaiting_customer`): working time for working units, calendar time for hours.

    The warning moves with it unless it had already fallen before the first pause began
    (a warning already due stays due).
    """
    if not pauses:
        return deadline
    unit = deadline.unit
    paused = calendar.paused_time(unit, pauses)
    due = calendar.add_pauses(Due(deadline.due_at, deadline.provisional), unit, pauses)
    first = min(a for a, _ in pauses)
    warn_at = deadline.warn_at
    if warn_at >= first:
        warn_at = calendar.extend_for_pause(warn_at, unit, paused).at
    return deadline._replace(due_at=due.at, warn_at=warn_at, provisional=due.provisional)


def time_remaining(
    due_at: datetime,
    unit: DurationUnit,
    *,
    now: datetime,
    calendar: BusinessCalendar,
    paused_at: datetime | None = None,
) -> timedelta:
    """Time left until `due_at` in the unit's sense (working time for working units, so a
    deadline at 18:00 on Friday seen at 17:00 has one hour left, not a weekend); negative
    once overdue. A paused deadline shows what was left when its clock stopped."""
    return calendar.time_remaining(paused_at if paused_at is not None else now, due_at, unit)


# -- the defaults (SPEC §2–§4, seeds 000 / 002 / 003) -----------------------------------------

_WD = DurationUnit.WORKING_DAYS
# A missed resolution: the handler and the supervisor tier are alerted, the customer is told
# why and promised an answer within 2 working days (seed 000 第五条); the level stays.
_LATE_RESOLUTION = BreachAction(tell_customer_within=2)
_TO_DIRECTOR = BreachAction(notify=(Recipient.ASSIGNEE, Recipient.DIRECTOR))


def _progress(days: int) -> SlaStage:
    # 处理期间定期向客户通报进展 (002 §5.3.1.5): planned again each time it is met or missed.
    return SlaStage(stage=Stage.PROGRESS_UPDATE, amount=days, unit=_WD, repeats=True)


def _resolution(level: Level, days: int, name: str, progress_days: int | None) -> SlaPolicy:
    # Counted from registration whatever the level became later (deadline_rules): a case
    # raised from level 1 to 2 on day 2 is due at registration + 7 working days.
    on_breach = (
        _LATE_RESOLUTION.model_copy(update={"notify": _TO_DIRECTOR.notify})
        if level is Level.VERY_SERIOUS
        else _LATE_RESOLUTION
    )
    stages = [SlaStage(stage=Stage.RESOLUTION, amount=days, unit=_WD, on_breach=on_breach)]
    if progress_days is not None:
        stages.append(_progress(progress_days))
    return SlaPolicy(name=name, kind=Kind.COMPLAINT, level=level, stages=tuple(stages))


def _answer(kind: Kind, name: str) -> SlaPolicy:
    return SlaPolicy(
        name=name,
        kind=kind,
        stages=(
            SlaStage(stage=Stage.ACKNOWLEDGEMENT, amount=1, unit=_WD),
            SlaStage(
                stage=Stage.RESOLUTION,
                amount=3,
                unit=_WD,
                on_breach=_LATE_RESOLUTION,
            ),
        ),
    )


# Ids are the database's: migration 0003 seeds these in this order (ids 1..7) and migration
# 0013 (the corrected SPEC §2–§4) stores them as version 2 of each; a test checks the stored
# rows against this tuple.
DEFAULT_POLICIES: tuple[SlaPolicy, ...] = (
    SlaPolicy(
        name="投诉通用时限",
        kind=Kind.COMPLAINT,
        stages=(
            # 受理后立即告知受理号，最迟 1 个工作日 (000, 002)
            SlaStage(stage=Stage.ACKNOWLEDGEMENT, amount=1, unit=_WD),
            # 1 个工作日内首次联系客户 (002 §5.1.1; its penalty §5.4.1.1 is tied to this rule)
            SlaStage(stage=Stage.FIRST_CONTACT, amount=1, unit=_WD),
            # 责任部门 2 个工作日内调查并反馈 (000)
            SlaStage(
                stage=Stage.INVESTIGATION, amount=2, unit=_WD, starts_on=StageTrigger.ASSIGNMENT
            ),
            # 结果明确后 1 个工作日内告知客户 (000)
            SlaStage(
                stage=Stage.RESULT_TO_CUSTOMER,
                amount=1,
                unit=_WD,
                starts_on=StageTrigger.RESULT_KNOWN,
            ),
            # 一级投诉每 5 个工作日（每周）向客户通报进展 (002 §5.3.1.5); the level-2 and
            # level-3 policies below define it more often, and the narrower policy wins.
            _progress(5),
        ),
    ),
    _resolution(Level.ORDINARY, 3, "一级投诉解决时限", None),
    _resolution(Level.SERIOUS, 7, "二级投诉解决时限", 3),
    _resolution(Level.VERY_SERIOUS, 15, "三级投诉解决时限", 2),
    _answer(Kind.INQUIRY, "咨询答复时限"),
    _answer(Kind.SUGGESTION, "建议答复时限"),
    SlaPolicy(
        name="监管转办回复时限",  # 12315 ODR: 10 个工作日内协商并反馈结果 (003, SAMR 12315)
        channel=Channel.REGULATOR,
        stages=(
            SlaStage(stage=Stage.REGULATOR_REPLY, amount=10, unit=_WD, on_breach=_TO_DIRECTOR),
        ),
    ),
)
