"""How a complaint's events move its deadlines (时限): planned, met, paused, resumed, cancelled.

One table of rules, used by the API for every change and by the SLA worker after a breach:

- registered: plan every stage that starts at registration; the acknowledgement is met at
  once when the 受理号 goes out automatically or was given in person (phone, visit);
- assigned (the first time): plan the responsible department's investigation;
- contact logged, reply to the customer: meet the acknowledgement and the first contact; meet
  the progress update and plan the next one (every 5 working days while open);
- findings recorded: meet the investigation; plan "result to the customer";
- resolved, marked invalid: meet result-to-customer and resolution (and any contact still
  owed); stop the progress updates;
- regulator replied: meet the regulator's reply;
- escalated, triaged to another level: cancel the open resolution deadline and plan it again
  under the new level **from registration** (SPEC §4: raising level 1 to 2 on day 2 gives
  registration + 7 working days; a late case never gains time by being escalated), moved by
  the time already spent awaiting the customer (a pause still running goes on from its own
  start: the customer's waiting never counts against the handler), and the progress updates
  again at the new level's pace, from now;
- reopened (a 4–5 rating): the resolution and the progress updates planned again from now (the
  case starts over, seed 002 §5.3.1.6: 重新填报《投诉处理单》; "from registration" then means from
  the reopening, for later level changes and rules re-plans too), and the regulator's reply if
  one was owed and is still not sent (the terminal status cancelled it);
- rules replanned (a rules migration, `DeadlinesReplanned`): every open deadline planned again
  under the policies in force, from its own start (the first contact and the resolution from
  registration);
- awaiting the customer / customer responded: pause every open deadline / resume them, moved
  by the paused time; a deadline planned during the pause (a contact logged, an escalation)
  starts paused, so its clock runs from the customer's answer;
- in a terminal status (closed, withdrawn, invalid) nothing stays open: what the event did
  not meet is cancelled (the sweep never acts on such complaints, and an open deadline would
  show as overdue forever);
- warned, breached (the SLA worker): the deadline is marked so, once; a breached progress
  update is planned again; a breach that escalates re-plans the resolution like any level
  change.

A breach does not raise the level unless the stage's policy says so (seed 002 §4.3); where a
company does, the re-planned resolution may be late at once, and breaches and raises the level
again at the next sweep: at most two rungs, one per sweep, never a storm.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.domain.calendar import BusinessCalendar, Due
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.enums import Channel, DurationUnit, Stage
from shared.domain.events import (
    Assigned,
    AwaitingCustomer,
    ComplaintRegistered,
    ContactLogged,
    CustomerReplySent,
    CustomerResponded,
    DeadlineBreached,
    DeadlinesReplanned,
    DeadlineWarned,
    Escalated,
    Event,
    FindingsRecorded,
    MarkedInvalid,
    Reassigned,
    RegulatorReplied,
    Reopened,
    Resolved,
    Triaged,
)
from shared.domain.lifecycle import clock_paused, is_terminal
from shared.domain.sla import (
    PlannedDeadline,
    PolicyBook,
    SlaPolicy,
    SlaStage,
    StageTrigger,
    plan_stage,
)

IN_PERSON = frozenset({Channel.PHONE, Channel.VISIT})
# Stages counted from registration whatever happened since (SPEC §4, seed 002 §5.1.1).
FROM_REGISTRATION = frozenset({Stage.FIRST_CONTACT, Stage.RESOLUTION})


@dataclass(frozen=True)
class OpenDeadline:
    """A stored deadline still owed (pending or warned)."""

    id: int
    stage: Stage
    cycle: int
    unit: DurationUnit
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    paused_at: datetime | None
    paused_total: timedelta


@dataclass(frozen=True)
class Resumed:
    id: int
    due_at: datetime
    warn_at: datetime
    paused_total: timedelta
    provisional: bool


@dataclass
class DeadlineChanges:
    """What one complaint change does to its deadlines."""

    planned: list[PlannedDeadline] = field(default_factory=list)
    met_on_plan: set[Stage] = field(default_factory=set)  # planned and met at once
    met: set[int] = field(default_factory=set)  # ids
    cancelled: set[int] = field(default_factory=set)
    paused: set[int] = field(default_factory=set)
    resumed: list[Resumed] = field(default_factory=list)
    warned: set[int] = field(default_factory=set)  # the SLA worker's warnings …
    breached: dict[int, uuid.UUID | None] = field(default_factory=dict)  # … breaches (holder)
    escalated: set[int] = field(default_factory=set)  # breaches that escalated the case


def counts_from_registration(events: Sequence[Event]) -> bool:
    """Whether these events may plan a stage again "from registration" (a level change, a
    rules re-plan): the planner then needs the last reopening (`deadline_changes`)."""
    return any(isinstance(e, Escalated | Triaged | DeadlinesReplanned) for e in events)


class _Planner:
    def __init__(
        self,
        open_deadlines: Sequence[OpenDeadline],
        cycles: dict[Stage, int],
        book: PolicyBook,
        calendar: BusinessCalendar,
        reopened_at: datetime | None = None,
    ) -> None:
        self.open = {d.stage: d for d in open_deadlines}
        self.reopened_at = reopened_at
        self.cycles = dict(cycles)  # highest cycle planned so far, per stage
        self.book = book
        self.calendar = calendar
        self.out = DeadlineChanges()
        self.at: datetime | None = None  # the moment of the event being applied
        # The pause (total, running since) of the deadlines this change breached, per stage.
        self.breached_pause: dict[Stage, tuple[timedelta, datetime | None]] = {}

    def _next_cycle(self, stage: Stage) -> int:
        self.cycles[stage] = self.cycles.get(stage, 0) + 1
        return self.cycles[stage]

    def _stages(
        self, state: ComplaintState, trigger: StageTrigger | None
    ) -> tuple[tuple[SlaPolicy, SlaStage], ...]:
        return self.book.stages(
            kind=state.kind,
            level=state.level,
            category=state.category,
            channel=state.channel,
            starts_on=trigger,
        )

    def _add(self, state: ComplaintState, policy: SlaPolicy, stage: Stage, start: datetime) -> None:
        planned = plan_stage(
            policy, stage, start=start, calendar=self.calendar, cycle=self._next_cycle(stage)
        )
        if planned is None:
            return
        if clock_paused(state.status):  # its clock starts when the pause ends (resume)
            # Paused from the moment it is planned (a start in the past, e.g. registration for
            # a resolution re-planned during the pause, is not paused time).
            planned = planned._replace(paused_at=max(start, self.at or start))
        self.out.planned.append(planned)

    def plan(self, state: ComplaintState, stage: Stage, start: datetime) -> None:
        for policy, entry in self._stages(state, None):
            if entry.stage == stage:
                self._add(state, policy, stage, start)

    def plan_trigger(self, state: ComplaintState, trigger: StageTrigger, start: datetime) -> None:
        for policy, entry in self._stages(state, trigger):
            self._add(state, policy, entry.stage, start)

    def _take(self, stage: Stage) -> OpenDeadline | None:
        return self.open.pop(stage, None)

    def _planned_now(self, stage: Stage) -> PlannedDeadline | None:
        return next((p for p in self.out.planned if p.stage == stage), None)

    def meet(self, *stages: Stage) -> None:
        for stage in stages:
            existing = self._take(stage)
            if existing is not None:
                self.out.met.add(existing.id)
            elif self._planned_now(stage) is not None:
                self.out.met_on_plan.add(stage)

    def cancel(self, *stages: Stage) -> None:
        for stage in stages:
            existing = self._take(stage)
            if existing is not None:
                self.out.cancelled.add(existing.id)
            else:
                self.out.planned = [p for p in self.out.planned if p.stage != stage]

    def replan(self, state: ComplaintState, stage: Stage, start: datetime) -> None:
        self.cancel(stage)
        self.plan(state, stage, start)

    def round_start(self, state: ComplaintState) -> datetime:
        """Where "from registration" counts from: the registration, or the last reopening —
        a reopened case is handled again as a new one (seed 002 §5.3.1.6: 重新填报《投诉处理单》),
        so a level change or a rules re-plan after a reopen never makes it late at once for
        the time it was resolved or closed."""
        if self.reopened_at is not None and self.reopened_at > state.created_at:
            return self.reopened_at
        return state.created_at

    def replan_open(self, state: ComplaintState, at: datetime) -> None:
        """Every open deadline planned again under the policies in force, from its start (the
        first contact and the resolution from registration, SPEC §4, or from the reopening:
        `round_start`), keeping the time the customer has kept us waiting (`_carry_pause`)."""
        for stage, d in list(self.open.items()):
            start = self.round_start(state) if stage in FROM_REGISTRATION else d.started_at
            self.cancel(stage)
            self.plan(state, stage, start)
            self._carry_pause(stage, d.paused_total, d.paused_at)

    def replan_level(self, state: ComplaintState) -> None:
        """A level change (escalated, triaged to another level — by hand, after a 4–5 rating, a
        repeat, a group or a breach): the resolution planned again under the new level from
        registration (SPEC §4, seed 002 §4.3), keeping the time the customer has kept us
        waiting (`_carry_pause`: SPEC §4, 等待客户 does not count) — the customer's waiting is
        never counted against the handler because the level rose. A resolution planned by this
        very change (a reopen after a 4–5 rating) keeps its fresh start, and one reopened before
        counts from the reopening (`round_start`)."""
        fresh = self._planned_now(Stage.RESOLUTION)
        start = fresh.started_at if fresh is not None else self.round_start(state)
        # What the pause has done so far: the open resolution's, else the one planned by this
        # change, else the one this change breached (a breach that raises the level).
        old = self.open.get(Stage.RESOLUTION)
        carried = (
            (old.paused_total, old.paused_at)
            if old is not None
            else (fresh.paused_total, fresh.paused_at)
            if fresh is not None
            else self.breached_pause.get(Stage.RESOLUTION, (timedelta(0), None))
        )
        self.replan(state, Stage.RESOLUTION, start)
        self._carry_pause(Stage.RESOLUTION, *carried)

    def _carry_pause(
        self, stage: Stage, paused_total: timedelta, paused_at: datetime | None
    ) -> None:
        """The new plan of `stage` keeps the paused time its predecessor had accrued
        (`paused_total`, added to its due and warning times, as a recompute adds it) and, while
        the pause lasts, its start (`paused_at`), so that the resumption adds the whole pause.
        The total is carried as it stands (in the old unit's sense: corrected rules that change
        a stage's unit between hours and working time count it the same length)."""
        if not paused_total and paused_at is None:
            return
        for i, new in enumerate(self.out.planned):
            if new.stage is not stage:
                continue
            due, warn = Due(new.due_at, new.provisional), new.warn_at
            if paused_total:
                due = self.calendar.extend_for_pause(due, new.unit, paused_total)
                warn = self.calendar.extend_for_pause(warn, new.unit, paused_total).at
            self.out.planned[i] = new._replace(
                due_at=due.at,
                warn_at=warn,
                provisional=due.provisional,
                paused_total=paused_total,
                paused_at=paused_at if paused_at is not None else new.paused_at,
            )

    def breach(self, state: ComplaintState, event: DeadlineBreached, at: datetime) -> None:
        """超时: recorded against whoever held the case; a repeating stage (progress updates)
        is planned again."""
        self.out.breached[event.deadline_id] = event.assignee_id
        breached = self.open.pop(event.stage, None)
        if breached is not None:
            self.breached_pause[event.stage] = (breached.paused_total, breached.paused_at)
        if event.repeats:
            self.plan(state, event.stage, at)

    def pause(self, at: datetime) -> None:
        self.out.paused.update(d.id for d in self.open.values() if d.paused_at is None)

    def resume(self, at: datetime) -> None:
        for stage, d in list(self.open.items()):
            if d.paused_at is None:
                continue
            pauses = [(d.paused_at, at)]
            paused = self.calendar.paused_time(d.unit, pauses)
            due = self.calendar.extend_for_pause(d.due_at, d.unit, paused)
            warn = self.calendar.extend_for_pause(d.warn_at, d.unit, paused)
            self.out.resumed.append(
                Resumed(d.id, due.at, warn.at, d.paused_total + paused, due.provisional)
            )
            self.open[stage] = OpenDeadline(
                d.id,
                d.stage,
                d.cycle,
                d.unit,
                d.started_at,
                due.at,
                warn.at,
                None,
                d.paused_total + paused,
            )


def deadline_changes(
    stamped: Sequence[tuple[Event, EventMeta]],
    states: Sequence[ComplaintState],
    *,
    before: ComplaintState | None,
    open_deadlines: Sequence[OpenDeadline],
    cycles: dict[Stage, int],
    book: PolicyBook,
    calendar: BusinessCalendar,
    reopened_at: datetime | None = None,
) -> DeadlineChanges:
    """What the events of one change do to the complaint's deadlines (see the module table).
    `states[i]` is the state after `stamped[i]`; `cycles` the highest cycle per stage so far;
    `reopened_at` when the complaint was last reopened before this change, if ever (needed
    only when `counts_from_registration` says so)."""
    p = _Planner(open_deadlines, cycles, book, calendar, reopened_at)
    previous = before
    for (event, meta), state in zip(stamped, states, strict=True):
        at = p.at = meta.occurred_at
        if isinstance(event, ComplaintRegistered):
            p.plan_trigger(state, StageTrigger.REGISTRATION, at)
            if state.notify_customer or state.channel in IN_PERSON:
                p.meet(Stage.ACKNOWLEDGEMENT)
        elif isinstance(event, Reassigned):
            pass
        elif isinstance(event, Assigned):
            if Stage.INVESTIGATION not in p.cycles:
                p.plan_trigger(state, StageTrigger.ASSIGNMENT, at)
        elif isinstance(event, ContactLogged | CustomerReplySent):
            p.meet(Stage.ACKNOWLEDGEMENT, Stage.FIRST_CONTACT)
            if p.open.get(Stage.PROGRESS_UPDATE) is not None:
                p.meet(Stage.PROGRESS_UPDATE)
                p.plan(state, Stage.PROGRESS_UPDATE, at)
        elif isinstance(event, FindingsRecorded):
            p.meet(Stage.INVESTIGATION)
            if Stage.RESULT_TO_CUSTOMER not in p.open:
                p.plan_trigger(state, StageTrigger.RESULT_KNOWN, at)
        elif isinstance(event, Resolved | MarkedInvalid):
            # Telling the customer the result is a contact, and ends the investigation.
            p.meet(
                Stage.RESULT_TO_CUSTOMER,
                Stage.RESOLUTION,
                Stage.INVESTIGATION,
                Stage.FIRST_CONTACT,
                Stage.ACKNOWLEDGEMENT,
            )
            p.cancel(Stage.PROGRESS_UPDATE)
        elif isinstance(event, RegulatorReplied):
            p.meet(Stage.REGULATOR_REPLY)
        elif isinstance(event, Escalated | Triaged):
            if previous is not None and state.level != previous.level:
                p.replan_level(state)
                if Stage.PROGRESS_UPDATE in p.open or p._planned_now(Stage.PROGRESS_UPDATE):
                    p.replan(state, Stage.PROGRESS_UPDATE, at)
            if isinstance(event, Escalated) and event.deadline_id is not None:
                p.out.escalated.add(event.deadline_id)
        elif isinstance(event, Reopened):
            p.reopened_at = at
            p.replan(state, Stage.RESOLUTION, at)
            p.replan(state, Stage.PROGRESS_UPDATE, at)
            owed = Stage.REGULATOR_REPLY in p.cycles and state.regulator_reply is None
            if owed and Stage.REGULATOR_REPLY not in p.open:
                p.plan(state, Stage.REGULATOR_REPLY, at)
        elif isinstance(event, AwaitingCustomer):
            p.pause(at)
        elif isinstance(event, CustomerResponded):
            p.resume(at)
        elif isinstance(event, DeadlinesReplanned):
            p.replan_open(state, at)
        elif isinstance(event, DeadlineWarned):
            p.out.warned.add(event.deadline_id)
        elif isinstance(event, DeadlineBreached):
            p.breach(state, event, at)
        if is_terminal(state.status):
            p.cancel(*Stage)
        previous = state
    return p.out
