"""What a level change does to the resolution deadline (shared.domain.deadline_rules), on the
default policies and the real 2026 calendar: planned again from registration under the new
level (SPEC §4), keeping the time spent awaiting the customer (SPEC §4: 等待客户 does not
count) — whichever way the level rose. Expected moments are counted by hand on the State
Council's 2026 schedule (no holiday in October after 国庆 10-01..10-07)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.calendar_data import default_calendar
from shared.domain.complaint import SYSTEM_ACTOR, ComplaintState, EventMeta
from shared.domain.deadline_rules import OpenDeadline, deadline_changes
from shared.domain.enums import DurationUnit, Level, Stage
from shared.domain.events import (
    ComplaintRegistered,
    DeadlineBreached,
    Escalated,
    Event,
    stamp,
)
from shared.domain.intake import ComplaintIntake, Customer, Product
from shared.domain.sla import DEFAULT_POLICIES, PlannedDeadline, PolicyBook

SH = ZoneInfo("Asia/Shanghai")
CAL = default_calendar()
BOOK = PolicyBook(p.model_copy(update={"id": i}) for i, p in enumerate(DEFAULT_POLICIES, start=1))
REGISTERED = datetime(2026, 10, 12, 10, 0, tzinfo=SH)  # a Monday
# Level 1: 3 working days → Thursday 10-15 18:00; level 2: 7 → Wednesday 10-21 18:00.
LEVEL1_DUE = datetime(2026, 10, 15, 18, 0, tzinfo=SH)
LEVEL2_DUE = datetime(2026, 10, 21, 18, 0, tzinfo=SH)
NINE_HOURS = timedelta(hours=9)  # one whole working day (09:00–18:00) spent awaiting the customer


def _registered() -> ComplaintState:
    event = ComplaintRegistered(
        reference="KS-20261012-000001",
        intake=ComplaintIntake(
            channel="web",
            category="product_quality",
            customer=Customer(name="王芳", phone="13812345678"),
            product=Product(model="KX-200"),
            content="电水壶使用一周后底座开裂，要求退货。",
        ),
        level=Level.ORDINARY,
        department="quality",
    )
    meta = EventMeta(complaint_id=uuid.uuid4(), seq=1, occurred_at=REGISTERED, actor=SYSTEM_ACTOR)
    return event.apply(None, meta)


def _resolution(*, paused_total: timedelta, paused_at: datetime | None) -> OpenDeadline:
    return OpenDeadline(
        id=7,
        stage=Stage.RESOLUTION,
        cycle=1,
        unit=DurationUnit.WORKING_DAYS,
        started_at=REGISTERED,
        due_at=LEVEL1_DUE + paused_total,  # 18:00 + whole working days: the next days' 18:00
        warn_at=REGISTERED,
        paused_at=paused_at,
        paused_total=paused_total,
    )


def _resolution_planned(
    state: ComplaintState,
    events: list[Event],
    old: OpenDeadline,
    at: datetime,
    reopened_at: datetime | None = None,
) -> PlannedDeadline:
    stamped, states = stamp(state, events, actor=SYSTEM_ACTOR, now=at)
    changes = deadline_changes(
        stamped,
        states,
        before=state,
        open_deadlines=[old],
        cycles={Stage.RESOLUTION: 1},
        book=BOOK,
        calendar=CAL,
        reopened_at=reopened_at,
    )
    [planned] = [p for p in changes.planned if p.stage is Stage.RESOLUTION]
    return planned


def test_a_breach_that_raises_the_level_keeps_the_breached_deadlines_pause() -> None:
    """A company that raises the level on a breach (seed 002 §4.3, off by default): the
    level-1 resolution, moved by a working day awaiting the customer, breaches; the level-2
    resolution is registration + 7 working days + that working day (Thursday 10-22 18:00)."""
    state = _registered()
    old = _resolution(paused_total=NINE_HOURS, paused_at=None)
    at = datetime(2026, 10, 19, 10, 0, tzinfo=SH)
    events: list[Event] = [
        DeadlineBreached(deadline_id=old.id, stage=old.stage, cycle=1, due_at=old.due_at),
        Escalated(
            from_level=Level.ORDINARY,
            to_level=Level.SERIOUS,
            reason="处理时限超时",
            cause="breach",
            stage=Stage.RESOLUTION,
            deadline_id=old.id,
        ),
    ]
    planned = _resolution_planned(state, events, old, at)
    assert (planned.cycle, planned.started_at) == (2, REGISTERED)
    assert planned.due_at == datetime(2026, 10, 22, 18, 0, tzinfo=SH)
    assert (planned.paused_total, planned.paused_at) == (NINE_HOURS, None)
    assert planned.warn_at > CAL.warning_at(REGISTERED, LEVEL2_DUE, DurationUnit.WORKING_DAYS)


def test_a_repeat_raising_the_level_during_a_pause_keeps_the_pause_and_its_start() -> None:
    """Linked as a repeat (二次投诉, seed 002 §4.3.2: level 2) while the customer is awaited
    (since Tuesday 09:00): the new resolution carries the earlier working day of pause and
    starts paused from Tuesday 09:00, not from the rise, so the customer's answer adds the
    whole pause."""
    state = _registered()
    since = datetime(2026, 10, 13, 9, 0, tzinfo=SH)
    old = _resolution(paused_total=NINE_HOURS, paused_at=since)
    paused = state.model_copy(update={"status": "awaiting_customer", "paused_at": since})
    at = datetime(2026, 10, 13, 15, 0, tzinfo=SH)
    raised = Escalated(
        from_level=Level.ORDINARY, to_level=Level.SERIOUS, reason="二次投诉", cause="repeat"
    )
    planned = _resolution_planned(paused, [raised], old, at)
    assert planned.started_at == REGISTERED
    assert planned.due_at == datetime(2026, 10, 22, 18, 0, tzinfo=SH)
    assert (planned.paused_total, planned.paused_at) == (NINE_HOURS, since)


def test_a_level_rise_after_a_reopen_counts_from_the_reopening() -> None:
    """Seed 002 §5.3.1.6 (重新填报《投诉处理单》): reopened on Monday 10-19 10:00 and escalated
    the next day, the level-2 resolution counts from the reopening — 7 working days, Wednesday
    10-28 18:00 — not from the registration (10-21, so late within a day of the rise)."""
    state = _registered()
    reopened = datetime(2026, 10, 19, 10, 0, tzinfo=SH)
    old = _resolution(paused_total=timedelta(0), paused_at=None)
    old = OpenDeadline(**{**old.__dict__, "started_at": reopened})
    raised = Escalated(
        from_level=Level.ORDINARY, to_level=Level.SERIOUS, reason="客户情绪激动", cause="manual"
    )
    at = datetime(2026, 10, 20, 10, 0, tzinfo=SH)
    planned = _resolution_planned(state, [raised], old, at, reopened_at=reopened)
    assert planned.started_at == reopened
    assert planned.due_at == datetime(2026, 10, 28, 18, 0, tzinfo=SH)
