"""Issue 11 §2, §4, §5 over HTTP: the customer kept informed (seed 002 §5.3.1.3), a level rise
moving the case to the next tier (SPEC §2), repeat complaints by phone, email or category and
linked by hand (seed 002 §4.3.2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.intake_api.deps import get_now
from shared.db.engine import Database
from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile
from tests.support.flow import register
from tests.support.principals import STAFF_PASSWORD, sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2026, 9, 30, 14, 0, tzinfo=SHANGHAI)  # before National Day


def nth_working_day_end(start: datetime, n: int) -> datetime:
    """Counted with chinesecalendar directly: an independent source, not the code under test."""
    day, counted = start.astimezone(SHANGHAI).date(), 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return datetime(day.year, day.month, day.day, 18, tzinfo=SHANGHAI)


def local(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


@pytest.fixture
def fixed_clock(app: FastAPI) -> Iterator[None]:
    app.dependency_overrides[get_now] = lambda: REGISTERED
    yield
    app.dependency_overrides.pop(get_now, None)


async def _messages(db: Database, complaint_id: str, template: str) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT audience, recipient_user_id, payload FROM outbox "
                "WHERE complaint_id = :id AND template_key = :key ORDER BY id"
            ),
            {"id": uuid.UUID(complaint_id), "key": template},
        )
        return [dict(r) for r in rows.mappings()]


async def test_the_acknowledgement_lists_the_stages_and_their_times_seed_002_5_3_1_3(
    anon: httpx.AsyncClient, staff: Staff, db: Database, fixed_clock: None
) -> None:
    """Seed 002 §5.3.1.3: the acknowledgement gives the 受理号 and the stages with their
    approximate times from the SLA policy that applies (level 1: first contact in 1 working
    day, resolution in 3, progress every 5)."""
    flow = await register(anon, staff.agent.headers)
    [ack] = await _messages(db, flow.id, "complaint_acknowledged")
    summary = ack["payload"]["stages_summary"]
    assert f"首次联系客户：{local(nth_working_day_end(REGISTERED, 1))}前" in summary
    assert f"投诉处理：{local(nth_working_day_end(REGISTERED, 3))}前" in summary
    assert "每5个工作日" in summary
    assert ack["payload"]["reference"] == flow.complaint["reference"]


async def test_the_customer_learns_the_handler_and_work_contact_seed_002_5_3_1_3(
    anon: httpx.AsyncClient, staff: Staff, db: Database, admin_headers: dict[str, str]
) -> None:
    """Seed 002 §5.3.1.3: once assigned, the customer is told the handler's name and direct
    work contact (`contact_phone`, set by an admin or the user), never the personal mobile."""
    username = f"agent-{uuid.uuid4().hex[:8]}"
    created = await anon.post(
        "/api/v1/users",
        json={
            "username": username,
            "display_name": "李娜",
            "role": "agent",
            "department": "service",
            "password": STAFF_PASSWORD,
            "mobile": "13912345678",
            "contact_phone": "0571-8888 8888 转 123",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["contact_phone"] == "0571-8888 8888 转 123"
    agent_id = created.json()["id"]
    agent = await sign_in(anon, username, STAFF_PASSWORD)
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.manager.headers, {"assignee_id": agent_id})
    [notice] = await _messages(db, flow.id, "handler_notice")
    assert notice["audience"] == "customer"
    assert notice["payload"]["handler_name"] == "李娜"
    assert notice["payload"]["handler_contact"] == "0571-8888 8888 转 123"
    customer_rows = [
        r
        for key in ("handler_notice", "complaint_acknowledged")
        for r in await _messages(db, flow.id, key)
    ]
    assert all("13912345678" not in str(r["payload"]) for r in customer_rows)

    # The user sets their own line; a personal-looking or malformed value is refused.
    changed = await anon.put(
        "/api/v1/me/contact-phone", json={"contact_phone": "400-800-1234#6"}, headers=agent
    )
    assert changed.status_code == 204, changed.text
    bad = await anon.put(
        "/api/v1/me/contact-phone", json={"contact_phone": "call me"}, headers=agent
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    other = await register(anon, staff.agent.headers)
    await other.act("assign", staff.manager.headers, {"assignee_id": agent_id})
    [again] = await _messages(db, other.id, "handler_notice")
    assert again["payload"]["handler_contact"] == "400-800-1234#6"


async def test_a_level_rise_moves_the_case_to_the_next_tier_spec_2(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """SPEC §2: when the level rises the case moves to the next tier — to its queue, or to the
    person of that tier named — not only a notification; the handler who had it is told."""
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    await flow.act("escalate", staff.agent.headers, {"reason": "客户情绪激动"})
    await flow.refresh(staff.manager.headers)
    assert (flow.complaint["level"], flow.complaint["assignee_id"]) == (2, None)
    told = {str(r["recipient_user_id"]) for r in await _messages(db, flow.id, "escalation")}
    assert {staff.agent.id, staff.manager.id} <= told

    named = await register(anon, staff.agent.headers)
    await named.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    # An agent cannot hold a level-2 case: naming one is refused and nothing is written.
    await named.act(
        "escalate",
        staff.agent.headers,
        {"reason": "升级", "assignee_id": staff.agent2.id},
        expect=422,
    )
    await named.act(
        "escalate", staff.agent.headers, {"reason": "升级", "assignee_id": staff.manager.id}
    )
    await named.refresh(staff.manager.headers)
    assert (named.complaint["level"], named.complaint["assignee_id"]) == (2, staff.manager.id)


async def test_a_repeat_by_category_or_email_is_caught_seed_002_4_3_2(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Seed 002 §4.3.2 (二次投诉), issue 11 §5: the same customer — same phone or same email —
    about the same category within 30 days is a repeat, at least level 2, even with no
    product (a second service complaint); another category is not."""
    phone, email = mobile(), f"zhao.{uuid.uuid4().hex[:8]}@example.com"

    def service_complaint(**customer: str) -> dict[str, Any]:
        body = complaint_body(category="after_sales_service", content="上门维修人员迟到两小时")
        del body["product"]
        body["customer"] = {"name": "赵先生", **customer}
        return body

    first = await anon.post(
        "/api/v1/complaints",
        json=service_complaint(phone=phone, email=email),
        headers=staff.agent.headers,
    )
    assert first.status_code == 201, first.text
    assert (first.json()["level"], first.json()["repeat_of"]) == (1, None)
    second = await anon.post(
        "/api/v1/complaints", json=service_complaint(phone=phone), headers=staff.agent.headers
    )
    assert second.json()["repeat_of"] == first.json()["id"]
    assert second.json()["level"] == 2
    assert "repeat" in second.json()["level_reasons"]
    by_email = await anon.post(
        "/api/v1/complaints",
        json=service_complaint(phone=mobile(), email=email.upper()),
        headers=staff.agent.headers,
    )
    assert by_email.json()["repeat_of"] == first.json()["id"]
    another_matter = complaint_body(category="logistics", content="快递延误")
    del another_matter["product"]
    another_matter["customer"] = {"name": "赵先生", "phone": phone}
    other = await anon.post("/api/v1/complaints", json=another_matter, headers=staff.agent.headers)
    assert other.json()["repeat_of"] is None


async def test_staff_link_and_unlink_a_repeat_seed_002_4_3_2(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Seed 002 §4.3.2: staff link a repeat the automatic check missed (at least level 2, to
    the next tier) and unlink a wrong one (the level stays until triaged)."""
    earlier = await register(anon, staff.agent.headers)
    flow = await register(anon, staff.agent.headers)
    manager = staff.manager.headers
    await flow.act("link_repeat", manager, {"repeat_of": flow.id, "reason": "同一事件"}, expect=422)
    await flow.act(
        "link_repeat", manager, {"repeat_of": str(uuid.uuid4()), "reason": "同一事件"}, expect=422
    )
    await flow.act("link_repeat", manager, {"repeat_of": earlier.id, "reason": "同一事件再次投诉"})
    assert (flow.complaint["repeat_of"], flow.complaint["level"]) == (earlier.id, 2)
    await flow.act("unlink_repeat", manager, {"reason": "并非同一事件"})
    assert (flow.complaint["repeat_of"], flow.complaint["level"]) == (None, 2)
    await flow.act("unlink_repeat", manager, {"reason": "再次"}, expect=409)
    types = [e["type"] for e in await flow.events(manager)]
    assert types[-3:] == [
        "complaint.repeat_linked",
        "complaint.escalated",
        "complaint.repeat_unlinked",
    ]
