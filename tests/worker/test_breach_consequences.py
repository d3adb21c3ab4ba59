"""What a missed deadline does by default (issue 11 §2), and open cases moved to the corrected
rules (issue 11 "Done when"), on a database of this module's own with the default policies.

- seed 002 §4.3: the level is the complaint's nature — a breach does not raise it;
- seed 002 §5.4: the breach is recorded against the handler holding the case, and the
  supervisor tier is alerted (the case is in their overdue queue);
- seed 000 第五条「向客户说明原因」: for the resolution the customer is told why it is late and
  when to expect an answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import text

from services.sla_worker.jobs.housekeeping import housekeeping
from shared.application.bootstrap import Collaborators
from shared.application.replan import replan_superseded
from shared.domain.templates import find_forbidden_phrases
from tests.support.desk import Desk, deadlines_of, events_of, level_of, sweep_all
from tests.support.factories import mobile
from tests.support.flow import Flow
from tests.support.principals import create_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)  # a Monday


def nth_working_day_end(start: datetime, n: int) -> datetime:
    """Counted with chinesecalendar directly: an independent source, not the code under test."""
    day, counted = start.astimezone(SHANGHAI).date(), 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return datetime(day.year, day.month, day.day, 18, tzinfo=SHANGHAI)


async def _outbox(desk: Desk, complaint_id: str) -> list[dict[str, Any]]:
    async with desk.db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT topic, template_key, audience, recipient_user_id, payload, event_seq "
                "FROM outbox WHERE complaint_id = :id AND kind = 'message' ORDER BY id"
            ),
            {"id": uuid.UUID(complaint_id)},
        )
        return [dict(r) for r in rows.mappings()]


async def test_a_breach_keeps_the_level_alerts_the_supervisor_and_tells_the_customer(
    desk: Desk,
) -> None:
    """Seed 002 §4.3 and §5.4, seed 000 第五条: six days on, first contact, the investigation
    and the level-1 resolution are missed. The breaches are recorded against the agent
    holding the case, the level stays 1, the managers (the tier above the agents) are alerted
    and see the case in their overdue queue, and the customer is told once — for the
    resolution — why it is late and when to expect an answer (2 working days by default)."""
    desk.now = datetime.now(SHANGHAI)  # accounts sign in at the real time
    agent = await create_user(desk.client, desk.admin, role="agent", department="service")
    phone = mobile()
    complaint = await desk.register(T0, customer={"name": "王芳", "phone": phone})
    flow = Flow(desk.client, complaint)
    await flow.act("assign", desk.manager.headers, {"assignee_id": agent.id})

    later = T0 + timedelta(days=6)  # Sunday 10:00
    await sweep_all(desk.db, later)
    events = await events_of(desk.db, complaint["id"])
    breaches = [e["payload"] for e in events if e["type"] == "deadline.breached"]
    # First contact, the department's investigation (2 working days) and the resolution.
    assert {b["stage"] for b in breaches} == {"first_contact", "investigation", "resolution"}
    assert not [e for e in events if e["type"] == "complaint.escalated"]
    assert await level_of(desk.db, complaint["id"]) == 1
    # Recorded against the handler (the assessment counts them per handler, seed 002 §5.4).
    assert {b["assignee_id"] for b in breaches} == {agent.id}
    stored = await deadlines_of(desk.db, complaint["id"])
    assert {str(d["breached_assignee_id"]) for d in stored if d["status"] == "breached"} == {
        agent.id
    }

    messages = await _outbox(desk, complaint["id"])
    seq_of = {  # events are numbered from 1
        e["payload"]["stage"]: seq
        for seq, e in enumerate(events, start=1)
        if e["type"] == "deadline.breached"
    }
    for stage in ("first_contact", "resolution"):
        told = {
            str(m["recipient_user_id"])
            for m in messages
            if m["audience"] == "staff" and m["event_seq"] == seq_of[stage]
        }
        assert {agent.id, desk.manager.id} <= told, stage
    [notice] = [m for m in messages if m["template_key"] == "overrun_notice"]
    assert notice["audience"] == "customer"
    assert notice["event_seq"] == seq_of["resolution"]
    expected = nth_working_day_end(later, 2)
    local = f"{expected.year}年{expected.month}月{expected.day}日 18:00"
    assert notice["payload"]["expected_by_local"] == local
    assert notice["payload"]["overrun_reason"]
    assert find_forbidden_phrases(notice["payload"]["overrun_reason"]) == ()

    # The supervisor tier's overdue queue shows it.
    desk.now = later
    overdue = await desk.client.get(
        "/api/v1/complaints",
        params={"overdue": "true", "customer_phone": phone},
        headers=desk.manager.headers,
    )
    assert overdue.status_code == 200, overdue.text
    assert [c["id"] for c in overdue.json()["items"]] == [complaint["id"]]

    # Exactly once: sweeping again at the same moment writes nothing.
    await sweep_all(desk.db, later)
    assert len(await events_of(desk.db, complaint["id"])) == len(events)


async def test_open_cases_move_to_the_corrected_rules_through_their_events(desk: Desk) -> None:
    """Issue 11 "Done when": an open case planned before migration 0013 (first contact in 24
    calendar hours, policy version 1) is planned again under the corrected defaults by the
    worker's housekeeping: a `deadlines.replanned` event, the old deadlines cancelled (kept),
    new ones counted from registration (seed 002 §5.1.1: 1 working day; level 1: 3)."""
    complaint = await desk.register(T0)
    cid = uuid.UUID(complaint["id"])
    async with desk.db.connect() as conn:  # the state before the migration
        await conn.execute(
            text(
                "UPDATE deadlines SET policy_version = 1, unit = 'hours', amount = 24, "
                "due_at = started_at + interval '24 hours', warn_at = started_at "
                "WHERE complaint_id = :id AND stage = 'first_contact'"
            ),
            {"id": cid},
        )
        await conn.execute(
            text(
                "UPDATE deadlines SET policy_version = 1 "
                "WHERE complaint_id = :id AND stage <> 'first_contact'"
            ),
            {"id": cid},
        )
    before = await events_of(desk.db, complaint["id"])

    done = await housekeeping({"collab": Collaborators(desk.db, desk.settings)})
    assert done["replanned"] >= 1
    events = await events_of(desk.db, complaint["id"])
    assert events[: len(before)] == before  # nothing lost
    assert [e["type"] for e in events[len(before) :]] == ["deadlines.replanned"]
    rows = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, complaint["id"])}
    assert rows[("first_contact", 1)]["status"] == "cancelled"
    first = rows[("first_contact", 2)]
    assert (first["status"], first["unit"], first["policy_version"]) == (
        "pending",
        "working_days",
        2,
    )
    assert first["started_at"] == T0
    assert first["due_at"] == nth_working_day_end(T0, 1)
    resolution = rows[("resolution", 2)]
    assert resolution["due_at"] == nth_working_day_end(T0, 3)
    assert rows[("resolution", 1)]["status"] == "cancelled"

    # Idempotent: nothing is left on the superseded version.
    again = await housekeeping({"collab": Collaborators(desk.db, desk.settings)})
    assert again["replanned"] == 0
    assert len(await events_of(desk.db, complaint["id"])) == len(events)


def _on(day: int, hour: int = 10) -> datetime:
    """A day of November 2026 (no holiday): registrations on a day of their own, since the
    housekeeping of the test above restarts the numbering of days it has dropped."""
    return datetime(2026, 11, day, hour, 0, tzinfo=SHANGHAI)


async def test_planning_again_keeps_the_time_the_customer_kept_us_waiting(desk: Desk) -> None:
    """SPEC §4 (等待客户 stops the clock): when housekeeping plans an open case's deadlines
    again (`deadlines.replanned`), the paused time already accrued is carried over, and a
    pause still running is resumed from where it began. Level 1: resolution in 3 working
    days; paused Tuesday → Thursday (2 working days), then from Friday, resumed the next
    Tuesday (2 more): 3 + 2 + 2 working days from registration."""
    flow = Flow(desk.client, await desk.register(_on(2)))
    manager = desk.manager.headers
    for when, action, body in (
        (_on(2, 11), "assign", {"assignee_id": desk.manager.id}),
        (_on(3), "await_customer", {"reason": "等待客户提供购买凭证"}),
        (_on(5), "customer_responded", {"summary": "已收到凭证"}),
        (_on(6), "await_customer", {"reason": "等待客户约定上门时间"}),
    ):
        desk.now = when
        await flow.act(action, manager, body)
    async with desk.db.connect() as conn:  # planned on rules since corrected (as before 0013)
        await conn.execute(
            text("UPDATE deadlines SET policy_version = 1 WHERE complaint_id = :id"),
            {"id": uuid.UUID(flow.id)},
        )
    rows = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, flow.id)}
    old = rows[("resolution", 1)]
    assert old["due_at"] == nth_working_day_end(_on(2), 5)  # 3 + the first pause
    assert old["paused_at"] == _on(6)

    assert await replan_superseded(Collaborators(desk.db, desk.settings), now=_on(9)) == 1
    rows = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, flow.id)}
    assert rows[("resolution", 1)]["status"] == "cancelled"
    new = rows[("resolution", 2)]
    assert (new["status"], new["started_at"]) == ("pending", _on(2))
    assert new["due_at"] == old["due_at"]
    assert new["paused_total"] == old["paused_total"] > timedelta(0)
    assert new["paused_at"] == _on(6)  # the running pause, from its start
    carried = [d for d in rows.values() if d["status"] == "pending"]
    assert carried
    assert all(d["paused_total"] == old["paused_total"] for d in carried)

    desk.now = _on(10)
    await flow.refresh(manager)
    await flow.act("customer_responded", manager, {"summary": "客户确认周三上门"})
    resolution = {(d["stage"], d["cycle"]): d for d in await deadlines_of(desk.db, flow.id)}[
        ("resolution", 2)
    ]
    assert resolution["paused_at"] is None
    assert resolution["due_at"] == nth_working_day_end(_on(2), 7)


async def test_planning_a_reopened_case_again_counts_from_the_reopening(desk: Desk) -> None:
    """Seed 002 §5.3.1.6 (a reopened case is filed again, 重新填报《投诉处理单》): a case
    marked invalid on 11-16 and reopened on 11-23, planned again by housekeeping on 11-24
    (its deadlines on rules since corrected), keeps its resolution counted from the
    reopening (level 1: 3 working days, 11-26 18:00), not from the registration (11-19
    18:00, already past: the case would breach at once for the week it was closed)."""
    flow = Flow(desk.client, await desk.register(_on(16)))
    manager = desk.manager.headers
    for action, body in (
        ("assign", {"assignee_id": desk.manager.id}),
        ("start_investigation", {}),
        ("record_findings", {"findings": "用户自行拆机导致损坏", "responsibility": "customer"}),
        ("mark_invalid", {"explanation": "经核实，损坏系自行拆机所致"}),
    ):
        await flow.act(action, manager, body)
    desk.now = _on(23)
    await flow.act("reopen", manager, {"reason": "消费者不认可调查结论"})
    async with desk.db.connect() as conn:  # planned on rules since corrected (as before 0013)
        await conn.execute(
            text("UPDATE deadlines SET policy_version = 1 WHERE complaint_id = :id"),
            {"id": uuid.UUID(flow.id)},
        )
    assert await replan_superseded(Collaborators(desk.db, desk.settings), now=_on(24)) == 1
    pending = [
        d
        for d in await deadlines_of(desk.db, flow.id)
        if d["stage"] == "resolution" and d["status"] == "pending"
    ]
    assert [(d["started_at"], d["due_at"]) for d in pending] == [
        (_on(23), nth_working_day_end(_on(23), 3))
    ]
