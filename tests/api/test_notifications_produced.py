"""What complaint changes put in the outbox, in the same statement as their events: webhooks for
every event (a subscriber of "*" wants them all), the customer's messages, staff alerts by tier,
recusal respected. Events nobody subscribed to: tests/api/test_webhook_interest.py."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import text

from shared.db.engine import Database
from tests.conftest import Staff
from tests.support import own_app
from tests.support.factories import complaint_body
from tests.support.flow import Flow, register

# A database of this module's own, where one subscriber wants every event: the session's
# database has whatever subscriptions other tests left (tests/support/own_app.py).
settings, app, anon, admin_headers, client, db, staff = own_app.OWN_APP_FIXTURES


@pytest_asyncio.fixture(scope="module", autouse=True)
async def subscriber_of_everything(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = {"description": "全部事件", "url": "https://hooks.example.com/all", "event_types": ["*"]}
    created = await anon.post("/api/v1/webhook-subscriptions", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text


async def _outbox(db: Database, complaint_id: str) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM outbox WHERE complaint_id = :id ORDER BY id"),
            {"id": uuid.UUID(complaint_id)},
        )
        return [dict(r) for r in rows.mappings()]


async def test_registration_acknowledges_the_customer_and_tells_subscribers(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    body = complaint_body()
    created = (await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)).json()
    rows = await _outbox(db, created["id"])
    webhooks = [r for r in rows if r["kind"] == "webhook"]
    messages = [r for r in rows if r["kind"] == "message"]
    assert [w["topic"] for w in webhooks] == ["complaint.registered"]
    assert webhooks[0]["payload"]["reference"] == created["reference"]
    [ack] = messages
    assert ack["audience"] == "customer"
    assert ack["template_key"] == "complaint_acknowledged"
    assert ack["payload"]["reference"] == created["reference"]
    # No personal data in the outbox: the worker looks the address up when it sends.
    for row in rows:
        for secret in (
            body["customer"]["phone"],
            body["customer"]["email"],
            body["customer"]["name"],
        ):
            assert secret not in str(row["payload"])


async def test_no_acknowledgement_when_the_channel_says_not_to(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """The flag is about the acknowledgement only: later replies are still owed."""
    created = (
        await anon.post(
            "/api/v1/complaints",
            json=complaint_body(notify_customer=False),
            headers=staff.agent.headers,
        )
    ).json()
    assert [r["kind"] for r in await _outbox(db, created["id"])] == ["webhook"]
    await Flow(anon, created).act(
        "reply_to_customer", staff.agent.headers, {"text": "您好，我们已收到您的反馈"}
    )
    messages = [r for r in await _outbox(db, created["id"]) if r["kind"] == "message"]
    assert [(r["audience"], r["template_key"]) for r in messages] == [
        ("customer", "progress_update")
    ]


async def test_level3_alerts_directors_at_once_but_never_the_recused_subject(
    anon: httpx.AsyncClient, staff: Staff, db: Database, admin_headers: dict[str, str]
) -> None:
    # Make the recused subject a director for this test's complaint.
    from tests.support.principals import create_user

    director_subject = await create_user(anon, admin_headers, role="director")
    body = complaint_body(
        content="多名顾客集体投诉，已向12315举报并联系媒体曝光",
        subject={"staff_user_id": director_subject.id, "staff_name": "某总监"},
    )
    created = (await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)).json()
    assert created["level"] == 3
    alerts = [r for r in await _outbox(db, created["id"]) if r["template_key"] == "level3_alert"]
    recipients = {str(r["recipient_user_id"]) for r in alerts}
    assert staff.director.id in recipients
    assert director_subject.id not in recipients
    assert all(r["available_at"] == r["created_at"] for r in alerts)  # urgent: at once


async def test_actions_notify_assignee_customer_and_next_tier(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.manager.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act(
        "reply_to_customer",
        staff.handler_quality.headers,
        {"text": "您好，我们正在调查，请耐心等待"},
    )
    await flow.act("escalate", staff.handler_quality.headers, {"reason": "客户情绪激动"})
    rows = await _outbox(db, flow.id)
    by_template = {}
    for row in rows:
        by_template.setdefault(row["template_key"], []).append(row)
    [assignment] = by_template["assignment"]
    assert str(assignment["recipient_user_id"]) == staff.handler_quality.id
    [progress] = by_template["progress_update"]
    assert progress["payload"]["progress_summary"] == "您好，我们正在调查，请耐心等待"
    escalation = {str(r["recipient_user_id"]) for r in by_template["escalation"]}
    assert {staff.handler_quality.id, staff.manager.id} <= escalation
    topics = [r["topic"] for r in rows if r["kind"] == "webhook"]
    assert topics == [
        "complaint.registered",
        "complaint.assigned",
        "complaint.customer_reply_sent",
        "complaint.escalated",
    ]


async def test_forbidden_phrases_never_reach_the_customer(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers)
    response = await flow.act(
        "reply_to_customer", staff.agent.headers, {"text": "这个不关我的事，你找他吧"}, expect=422
    )
    assert "禁忌语言" in response.text


async def test_a_solution_awaiting_approval_is_not_offered_to_the_customer(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """审批: a compensation above the manager's limit reaches the customer once approved, not
    when it is proposed (the customer is never promised what the approver may refuse)."""

    async def offers() -> list[dict[str, Any]]:
        return [
            r
            for r in await _outbox(db, flow.id)
            if r["kind"] == "message" and r["template_key"] == "solution_proposed"
        ]

    flow = await register(anon, staff.agent.headers)
    handler = staff.handler_quality.headers
    await flow.act("assign", staff.manager.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("start_investigation", handler, {})
    proposal = {
        "remedies": [{"type": "compensation", "amount": "800.00"}],
        "description": "补偿您800元误工费",
    }
    await flow.act("propose_solution", handler, proposal)
    assert flow.complaint["solution"]["required_approval"] == "manager"
    assert await offers() == []
    await flow.act("approve_solution", staff.manager.headers, {"comment": "同意"})
    [offer] = await offers()
    assert offer["audience"] == "customer"
    assert offer["payload"]["solution_summary"] == proposal["description"]

    # A solution within the agent's authority is offered as soon as it is proposed.
    other = await register(anon, staff.agent.headers)
    await other.act("assign", staff.manager.headers, {"assignee_id": staff.handler_quality.id})
    await other.act("start_investigation", handler, {})
    await other.act(
        "propose_solution", handler, {"remedies": [{"type": "repair"}], "description": "上门维修"}
    )
    rows = await _outbox(db, other.id)
    assert [
        r["payload"]["solution_summary"] for r in rows if r["template_key"] == "solution_proposed"
    ] == ["上门维修"]
