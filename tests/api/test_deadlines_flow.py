"""Deadlines follow the complaint (SPEC §4): planned at registration on the Chinese calendar
(调休 included), met by the stage's action, re-planned on a level change, paused while waiting
for the customer, cancelled at closure; shown with the working time left, filterable, and the
next one in the public status lookup. Nothing stays open once a complaint is closed,
withdrawn or invalid, and what is planned during a pause starts paused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import httpx
import pytest
from fastapi import FastAPI

from services.intake_api.deps import get_now
from tests.conftest import Staff
from tests.support.factories import complaint_body
from tests.support.flow import Flow, register

SHANGHAI = ZoneInfo("Asia/Shanghai")


def nth_working_day_end(start: datetime, n: int) -> datetime:
    """End of working hours (18:00) of the nth working day after `start`'s day, counted with
    chinesecalendar directly (an independent source: not the code under test)."""
    day = start.astimezone(SHANGHAI).date()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            counted += 1
    return datetime(day.year, day.month, day.day, 18, tzinfo=SHANGHAI)


class Clock:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.now = datetime(2026, 9, 30, 14, 0, tzinfo=SHANGHAI)

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Clock]:
    fixed = Clock(app)
    app.dependency_overrides[get_now] = lambda: fixed.now
    yield fixed
    app.dependency_overrides.pop(get_now, None)


async def _deadlines(
    anon: httpx.AsyncClient, headers: dict[str, str], cid: str
) -> list[dict[str, Any]]:
    response = await anon.get(f"/api/v1/complaints/{cid}/deadlines", headers=headers)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["items"]
    return result


def _by(deadlines: list[dict[str, Any]], stage: str, cycle: int = 1) -> dict[str, Any]:
    return next(d for d in deadlines if d["stage"] == stage and d["cycle"] == cycle)


async def test_registration_plans_the_deadlines_on_the_chinese_calendar(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    created = (
        await anon.post("/api/v1/complaints", json=complaint_body(), headers=staff.agent.headers)
    ).json()
    found = await _deadlines(anon, staff.agent.headers, created["id"])
    assert {d["stage"] for d in found} == {
        "acknowledgement",
        "first_contact",
        "resolution",
        "progress_update",
    }
    # The 受理号 went out automatically: acknowledged at once.
    assert _by(found, "acknowledgement")["status"] == "met"
    # Seed 002 §5.1.1: first contact within 1 working day, after the National Day holiday.
    first = _by(found, "first_contact")
    assert datetime.fromisoformat(first["due_at"]) == nth_working_day_end(clock.now, 1)
    # Level 1: 3 working days. 2026-10-01..07 is National Day; 10-10 (Saturday) is a 调休
    # make-up working day, so the third working day is that Saturday.
    resolution = _by(found, "resolution")
    assert datetime.fromisoformat(resolution["due_at"]) == nth_working_day_end(clock.now, 3)
    assert datetime.fromisoformat(resolution["due_at"]).date() == date(2026, 10, 10)
    assert resolution["status"] == "pending"
    assert resolution["provisional"] is False
    assert resolution["remaining_seconds"] == 3 * 9 * 3600 + 4 * 3600  # 14:00→18:00, then 3 days


async def test_contact_meets_first_contact_and_renews_the_progress_update(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    flow = await register(anon, staff.agent.headers)
    clock.set(datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI))
    await flow.act("log_contact", staff.agent.headers, {"method": "phone", "outcome": "已联系"})
    found = await _deadlines(anon, staff.agent.headers, flow.id)
    assert _by(found, "first_contact")["status"] == "met"
    assert _by(found, "progress_update", 1)["status"] == "met"
    renewed = _by(found, "progress_update", 2)
    assert renewed["status"] == "pending"
    assert datetime.fromisoformat(renewed["due_at"]) == nth_working_day_end(clock.now, 5)


async def test_findings_start_result_to_customer_and_resolve_meets_it(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.handler_quality.id})
    found = await _deadlines(anon, staff.agent.headers, flow.id)
    investigation = _by(found, "investigation")
    assert datetime.fromisoformat(investigation["due_at"]) == nth_working_day_end(clock.now, 2)
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    await flow.act(
        "record_findings",
        staff.handler_quality.headers,
        {"findings": "用户使用不当", "responsibility": "customer"},
    )
    found = await _deadlines(anon, staff.agent.headers, flow.id)
    assert _by(found, "investigation")["status"] == "met"
    assert _by(found, "result_to_customer")["status"] == "pending"
    await flow.act(
        "mark_invalid",
        staff.handler_quality.headers,
        {"explanation": "经核实系使用不当，感谢您的理解"},
    )
    found = await _deadlines(anon, staff.agent.headers, flow.id)
    assert {d["stage"]: d["status"] for d in found if d["cycle"] == 1}[
        "result_to_customer"
    ] == "met"
    assert _by(found, "resolution")["status"] == "met"
    assert _by(found, "progress_update")["status"] == "cancelled"


async def test_escalation_counts_the_resolution_from_registration_spec_4(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    """SPEC §4 (seed 000 / 003): raised from level 1 to 2 on day 2, the case is due at
    registration + 7 working days, never day 2 + 7: escalating gains no time. The progress
    updates go to the level-2 pace (every 3 working days, seed 002 §5.3.1.5)."""
    registered = clock.now
    flow = await register(anon, staff.agent.headers)
    clock.set(datetime(2026, 10, 9, 9, 30, tzinfo=SHANGHAI))
    await flow.act("escalate", staff.agent.headers, {"reason": "客户情绪激动"})
    found = await _deadlines(anon, staff.manager.headers, flow.id)
    assert _by(found, "resolution", 1)["status"] == "cancelled"
    level2 = _by(found, "resolution", 2)
    assert datetime.fromisoformat(level2["due_at"]) == nth_working_day_end(registered, 7)
    progress = _by(found, "progress_update", 2)
    assert datetime.fromisoformat(progress["due_at"]) == nth_working_day_end(clock.now, 3)


async def test_waiting_for_the_customer_pauses_the_clock(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    flow = await register(anon, staff.agent.headers)
    before = _by(await _deadlines(anon, staff.agent.headers, flow.id), "resolution")
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    clock.set(datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI))
    await flow.act("await_customer", staff.agent.headers, {"reason": "等待照片"})
    paused = _by(await _deadlines(anon, staff.agent.headers, flow.id), "resolution")
    assert paused["paused"] is True
    # Two full working days later (Thu 09:00 → Fri 18:00 ... Sat 09:00 is a 调休 workday).
    clock.set(datetime(2026, 10, 9, 18, 0, tzinfo=SHANGHAI))
    await flow.act("customer_responded", staff.agent.headers, {"summary": "照片已收到"})
    resumed = _by(await _deadlines(anon, staff.agent.headers, flow.id), "resolution")
    assert resumed["paused"] is False
    # Paused for 18 working hours (Thu and Fri): the deadline moved two working days later.
    old_due = datetime.fromisoformat(before["due_at"])
    new_due = datetime.fromisoformat(resumed["due_at"])
    assert new_due == nth_working_day_end(old_due - timedelta(hours=1), 2)


async def test_closing_cancels_what_is_open_and_filters_and_lookup_follow(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    body = complaint_body()
    created = (await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)).json()
    phone = body["customer"]["phone"]
    lookup = await anon.post(
        "/api/v1/public/status-lookup", json={"reference": created["reference"], "phone": phone}
    )
    first_contact_due = datetime.fromisoformat(
        _by(await _deadlines(anon, staff.agent.headers, created["id"]), "first_contact")["due_at"]
    )
    assert datetime.fromisoformat(lookup.json()["next_deadline"]) == first_contact_due

    params = {"customer_phone": phone}
    listed = await anon.get(
        "/api/v1/complaints", params={**params, "overdue": "true"}, headers=staff.agent.headers
    )
    assert listed.json()["items"] == []
    clock.set(datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI))  # long after every deadline
    overdue = await anon.get(
        "/api/v1/complaints", params={**params, "overdue": "true"}, headers=staff.agent.headers
    )
    assert [c["id"] for c in overdue.json()["items"]] == [created["id"]]
    clock.set(datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI))
    soon = await anon.get(
        "/api/v1/complaints", params={**params, "due_within_hours": 3}, headers=staff.agent.headers
    )
    assert soon.json()["items"] == []  # first contact is 23 hours away; nothing in 3 working h
    later = await anon.get(
        "/api/v1/complaints", params={**params, "due_within_hours": 40}, headers=staff.agent.headers
    )
    assert [c["id"] for c in later.json()["items"]] == [created["id"]]

    flow = Flow(anon, created)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    await flow.act("resolve", staff.agent.headers, {"result": "已为您处理完毕"})
    # The 回访 by the clerk, the manager's review, the clerk archives (seed 002 §5.1.1.1).
    await flow.act("record_satisfaction", staff.clerk.headers, {"score": 2})
    await flow.act("review", staff.manager.headers, {})
    await flow.act("close", staff.clerk.headers, {})
    found = await _deadlines(anon, staff.agent.headers, flow.id)
    assert all(d["status"] in ("met", "cancelled") for d in found)
    assert all(d["remaining_seconds"] is None for d in found)


def _regulator_case() -> dict[str, Any]:
    return complaint_body(
        channel="regulator",
        channel_meta={
            "regulator": "12315",
            "regulator_case_number": f"12315{uuid.uuid4().hex[:8]}",
        },
    )


def plus_working_hours(at: datetime, hours: int) -> datetime:
    """`at` (the end of a working day) plus whole working hours, 09:00–18:00 on chinesecalendar's
    working days: an independent count, not the code under test."""
    day, left = at.astimezone(SHANGHAI).date(), hours
    while True:
        day += timedelta(days=1)
        if not chinese_calendar.is_workday(day):
            continue
        if left <= 9:
            return datetime(day.year, day.month, day.day, 9 + left, tzinfo=SHANGHAI)
        left -= 9


async def test_deadlines_planned_while_awaiting_the_customer_start_paused(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    flow = await register(anon, staff.agent.headers)
    phone = flow.complaint["customer"]["phone"]  # as registered, in clear
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    clock.set(datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI))  # Thursday
    await flow.act("await_customer", staff.agent.headers, {"reason": "等待照片"})
    during = datetime(2026, 10, 8, 11, 0, tzinfo=SHANGHAI)
    clock.set(during)
    await flow.act("log_contact", staff.agent.headers, {"method": "phone", "outcome": "催促照片"})
    await flow.act("escalate", staff.agent.headers, {"reason": "客户情绪激动"})
    found = await _deadlines(anon, staff.manager.headers, flow.id)
    # The contact renewed the progress update (cycle 2), the escalation set it to the level-2
    # pace (cycle 3, every 3 working days: seed 002 §5.3.1.5).
    progress, resolution = _by(found, "progress_update", 3), _by(found, "resolution", 2)
    assert (progress["paused"], resolution["paused"]) == (True, True)
    # The sweep is not alone in ignoring them: nothing of this complaint counts as overdue.
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))
    overdue = await anon.get(
        "/api/v1/complaints",
        params={"customer_phone": phone, "overdue": "true"},
        headers=staff.manager.headers,
    )
    assert overdue.json()["items"] == []
    # The customer answers on Friday at 15:00: the pause is not counted — for the resolution
    # all of it, 8 + 6 working hours from Thursday 10:00 (the level change keeps the pause's
    # start); for the progress update, planned at 11:00 during the pause, 7 + 6.
    clock.set(datetime(2026, 10, 9, 15, 0, tzinfo=SHANGHAI))
    await flow.act("customer_responded", staff.manager.headers, {"summary": "照片已收到"})
    found = await _deadlines(anon, staff.manager.headers, flow.id)
    resumed = _by(found, "resolution", 2)
    assert resumed["paused"] is False
    # Counted from registration (SPEC §4), moved by the whole pause (SPEC §4: 等待客户 does
    # not count), including the hour before the escalation.
    registered = datetime(2026, 9, 30, 14, 0, tzinfo=SHANGHAI)
    assert working_hours_between(datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI), clock.now) == 14
    level2_due = plus_working_hours(nth_working_day_end(registered, 7), 14)
    assert datetime.fromisoformat(resumed["due_at"]) == level2_due
    renewed = _by(found, "progress_update", 3)
    assert datetime.fromisoformat(renewed["due_at"]) == plus_working_hours(
        nth_working_day_end(during, 3), 13
    )


def working_hours_between(a: datetime, b: datetime) -> int:
    """Whole working hours (09:00–18:00 on chinesecalendar's working days) from `a` to `b`,
    both on the hour: an independent count, not the code under test."""
    hours, at = 0, a.astimezone(SHANGHAI)
    while at < b:
        if chinese_calendar.is_workday(at.date()) and 9 <= at.hour < 18:
            hours += 1
        at += timedelta(hours=1)
    return hours


async def test_a_level_rise_after_a_pause_keeps_the_paused_time(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    """SPEC §4 (等待客户 does not count; level 2 counted from registration, also after a
    level rise): the case awaited the customer Thursday 10:00 → Friday 15:00 (8 + 6 = 14
    working hours) and is escalated the next Monday. The level-2 resolution is registration
    + 7 working days + those 14 working hours: the customer's waiting is not counted against
    the handler because the level rose."""
    registered = clock.now
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    paused, answered = (
        datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI),  # Thursday
        datetime(2026, 10, 9, 15, 0, tzinfo=SHANGHAI),  # Friday
    )
    assert working_hours_between(paused, answered) == 14
    clock.set(paused)
    await flow.act("await_customer", staff.agent.headers, {"reason": "等待照片"})
    clock.set(answered)
    await flow.act("customer_responded", staff.agent.headers, {"summary": "照片已收到"})
    clock.set(datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI))  # Monday
    await flow.act("escalate", staff.agent.headers, {"reason": "客户情绪激动"})
    found = await _deadlines(anon, staff.manager.headers, flow.id)
    assert _by(found, "resolution", 1)["status"] == "cancelled"
    level2 = _by(found, "resolution", 2)
    assert (level2["status"], level2["paused"]) == ("pending", False)
    assert datetime.fromisoformat(level2["started_at"]) == registered
    assert datetime.fromisoformat(level2["due_at"]) == plus_working_hours(
        nth_working_day_end(registered, 7), 14
    )


async def test_a_level_rise_during_a_pause_starts_paused_from_the_pause(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    """SPEC §4: a first pause (Thursday 10:00 → Friday 15:00, 14 working hours) is carried
    into the level-2 resolution; escalated during a second pause (from Monday 09:00, at
    12:00), the new resolution starts paused from the pause's own start — its time left is
    counted from 09:00 — and the customer's answer on Tuesday 09:00 adds the whole second
    pause (9 working hours), not only the part since the escalation."""
    registered = clock.now
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    first = (
        datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI),
        datetime(2026, 10, 9, 15, 0, tzinfo=SHANGHAI),
    )
    second = (
        datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI),  # Monday
        datetime(2026, 10, 13, 9, 0, tzinfo=SHANGHAI),  # Tuesday
    )
    assert (working_hours_between(*first), working_hours_between(*second)) == (14, 9)
    for start, end in (first, second):
        clock.set(start)
        await flow.act("await_customer", staff.agent.headers, {"reason": "等待照片"})
        if end is second[1]:
            break
        clock.set(end)
        await flow.act("customer_responded", staff.agent.headers, {"summary": "照片已收到"})
    clock.set(datetime(2026, 10, 12, 12, 0, tzinfo=SHANGHAI))
    await flow.act("escalate", staff.agent.headers, {"reason": "客户情绪激动"})
    level2 = _by(await _deadlines(anon, staff.manager.headers, flow.id), "resolution", 2)
    due_after_first = plus_working_hours(nth_working_day_end(registered, 7), 14)
    assert level2["paused"] is True
    assert datetime.fromisoformat(level2["due_at"]) == due_after_first
    # Paused since 09:00: the time left is what remained at 09:00, not at 12:00.
    assert level2["remaining_seconds"] == 3600 * working_hours_between(second[0], due_after_first)
    clock.set(second[1])
    await flow.act("customer_responded", staff.agent.headers, {"summary": "照片已收到"})
    resumed = _by(await _deadlines(anon, staff.manager.headers, flow.id), "resolution", 2)
    assert resumed["paused"] is False
    assert datetime.fromisoformat(resumed["due_at"]) == plus_working_hours(
        nth_working_day_end(registered, 7), 14 + 9
    )


async def test_a_withdrawn_regulator_case_owes_no_deadline(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    created = (
        await anon.post("/api/v1/complaints", json=_regulator_case(), headers=staff.agent.headers)
    ).json()
    before = await _deadlines(anon, staff.director.headers, created["id"])
    assert _by(before, "regulator_reply")["status"] == "pending"
    flow = Flow(anon, created)
    await flow.act("withdraw", staff.director.headers, {"reason": "消费者撤回投诉"})
    found = await _deadlines(anon, staff.director.headers, flow.id)
    assert {d["status"] for d in found} <= {"met", "cancelled"}
    assert _by(found, "regulator_reply")["status"] == "cancelled"
    clock.set(datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI))  # long after every due time
    overdue = await anon.get(
        "/api/v1/complaints",
        params={"customer_phone": created["customer"]["phone"], "overdue": "true"},
        headers=staff.director.headers,
    )
    assert overdue.json()["items"] == []


async def test_invalid_cancels_what_is_left_and_reopening_plans_it_again(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    created = (
        await anon.post("/api/v1/complaints", json=_regulator_case(), headers=staff.agent.headers)
    ).json()
    flow = Flow(anon, created)
    director = staff.director.headers
    await flow.act("assign", director, {"assignee_id": staff.director.id})
    await flow.act("start_investigation", director, {})
    await flow.act(
        "record_findings",
        director,
        {"findings": "用户自行拆机导致损坏", "responsibility": "customer"},
    )
    await flow.act("mark_invalid", director, {"explanation": "经核实，损坏系自行拆机所致"})
    found = await _deadlines(anon, director, flow.id)
    assert {d["status"] for d in found} <= {"met", "cancelled"}
    assert _by(found, "regulator_reply")["status"] == "cancelled"
    # Reopened: the resolution, the progress updates and the regulator's reply (still not
    # sent) are owed again, counted from the reopening.
    clock.set(datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI))
    await flow.act("reopen", director, {"reason": "消费者不认可调查结论"})
    found = await _deadlines(anon, director, flow.id)
    pending = {d["stage"]: d for d in found if d["status"] == "pending"}
    assert set(pending) == {"resolution", "progress_update", "regulator_reply"}
    assert pending["regulator_reply"]["cycle"] == 2
    regulator_due = datetime.fromisoformat(pending["regulator_reply"]["due_at"])
    assert regulator_due == nth_working_day_end(clock.now, 10)


async def test_a_level_rise_after_a_reopen_counts_from_the_reopening(
    anon: httpx.AsyncClient, staff: Staff, clock: Clock
) -> None:
    """Seed 002 §5.3.1.6 (a reopened case is filed again, 重新填报《投诉处理单》): marked
    invalid on the day of registration, reopened a month later and escalated the next day,
    the level-2 resolution counts from the reopening (7 working days), not from the
    registration — which would make the case overdue at once for the month it was closed."""
    flow = await register(anon, staff.agent.headers)
    director = staff.director.headers
    await flow.act("assign", director, {"assignee_id": staff.director.id})
    await flow.act("start_investigation", director, {})
    await flow.act(
        "record_findings",
        director,
        {"findings": "用户自行拆机导致损坏", "responsibility": "customer"},
    )
    await flow.act("mark_invalid", director, {"explanation": "经核实，损坏系自行拆机所致"})
    reopened = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
    clock.set(reopened)
    await flow.act("reopen", director, {"reason": "消费者不认可调查结论"})
    found = await _deadlines(anon, director, flow.id)
    [level1] = [d for d in found if d["stage"] == "resolution" and d["status"] == "pending"]
    assert datetime.fromisoformat(level1["due_at"]) == nth_working_day_end(reopened, 3)
    clock.set(datetime(2026, 11, 3, 10, 0, tzinfo=SHANGHAI))
    await flow.act("escalate", director, {"reason": "客户情绪激动"})
    found = await _deadlines(anon, director, flow.id)
    [level2] = [d for d in found if d["stage"] == "resolution" and d["status"] == "pending"]
    assert datetime.fromisoformat(level2["started_at"]) == reopened
    assert datetime.fromisoformat(level2["due_at"]) == nth_working_day_end(reopened, 7)
    assert level2["remaining_seconds"] > 0
