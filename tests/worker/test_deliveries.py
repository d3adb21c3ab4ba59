"""The delivery run called directly (services/sla_worker/delivery/run.py) against real
PostgreSQL and Redis, a local webhook receiver, a local SMS gateway and a local SMTP server.

Outbox rows are inserted as the complaint-change producer writes them. Retries do not wait for
the back-off: `make_due` moves a row's next attempt to now."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

from services.sla_worker.delivery.run import run_deliveries
from shared.db.engine import Database
from shared.domain.webhook_secrets import webhook_message_id
from tests.conftest import Staff
from tests.support import own_app
from tests.support.factories import complaint_body, mobile
from tests.support.flow import Flow
from tests.support.principals import create_user
from tests.worker.test_deliveries_receivers import (
    Inbox,
    Receiver,
    deliveries_of,
    insert_outbox,
    insert_subscription,
    isolate_subscriptions,
    make_due,
    message_row,
    outbox_rows,
    registered,
    topic,
    webhook_row,
)

# The session's app, clients, staff and `db` on a database of this module's own: its delivery
# runs would otherwise spend their budget on the other tests' messages (tests/support/own_app.py).
settings, app, anon, admin_headers, client, db, staff = own_app.OWN_APP_FIXTURES


@pytest_asyncio.fixture(autouse=True)
async def _only_our_subscriptions(db: Database) -> None:
    await isolate_subscriptions(db)


async def _attempts(db: Database, outbox_id: int) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM delivery_attempts WHERE outbox_id = :id ORDER BY id"),
            {"id": outbox_id},
        )
        return [dict(r) for r in rows.mappings()]


async def _subscription(db: Database, sid: uuid.UUID) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await conn.execute(
            text("SELECT * FROM webhook_subscriptions WHERE id = :id"), {"id": sid}
        )
        return dict(row.mappings().one())


# --- webhooks ----------------------------------------------------------------------------------


async def test_event_fans_out_to_matching_subscriptions_signed(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event = topic()
    prefix = event.split(".")[0]
    exact = await insert_subscription(db, receiver.url("/ok/exact"), [event])
    wildcard = await insert_subscription(db, receiver.url("/ok/wild"), [f"{prefix}.*"])
    await insert_subscription(db, receiver.url("/ok/other"), [f"{prefix}.other"])
    await insert_subscription(db, receiver.url("/ok/inactive"), [event], active=False)
    [oid] = await insert_outbox(db, [webhook_row(event, complaint_id="c-1", seq=3, level=2)])

    counts = await run_deliveries(make_runtime())

    assert counts["webhook_delivered"] >= 2
    exact_hits, wild_hits = receiver.on("/ok/exact"), receiver.on("/ok/wild")
    assert len(exact_hits) == 1
    assert len(wild_hits) == 1
    assert receiver.on("/ok/other") == []
    assert receiver.on("/ok/inactive") == []
    assert all(h.verified for h in exact_hits + wild_hits)
    assert exact_hits[0].data == {"event_type": event, "complaint_id": "c-1", "seq": 3, "level": 2}
    # One delivery per subscription, each with its own stable webhook-id.
    rows = await deliveries_of(db, [oid])
    assert {r["subscription_id"] for r in rows} == {exact, wildcard}
    assert {webhook_message_id(r["webhook_id"]) for r in rows} == {
        exact_hits[0].webhook_id,
        wild_hits[0].webhook_id,
    }
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows)
    assert (await outbox_rows(db, [oid]))[oid]["status"] == "dispatched"
    log = await _attempts(db, oid)
    assert [(a["outcome"], a["status_code"]) for a in log] == [("delivered", 204)] * 2


async def test_event_without_subscriber_is_skipped(db: Database, make_runtime: Any) -> None:
    [oid] = await insert_outbox(db, [webhook_row(topic())])
    await run_deliveries(make_runtime())
    row = (await outbox_rows(db, [oid]))[oid]
    assert row["status"] == "skipped"
    assert "no active webhook subscription" in row["last_error"]


async def test_500_is_retried_on_the_schedule_with_the_same_webhook_id(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event, name = topic(), uuid.uuid4().hex[:8]
    receiver.fail_first[name] = 2
    await insert_subscription(db, receiver.url(f"/flaky/{name}"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event, n=1)])
    runtime = make_runtime()

    before = datetime.now(UTC)
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [oid])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    assert (
        before + timedelta(seconds=5)
        <= delivery["next_attempt_at"]
        <= before + timedelta(seconds=7)
    )
    await run_deliveries(runtime)  # not due yet: nothing is sent
    assert len(receiver.on(f"/flaky/{name}")) == 1

    await make_due(db, "webhook_deliveries", [delivery["id"]])
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [oid])
    assert delivery["attempts"] == 2
    # The second step of the schedule: 5 minutes.
    wait = delivery["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(minutes=4) < wait <= timedelta(minutes=5)

    await make_due(db, "webhook_deliveries", [delivery["id"]])
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [oid])
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    hits = receiver.on(f"/flaky/{name}")
    assert len(hits) == 3
    assert {h.webhook_id for h in hits} == {webhook_message_id(delivery["webhook_id"])}
    assert all(h.verified for h in hits)
    log = await _attempts(db, oid)
    assert [a["attempt"] for a in log] == [1, 2, 3]
    assert [a["status_code"] for a in log] == [500, 500, 204]


async def test_429_retry_after_is_honoured(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event = topic()
    await insert_subscription(db, receiver.url("/status/429?retry_after=120"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    await run_deliveries(make_runtime())
    [delivery] = await deliveries_of(db, [oid])
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] == 429
    wait = delivery["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=110) < wait <= timedelta(seconds=120)


async def test_410_disables_the_subscription(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event = topic()
    sid = await insert_subscription(db, receiver.url("/status/410"), [event])
    [first] = await insert_outbox(db, [webhook_row(event)])
    runtime = make_runtime()
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [first])
    assert (delivery["status"], delivery["last_status_code"]) == ("dead", 410)
    subscription = await _subscription(db, sid)
    assert subscription["active"] is False
    assert "410" in subscription["disabled_reason"]

    hits = len(receiver.on("/status/410"))
    [second] = await insert_outbox(db, [webhook_row(event)])
    await run_deliveries(runtime)
    assert len(receiver.on("/status/410")) == hits
    assert (await outbox_rows(db, [second]))[second]["status"] == "skipped"


async def test_redirect_is_not_followed(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event = topic()
    await insert_subscription(db, receiver.url("/redirect"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    followed = len(receiver.on("/ok/redirected"))
    await run_deliveries(make_runtime())
    [delivery] = await deliveries_of(db, [oid])
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] == 307
    assert "redirect" in delivery["last_error"]
    assert len(receiver.on("/ok/redirected")) == followed


async def test_hanging_receiver_times_out_and_other_deliveries_go_on(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event = topic()
    hanging = await insert_subscription(db, receiver.url("/hang"), [event])
    await insert_subscription(db, receiver.url("/ok/beside-hang"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    started = asyncio.get_running_loop().time()
    await run_deliveries(make_runtime(webhook_timeout=0.5))
    assert asyncio.get_running_loop().time() - started < 5
    by_status = {r["status"]: r for r in await deliveries_of(db, [oid])}
    assert set(by_status) == {"pending", "delivered"}
    assert "timed out" in by_status["pending"]["last_error"]
    assert by_status["pending"]["attempts"] == 1
    # Its retry must not reach /hang during a later test of this module, which counts the
    # requests there: the subscription is disabled, so the retry is skipped unsent.
    async with db.connect() as conn:
        await conn.execute(
            text("UPDATE webhook_subscriptions SET active = false WHERE id = :id"),
            {"id": hanging},
        )


async def test_dead_letter_when_the_schedule_is_spent(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    event = topic()
    await insert_subscription(db, receiver.url("/status/503"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    runtime = make_runtime()
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [oid])
    # Seven failures already (the whole schedule, about 41 hours): the eighth is the last.
    async with db.connect() as conn:
        await conn.execute(
            text("UPDATE webhook_deliveries SET attempts = 7 WHERE id = :id"),
            {"id": delivery["id"]},
        )
    await make_due(db, "webhook_deliveries", [delivery["id"]])
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [oid])
    assert (delivery["status"], delivery["attempts"]) == ("dead", 8)
    assert delivery["last_error"].startswith("gave up after 8 attempts")


async def test_ssrf_is_checked_again_at_send_time(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    """Saved while loopback was allowed, sent after the allow list changed: refused, nothing
    reaches the receiver. A metadata address is refused whatever the list says."""
    event = topic()
    await insert_subscription(db, receiver.url("/ok/ssrf"), [event])
    await insert_subscription(db, "http://169.254.169.254/latest/meta-data", [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    await run_deliveries(make_runtime(webhook_allow=()))
    rows = await deliveries_of(db, [oid])
    assert [r["status"] for r in rows] == ["dead", "dead"]
    assert all("forbidden address" in r["last_error"] for r in rows)
    assert receiver.on("/ok/ssrf") == []
    assert [a["outcome"] for a in await _attempts(db, oid)] == ["refused", "refused"]


async def test_two_runs_at_once_deliver_each_event_once(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    """arq may run the cron twice at once (#196): SKIP LOCKED claims split the work."""
    event, name = topic(), uuid.uuid4().hex[:8]
    await insert_subscription(db, receiver.url(f"/slow/{name}"), [event])
    ids = await insert_outbox(db, [webhook_row(event, n=i) for i in range(40)])
    first, second = make_runtime(batch_size=7), make_runtime(batch_size=7)
    await asyncio.gather(run_deliveries(first), run_deliveries(second))
    hits = receiver.on(f"/slow/{name}")
    assert sorted(h.data["n"] for h in hits) == list(range(40))
    assert {r["status"] for r in await deliveries_of(db, ids)} == {"delivered"}
    workers = {a["worker"] for oid in ids[:40] for a in await _attempts(db, oid)}
    assert workers == {first.worker_id, second.worker_id}


# --- messages (SMS / email) ----------------------------------------------------------------------


async def test_customer_acknowledgement_by_sms_resolves_the_phone_at_send_time(
    db: Database, client: httpx.AsyncClient, receiver: Receiver, make_runtime: Any
) -> None:
    phone = mobile()
    complaint = await registered(client, db, customer={"name": "王芳", "phone": phone})
    row = message_row("complaint_acknowledged", audience="customer", complaint_id=complaint["id"])
    [oid] = await insert_outbox(db, [row])
    await run_deliveries(make_runtime())
    sent = [s for s in receiver.sms if s["to"] == f"+86{phone}"]
    assert len(sent) == 1
    assert complaint["reference"] in sent[0]["text"]
    assert "示例电器" in sent[0]["text"]
    stored = (await outbox_rows(db, [oid]))[oid]
    assert sent[0]["idempotency_key"] == str(stored["message_id"])
    assert stored["status"] == "delivered"
    assert stored["attempts"] == 1
    [attempt] = await _attempts(db, oid)
    assert (attempt["channel"], attempt["outcome"]) == ("sms", "delivered")
    # No personal data in the outbox row or the delivery log.
    assert phone not in str(stored)
    assert phone not in str(attempt)


async def test_a_full_global_send_cap_leaves_messages_unclaimed(
    db: Database, client: httpx.AsyncClient, receiver: Receiver, make_runtime: Any
) -> None:
    """The cap has room for two: two are sent, the others stay as they were — pending, due,
    never leased nor deferred (no row written while they wait) — and go in a later run."""
    complaints = [
        await registered(client, db, customer={"name": "王芳", "phone": mobile()}) for _ in range(5)
    ]
    rows = [
        message_row("complaint_acknowledged", audience="customer", complaint_id=c["id"])
        for c in complaints
    ]
    ids = await insert_outbox(db, rows)
    before = await outbox_rows(db, ids)
    runtime = make_runtime(global_cap="2/minute")
    totals = await run_deliveries(runtime)
    assert totals.get("message_delivered") == 2
    assert "message_deferred" not in totals
    after = await outbox_rows(db, ids)
    waiting = [oid for oid in ids if after[oid]["status"] == "pending"]
    assert len(waiting) == 3
    for oid in waiting:  # untouched: the same row as before the run
        assert after[oid] == before[oid]

    # The cap is full: a run claims nothing at all.
    assert not any((await run_deliveries(runtime)).values())
    assert await outbox_rows(db, waiting) == {oid: before[oid] for oid in waiting}

    # Room again (another worker's cap here): the rest go, in order.
    await run_deliveries(make_runtime(global_cap="10/minute"))
    assert {r["status"] for r in (await outbox_rows(db, ids)).values()} == {"delivered"}


async def test_customer_without_phone_gets_email(
    db: Database, client: httpx.AsyncClient, smtp: tuple[int, Inbox], make_runtime: Any
) -> None:
    address = f"kehu-{uuid.uuid4().hex[:8]}@example.com"
    complaint = await registered(client, db, customer={"name": "李雷", "email": address})
    row = message_row(
        "survey_invitation",
        audience="customer",
        complaint_id=complaint["id"],
        survey_url="https://kesu.example/s/abc",
    )
    [oid] = await insert_outbox(db, [row])
    await run_deliveries(make_runtime())
    [envelope] = smtp[1].to(address)
    assert envelope.original_content is not None
    message = envelope.original_content.decode("ascii")
    assert "Auto-Submitted: auto-generated" in message
    stored = (await outbox_rows(db, [oid]))[oid]
    assert f"<{stored['message_id']}@kesu.example>" in message
    assert stored["status"] == "delivered"


async def test_staff_email_and_recusal(
    db: Database,
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    client: httpx.AsyncClient,
    smtp: tuple[int, Inbox],
    make_runtime: Any,
) -> None:
    handler = await create_user(anon, admin_headers, role="handler", department="quality")
    accused = await create_user(anon, admin_headers, role="agent")
    emails = {}
    for account in (handler, accused):
        emails[account.id] = f"{account.name}@staff.example"
        response = await anon.patch(
            f"/api/v1/users/{account.id}",
            json={"email": emails[account.id]},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["email"] == emails[account.id]
    complaint = await registered(
        client, db, subject={"staff_user_id": accused.id, "staff_name": "张三"}
    )
    rows = [
        message_row(
            "assignment",
            audience="staff",
            complaint_id=complaint["id"],
            recipient_user_id=recipient,
            due_at_local="2026年11月27日 18:00",
        )
        for recipient in (handler.id, accused.id)
    ]
    to_handler, to_accused = await insert_outbox(db, rows)
    await run_deliveries(make_runtime())
    stored = await outbox_rows(db, [to_handler, to_accused])
    assert stored[to_handler]["status"] == "delivered"
    assert len(smtp[1].to(emails[handler.id])) == 1
    assert stored[to_accused]["status"] == "skipped"
    assert "recusal" in stored[to_accused]["last_error"]
    assert smtp[1].to(emails[accused.id]) == []


async def test_refused_address_is_dead_lettered_without_the_address_in_the_log(
    db: Database, client: httpx.AsyncClient, make_runtime: Any
) -> None:
    address = f"nobody@{uuid.uuid4().hex[:8]}.example"
    complaint = await registered(client, db, customer={"name": "韩梅梅", "email": address})
    row = message_row("complaint_acknowledged", audience="customer", complaint_id=complaint["id"])
    [oid] = await insert_outbox(db, [row])
    await run_deliveries(make_runtime())
    stored = (await outbox_rows(db, [oid]))[oid]
    assert stored["status"] == "dead"
    assert "550" in stored["last_error"]
    assert "<recipient>" in stored["last_error"]
    [attempt] = await _attempts(db, oid)
    assert address not in stored["last_error"]
    assert address not in (attempt["error"] or "")


async def test_template_override_is_used(
    db: Database, client: httpx.AsyncClient, receiver: Receiver, make_runtime: Any
) -> None:
    phone = mobile()
    complaint = await registered(client, db, customer={"name": "王芳", "phone": phone})
    async with db.connect() as conn:
        version = await conn.execute(
            text(
                "SELECT coalesce(max(version), 0) + 1 FROM notification_templates "
                "WHERE key = 'progress_update'"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO notification_templates (key, version, subject, body, created_at) "
                "VALUES ('progress_update', :v, '进度', :body, now())"
            ),
            {
                "v": version.scalar_one(),
                "body": "您好！受理号 {reference} 最新进度：{progress_summary}。谢谢您！",
            },
        )
    try:
        row = message_row(
            "progress_update",
            audience="customer",
            complaint_id=complaint["id"],
            progress_summary="质量部已收到样品",
        )
        await insert_outbox(db, [row])
        await run_deliveries(make_runtime())
        [sent] = [s for s in receiver.sms if s["to"] == f"+86{phone}"]
        assert (
            sent["text"]
            == f"您好！受理号 {complaint['reference']} 最新进度：质量部已收到样品。谢谢您！"
        )
    finally:
        async with db.connect() as conn:
            await conn.execute(
                text("DELETE FROM notification_templates WHERE key = 'progress_update'")
            )


async def test_missing_placeholder_value_is_dead_lettered(
    db: Database, client: httpx.AsyncClient, make_runtime: Any
) -> None:
    complaint = await registered(client, db)
    # progress_update needs progress_summary, which this producer forgot.
    row = message_row("progress_update", audience="customer", complaint_id=complaint["id"])
    [oid] = await insert_outbox(db, [row])
    await run_deliveries(make_runtime())
    stored = (await outbox_rows(db, [oid]))[oid]
    assert stored["status"] == "dead"
    assert "progress_summary" in stored["last_error"]


async def test_send_cap_defers_without_spending_an_attempt(
    db: Database, client: httpx.AsyncClient, receiver: Receiver, make_runtime: Any
) -> None:
    phone = mobile()
    complaint = await registered(client, db, customer={"name": "王芳", "phone": phone})
    rows = [
        message_row("complaint_acknowledged", audience="customer", complaint_id=complaint["id"])
        for _ in range(2)
    ]
    first, second = await insert_outbox(db, rows)
    await run_deliveries(make_runtime(per_recipient="1/hour", concurrency=1))
    stored = await outbox_rows(db, [first, second])
    assert stored[first]["status"] == "delivered"
    assert (stored[second]["status"], stored[second]["attempts"]) == ("pending", 0)
    assert stored[second]["next_attempt_at"] > datetime.now(UTC) + timedelta(minutes=50)
    assert len([s for s in receiver.sms if s["to"] == f"+86{phone}"]) == 1


async def test_lease_expiry_brings_back_a_crashed_claim(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    """A worker that claimed and died: nothing happens until its lease runs out, then the
    delivery goes out with the same webhook-id."""
    from shared.db import outbox as repo

    event, name = topic(), uuid.uuid4().hex[:8]
    await insert_subscription(db, receiver.url(f"/ok/{name}"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    runtime = make_runtime()
    async with db.connect() as conn:
        now = datetime.now(UTC)
        await repo.fan_out_webhooks(conn, now=now, limit=10)
        claimed = await repo.claim_webhook_deliveries(
            conn,
            repo.Lease(now=now, until=now + timedelta(minutes=1), worker="crashed", limit=1000),
        )
    assert oid in {c["outbox_id"] for c in claimed}
    await run_deliveries(runtime)
    assert receiver.on(f"/ok/{name}") == []  # leased by the dead worker
    async with db.connect() as conn:
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET lease_expires_at = now() - interval '1 second' "
                "WHERE outbox_id = :id"
            ),
            {"id": oid},
        )
    await run_deliveries(runtime)
    [delivery] = await deliveries_of(db, [oid])
    [hit] = receiver.on(f"/ok/{name}")
    assert delivery["status"] == "delivered"
    assert hit.webhook_id == webhook_message_id(delivery["webhook_id"])


# --- end to end with the producer ----------------------------------------------------------------


def _text_of(envelope: Any) -> str:
    message = message_from_bytes(envelope.original_content, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body()
    assert body is not None
    return f"{message['Subject']}\n{body.get_content()}"


async def test_what_complaint_changes_owe_is_delivered_readably(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    staff: Staff,
    db: Database,
    receiver: Receiver,
    smtp: tuple[int, Inbox],
    make_runtime: Any,
) -> None:
    """Rows written by the producer itself (registration, assignment, a progress reply, an
    escalation): the customer gets SMS, the handler emails with labels, not codes."""
    handler_email = f"{staff.handler_quality.name}@staff.example"
    response = await anon.patch(
        f"/api/v1/users/{staff.handler_quality.id}",
        json={"email": handler_email},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    phone = mobile()
    body = complaint_body(customer={"name": "王芳", "phone": phone}, category="product_quality")
    created = await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)
    assert created.status_code == 201, created.text
    flow = Flow(anon, created.json())
    await flow.act("assign", staff.manager.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act(
        "reply_to_customer", staff.handler_quality.headers, {"text": "质量部已收到样品，正在检测"}
    )
    await flow.act("escalate", staff.handler_quality.headers, {"reason": "客户情绪激动"})
    complaint_id, reference = flow.id, created.json()["reference"]
    async with db.connect() as conn:
        # Staff alerts wait for working hours; this test does not wait for Monday morning.
        await conn.execute(
            text("UPDATE outbox SET available_at = now() WHERE complaint_id = :id"),
            {"id": uuid.UUID(complaint_id)},
        )
    await run_deliveries(make_runtime())

    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT kind, template_key, status, last_error FROM outbox "
                "WHERE complaint_id = :id ORDER BY id"
            ),
            {"id": uuid.UUID(complaint_id)},
        )
        statuses = [tuple(r) for r in rows]
    assert all(status != "pending" and status != "dead" for _, _, status, _ in statuses), statuses
    sms = [s["text"] for s in receiver.sms if s["to"] == f"+86{phone}"]
    # The acknowledgement, the handler (seed 002 §5.3.1.3) and the reply, in any order.
    assert len(sms) == 3
    [ack] = [t for t in sms if "示例电器" in t]
    assert reference in ack
    assert "首次联系客户" in ack  # the stages and their times
    assert len([t for t in sms if "负责跟进处理" in t]) == 1
    assert len([t for t in sms if "质量部已收到样品，正在检测" in t]) == 1
    mails = [_text_of(e) for e in smtp[1].to(handler_email)]
    assignment = next(m for m in mails if m.startswith("【新投诉分派】"))
    assert "一级投诉（普通投诉）" in assignment
    assert "质量部" in assignment
    assert "年" in assignment.split("请于", 1)[1]  # the first-contact deadline, local time
    escalation = next(m for m in mails if m.startswith("【投诉升级】"))
    assert "由一级投诉（普通投诉）升级为二级投诉（较严重投诉）" in escalation
    assert "客户情绪激动" in escalation
    for mail in mails:
        assert "None" not in mail
        assert phone not in mail  # staff never receive the customer's contact data


async def test_a_cancelled_run_hands_its_batch_back(
    db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    """SIGTERM past arq's grace period cancels the job: the rows in hand are released at once
    (not after their lease) and the next run sends them, with the same webhook-id."""
    event = topic()
    await insert_subscription(db, receiver.url("/hang"), [event])
    [oid] = await insert_outbox(db, [webhook_row(event)])
    before = len(receiver.on("/hang"))
    run = asyncio.create_task(run_deliveries(make_runtime(webhook_timeout=30.0)))
    deadline = asyncio.get_running_loop().time() + 10
    while len(receiver.on("/hang")) == before:  # until the request is in flight
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    [delivery] = await deliveries_of(db, [oid])
    assert delivery["status"] == "pending"
    assert delivery["lease_expires_at"] is None
    assert delivery["attempts"] == 0
    await run_deliveries(make_runtime(webhook_timeout=0.3))
    hits = receiver.on("/hang")[before:]
    assert len(hits) == 2
    assert hits[0].webhook_id == hits[1].webhook_id
