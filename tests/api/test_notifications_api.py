"""Notification administration through the API: webhook subscriptions (SSRF refused at save
time), templates (validated, versioned, restorable), the outbox (dead letters and replay, with
the real delivery job), the ops status, staff contact fields, permissions and audit."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks import Webhook

from services.intake_api.app import create_app
from services.intake_api.auth.secrets import survey_token
from services.sla_worker.delivery import HttpSmsGateway, new_webhook_client
from services.sla_worker.delivery.message_deliveries import resume_waiting
from services.sla_worker.delivery.run import run_deliveries
from services.sla_worker.delivery.runtime import DeliveryConfig, DeliveryRuntime
from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import Staff, make_settings
from tests.support import own_app
from tests.support.factories import mobile
from tests.support.principals import (
    Account,
    create_user,
)
from tests.support.resolution import resolve_through_api
from tests.worker.test_deliveries_receivers import (
    Receiver,
    forget_producer_rows,
    insert_outbox,
    isolate_subscriptions,
    message_row,
    serve_receiver,
    topic,
    webhook_row,
)

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions"
TEMPLATES = "/api/v1/notification-templates"


# The session's app, clients, staff and `db` on a database of this module's own: its delivery
# runs would otherwise spend their budget on the other tests' messages (tests/support/own_app.py).
settings, app, anon, admin_headers, client, db, staff = own_app.OWN_APP_FIXTURES


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as r:
        yield r


@pytest_asyncio.fixture(scope="module")
async def allow_loopback(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same deployment with KESU_WEBHOOK_ALLOW=127.0.0.1/32 (an intranet receiver)."""
    allowed = make_settings(
        settings.require_database_url(),
        settings.require_redis_url(),
        webhook_allow="127.0.0.1/32",
        jwt_secret=settings.jwt_secret,
        redis_prefix=settings.redis_prefix,
        queue_name=settings.queue_name,
    )
    application: FastAPI = create_app(allowed)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            yield c


@pytest_asyncio.fixture(scope="module")
async def auditor(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Account:
    return await create_user(anon, admin_headers, role="auditor")


@pytest_asyncio.fixture
async def runtime(db: Database) -> AsyncIterator[DeliveryRuntime]:
    await isolate_subscriptions(db)
    runtime = DeliveryRuntime(
        db=db,
        http=new_webhook_client(),
        config=DeliveryConfig(webhook_allow=("127.0.0.1/32",), webhook_timeout=2.0),
        worker_id="api-test",
    )
    yield runtime
    await runtime.http.aclose()


async def _audited(anon: httpx.AsyncClient, admin: dict[str, str], action: str, target: str) -> int:
    response = await anon.get(
        "/api/v1/audit-events", params={"action": action, "target_id": target}, headers=admin
    )
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


# --- webhook subscriptions ---------------------------------------------------------------------


async def test_subscription_lifecycle_secret_shown_once(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "description": "工单系统-升级提醒",
        "url": "https://hooks.example.com/kesu?token=abc",
        "event_types": ["complaint.escalated", "deadline.*", "complaint.escalated"],
    }
    created = await anon.post(SUBSCRIPTIONS, json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    sub = created.json()
    assert sub["secret"].startswith("whsec_")
    assert sub["event_types"] == ["complaint.escalated", "deadline.*"]
    assert created.headers["location"] == f"{SUBSCRIPTIONS}/{sub['id']}"

    listed = await anon.get(SUBSCRIPTIONS, headers=admin_headers)
    assert sub["id"] in {s["id"] for s in listed.json()["items"]}
    assert sub["secret"] not in listed.text
    one = await anon.get(f"{SUBSCRIPTIONS}/{sub['id']}", headers=admin_headers)
    assert "secret" not in one.json()

    patched = await anon.patch(
        f"{SUBSCRIPTIONS}/{sub['id']}",
        json={"event_types": ["*"], "active": False},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["event_types"], patched.json()["active"]) == (["*"], False)

    rotated = await anon.post(f"{SUBSCRIPTIONS}/{sub['id']}/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (sub["secret"], None)

    deleted = await anon.delete(f"{SUBSCRIPTIONS}/{sub['id']}", headers=admin_headers)
    assert deleted.status_code == 204
    gone = await anon.get(f"{SUBSCRIPTIONS}/{sub['id']}", headers=admin_headers)
    assert gone.status_code == 404
    for action in ("create", "update", "rotate_secret", "delete"):
        count = await _audited(anon, admin_headers, f"webhook_subscription.{action}", sub["id"])
        assert count == 1, action
    # Audit details name the host, never the URL's token nor the secret.
    audit = await anon.get(
        "/api/v1/audit-events", params={"target_id": sub["id"]}, headers=admin_headers
    )
    assert "abc" not in json.dumps(audit.json()["items"][-1]["details"])
    assert sub["secret"] not in audit.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://[::1]/hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "ftp://hooks.example.com/x",
        "http://user:secret@hooks.example.com/x",
        "file:///etc/passwd",
        "http://hooks.example.com\\@127.0.0.1/",
    ],
)
async def test_ssrf_refused_at_save_time(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], url: str
) -> None:
    body = {"description": "SSRF 尝试", "url": url, "event_types": ["*"]}
    response = await anon.post(SUBSCRIPTIONS, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "url"]


async def test_ssrf_refused_when_changing_the_url(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"description": "公网回调", "url": "https://hooks.example.com/a", "event_types": ["*"]}
    sub = (await anon.post(SUBSCRIPTIONS, json=body, headers=admin_headers)).json()
    try:
        response = await anon.patch(
            f"{SUBSCRIPTIONS}/{sub['id']}",
            json={"url": "http://127.0.0.1:6379/"},
            headers=admin_headers,
        )
        assert response.status_code == 422
    finally:
        await anon.delete(f"{SUBSCRIPTIONS}/{sub['id']}", headers=admin_headers)


async def test_allow_list_permits_an_intranet_receiver(
    allow_loopback: httpx.AsyncClient, anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"description": "内网回调", "url": "http://127.0.0.1:9/hook", "event_types": ["x.*"]}
    assert (await anon.post(SUBSCRIPTIONS, json=body, headers=admin_headers)).status_code == 422
    allowed = await allow_loopback.post(SUBSCRIPTIONS, json=body, headers=admin_headers)
    assert allowed.status_code == 201, allowed.text
    # The metadata service is still refused: only 127.0.0.1/32 was allowed.
    metadata = {**body, "url": "http://169.254.169.254/"}
    refused = await allow_loopback.post(SUBSCRIPTIONS, json=metadata, headers=admin_headers)
    assert refused.status_code == 422
    await anon.delete(f"{SUBSCRIPTIONS}/{allowed.json()['id']}", headers=admin_headers)


@pytest.mark.parametrize("pattern", ["", "Complaint.x", "complaint.**", "complaint*", "a..b"])
async def test_bad_event_patterns_refused(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], pattern: str
) -> None:
    body = {"description": "x", "url": "https://hooks.example.com/a", "event_types": [pattern]}
    response = await anon.post(SUBSCRIPTIONS, json=body, headers=admin_headers)
    assert response.status_code == 422


async def test_only_admins_manage_and_auditors_read(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], auditor: Account
) -> None:
    body = {"description": "x", "url": "https://hooks.example.com/a", "event_types": ["*"]}
    assert (await anon.post(SUBSCRIPTIONS, json=body, headers=auditor.headers)).status_code == 403
    assert (await anon.post(SUBSCRIPTIONS, json=body)).status_code == 401
    assert (await anon.get("/api/v1/outbox", headers=auditor.headers)).status_code == 200
    assert (await anon.get(TEMPLATES, headers=auditor.headers)).status_code == 200
    assert (await anon.get("/api/v1/ops/status", headers=auditor.headers)).status_code == 200
    put = await anon.put(
        f"{TEMPLATES}/result_notice", json={"subject": "x", "body": "y"}, headers=auditor.headers
    )
    assert put.status_code == 403
    replay = await anon.post("/api/v1/outbox/1/replay", headers=auditor.headers)
    assert replay.status_code == 403


# --- templates ---------------------------------------------------------------------------------


async def test_templates_list_defaults(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await anon.get(TEMPLATES, headers=admin_headers)
    assert response.status_code == 200
    templates = {t["key"]: t for t in response.json()["items"]}
    assert len(templates) == 15  # + issue 11's management_review, handler, overrun, group
    # 定期报表 (SPEC §6): e-mail only, the report's title and period.
    assert templates["report_ready"]["channels"] == ["email"]
    # 提交总经理例会 (seed 002 §5.3.1.7): a staff message, with the score.
    assert templates["management_review"]["audience"] == "staff"
    assert "score" in templates["management_review"]["required_placeholders"]
    ack = templates["complaint_acknowledged"]
    assert ack["audience"] == "customer"
    assert ack["channels"] == ["email", "sms"]
    assert "reference" in ack["required_placeholders"]
    assert "{reference}" in ack["default"]["body"]
    assert templates["assignment"]["channels"] == ["email"]
    assert (await anon.get(f"{TEMPLATES}/no_such_key", headers=admin_headers)).status_code == 404


async def test_template_override_versioned_and_restored(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    url = f"{TEMPLATES}/result_notice"
    first = {
        "subject": "处理结果（{reference}）",
        "body": "您好！受理号 {reference}：{result_summary}。谢谢您！",
    }
    second = {**first, "body": "您好！受理号 {reference} 已处理完毕：{result_summary}，请您知悉。"}
    try:
        one = await anon.put(url, json=first, headers=admin_headers)
        assert one.status_code == 200, one.text
        two = await anon.put(url, json=second, headers=admin_headers)
        assert two.json()["version"] == one.json()["version"] + 1
        current = (await anon.get(url, headers=admin_headers)).json()
        assert (current["overridden"], current["body"]) == (True, second["body"])
    finally:
        assert (await anon.delete(url, headers=admin_headers)).status_code == 204
    restored = (await anon.get(url, headers=admin_headers)).json()
    assert restored["overridden"] is False
    assert restored["body"] == restored["default"]["body"]
    assert await _audited(anon, admin_headers, "notification_template.update", "result_notice") >= 2
    assert await _audited(anon, admin_headers, "notification_template.reset", "result_notice") >= 1


@pytest.mark.parametrize(
    ("key", "body", "loc", "error_type"),
    [
        # The customer's phone is never a placeholder (personal data stays out of templates).
        (
            "result_notice",
            {"subject": "结果", "body": "{reference} {result_summary} {customer_phone}"},
            "body",
            "unknown_placeholder",
        ),
        # Staff templates never carry the customer's name.
        (
            "assignment",
            {"subject": "分派 {customer_name}", "body": "受理号 {reference}"},
            "subject",
            "unknown_placeholder",
        ),
        (
            "result_notice",
            {"subject": "结果", "body": "{reference.__class__} {result_summary}"},
            "body",
            "template_syntax",
        ),
        (
            "result_notice",
            {"subject": "结果", "body": "{reference!r} {result_summary}"},
            "body",
            "template_syntax",
        ),
        (
            "result_notice",
            {"subject": "不关我的事", "body": "{reference} {result_summary}"},
            "subject",
            "forbidden_phrase",
        ),
        (
            "result_notice",
            {"subject": "结果", "body": "{reference}，我 不 知 道 {result_summary}"},
            "body",
            "forbidden_phrase",
        ),
        # The acknowledgement must carry the 受理号.
        (
            "complaint_acknowledged",
            {"subject": "已受理", "body": "您好，已受理。"},
            "body",
            "template_rule",
        ),
        (
            "complaint_acknowledged",
            {"subject": "", "body": "受理号 {reference}"},
            "body",
            "template_rule",
        ),
    ],
)
async def test_template_validation_field_errors(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    key: str,
    body: dict[str, str],
    loc: str,
    error_type: str,
) -> None:
    response = await anon.put(f"{TEMPLATES}/{key}", json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {"loc": ["body", loc], "type": error_type} in [
        {"loc": e["loc"], "type": e["type"]} for e in errors
    ]
    current = (await anon.get(f"{TEMPLATES}/{key}", headers=admin_headers)).json()
    assert current["overridden"] is False


# --- the outbox: dead letters and replay -------------------------------------------------------


async def test_dead_webhook_replayed_after_re_enabling_the_subscription(
    allow_loopback: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    db: Database,
    receiver: Receiver,
    runtime: DeliveryRuntime,
) -> None:
    """410 → dead and the subscription disabled; replay refused until it is re-enabled; the
    replay carries the same webhook-id and verifies with the secret shown at creation."""
    event, name = topic(), uuid.uuid4().hex[:8]
    receiver.gone_first[name] = 1
    created = await allow_loopback.post(
        SUBSCRIPTIONS,
        headers=admin_headers,
        json={
            "description": "内网工单",
            "url": receiver.url(f"/gone/{name}"),
            "event_types": [event],
        },
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    [oid] = await insert_outbox(db, [webhook_row(event, reference="KS-20261125-000001")])
    await run_deliveries(runtime)

    dead = await anon.get(
        "/api/v1/webhook-deliveries",
        params={"status": "dead", "subscription_id": sub["id"]},
        headers=admin_headers,
    )
    [delivery] = dead.json()["items"]
    assert (delivery["outbox_id"], delivery["last_status_code"]) == (oid, 410)
    detail = (await anon.get(f"/api/v1/outbox/{oid}", headers=admin_headers)).json()
    assert detail["status"] == "dispatched"
    assert [a["status_code"] for a in detail["log"]] == [410]
    disabled = (await anon.get(f"{SUBSCRIPTIONS}/{sub['id']}", headers=admin_headers)).json()
    assert disabled["active"] is False

    replay_url = f"/api/v1/webhook-deliveries/{delivery['id']}/replay"
    assert (await anon.post(replay_url, headers=admin_headers)).status_code == 409
    enabled = await anon.patch(
        f"{SUBSCRIPTIONS}/{sub['id']}", json={"active": True}, headers=admin_headers
    )
    assert (enabled.json()["active"], enabled.json()["disabled_reason"]) == (True, None)
    replayed = await anon.post(replay_url, headers=admin_headers)
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["status"], replayed.json()["attempts"]) == ("pending", 0)
    assert (await anon.post(replay_url, headers=admin_headers)).status_code == 409

    await run_deliveries(runtime)
    final = (
        await anon.get(f"/api/v1/webhook-deliveries/{delivery['id']}", headers=admin_headers)
    ).json()
    assert final["status"] == "delivered"
    assert [a["status_code"] for a in final["log"]] == [410, 204]
    hits = receiver.on(f"/gone/{name}")
    assert [h.webhook_id for h in hits] == [delivery["webhook_id"]] * 2
    for hit in hits:
        Webhook(sub["secret"]).verify(hit.body, hit.headers)
    assert await _audited(anon, admin_headers, "webhook_delivery.replay", str(delivery["id"])) == 1
    await anon.delete(f"{SUBSCRIPTIONS}/{sub['id']}", headers=admin_headers)


async def test_dead_message_listed_and_replayed_with_the_same_message_id(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    client: httpx.AsyncClient,
    db: Database,
    runtime: DeliveryRuntime,
) -> None:
    complaint = (
        await client.post(
            "/api/v1/complaints",
            json={
                "channel": "web",
                "customer": {"name": "王芳", "phone": "13912340000"},
                "content": "热水器漏水",
            },
        )
    ).json()
    await forget_producer_rows(db, complaint["id"])
    # The producer forgot progress_summary: the message cannot be rendered → dead letter.
    row = message_row("progress_update", audience="customer", complaint_id=complaint["id"])
    [oid] = await insert_outbox(db, [row])
    await run_deliveries(runtime)
    dead = await anon.get(
        "/api/v1/outbox",
        params={"status": "dead", "complaint_id": complaint["id"]},
        headers=admin_headers,
    )
    [item] = dead.json()["items"]
    assert item["id"] == oid
    assert "progress_summary" in item["last_error"]
    assert "13912340000" not in dead.text

    async with db.connect() as conn:  # ops fixed the producer's data
        await conn.execute(
            text(
                'UPDATE outbox SET payload = \'{"progress_summary": "已寄出配件"}\' WHERE id = :id'
            ),
            {"id": oid},
        )
    replayed = await anon.post(f"/api/v1/outbox/{oid}/replay", headers=admin_headers)
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert (body["status"], body["attempts"], body["message_id"]) == (
        "pending",
        0,
        item["message_id"],
    )
    assert await _audited(anon, admin_headers, "outbox.replay", str(oid)) == 1
    await run_deliveries(runtime)  # no SMS gateway in this runtime: it waits, not a loss
    after = (await anon.get(f"/api/v1/outbox/{oid}", headers=admin_headers)).json()
    assert after["status"] == "not_configured"
    assert (after["waiting_for"], after["attempts"]) == ("sms", 0)
    assert "no sms gateway is configured" in after["last_error"]


async def test_a_message_without_its_gateway_waits_where_ops_see_it(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    client: httpx.AsyncClient,
    db: Database,
    runtime: DeliveryRuntime,
    receiver: Receiver,
) -> None:
    """Issue 16: with no SMS gateway the customer's acknowledgement is not retried in a loop:
    it waits as `not_configured` — listed by /api/v1/outbox (status and waiting_for filters),
    counted by /api/v1/ops/status, warned about by /readyz — and further runs leave it alone;
    a worker with the gateway makes it due again at its start and sends it, same message id."""
    phone = mobile()
    registered = await client.post(
        "/api/v1/complaints",
        json={"channel": "web", "customer": {"name": "王芳", "phone": phone}, "content": "漏水"},
    )
    assert registered.status_code == 201, registered.text
    complaint_id = registered.json()["id"]
    await run_deliveries(runtime)
    listing = await anon.get(
        "/api/v1/outbox",
        params={"status": "not_configured", "complaint_id": complaint_id},
        headers=admin_headers,
    )
    assert listing.status_code == 200, listing.text
    [item] = listing.json()["items"]
    assert item["template_key"] == "complaint_acknowledged"
    assert (item["waiting_for"], item["attempts"], item["delivered_at"]) == ("sms", 0, None)
    by_channel = await anon.get(
        "/api/v1/outbox",
        params={"waiting_for": "sms", "complaint_id": complaint_id},
        headers=admin_headers,
    )
    assert [i["id"] for i in by_channel.json()["items"]] == [item["id"]]
    ops = (await anon.get("/api/v1/ops/status", headers=admin_headers)).json()
    assert ops["not_configured"]["sms"] >= 1
    ready = (await anon.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert "sms" in ready["notifications"]["waiting_for"]
    assert "KESU_SMS_URL" in ready["notifications"]["warning"]
    detail = (await anon.get(f"/api/v1/outbox/{item['id']}", headers=admin_headers)).json()
    assert detail["log"] == []

    await run_deliveries(runtime)  # waiting costs nothing: not claimed, not touched
    again = (await anon.get(f"/api/v1/outbox/{item['id']}", headers=admin_headers)).json()
    assert again == detail

    sms_client = httpx.AsyncClient()
    with_gateway = DeliveryRuntime(
        db=db,
        http=new_webhook_client(),
        config=DeliveryConfig(webhook_allow=("127.0.0.1/32",), webhook_timeout=2.0),
        worker_id="api-test-sms",
        sms=HttpSmsGateway(client=sms_client, url=receiver.url("/sms"), token="t0ken"),
    )
    try:
        assert await resume_waiting(with_gateway) >= 1
        await run_deliveries(with_gateway)
    finally:
        await with_gateway.http.aclose()
        await sms_client.aclose()
    sent = (await anon.get(f"/api/v1/outbox/{item['id']}", headers=admin_headers)).json()
    assert (sent["status"], sent["attempts"], sent["waiting_for"]) == ("delivered", 1, None)
    to_customer = [s for s in receiver.sms if s["to"] == f"+86{phone}"]
    assert [s["idempotency_key"] for s in to_customer] == [item["message_id"]]


async def test_ops_never_read_a_usable_survey_link(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    auditor: Account,
    staff: Staff,
    db: Database,
    settings: Settings,
) -> None:
    """Whoever holds the survey link can answer for the customer: the outbox keeps it for the
    worker, but no view of the outbox shows it to auditors or admins."""
    done = await resolve_through_api(
        anon,
        registrar=staff.agent.headers,
        manager=staff.manager.headers,
        handler=staff.handler_quality,
    )
    complaint_id = done.flow.id
    async with db.connect() as conn:
        nonce = (
            await conn.execute(
                text("SELECT survey_nonce FROM complaints WHERE id = :id"),
                {"id": uuid.UUID(complaint_id)},
            )
        ).scalar_one()
        stored = (
            await conn.execute(
                text(
                    "SELECT id, payload FROM outbox WHERE complaint_id = :id "
                    "AND template_key = 'survey_invitation'"
                ),
                {"id": uuid.UUID(complaint_id)},
            )
        ).one()
    token = survey_token(settings.require_jwt_secret(), uuid.UUID(complaint_id), nonce)
    mac = token.rsplit(".", 1)[1]
    assert token in stored.payload["survey_url"]  # the worker still has the link to send

    async with db.connect() as conn:  # a dead letter, so that an admin can replay it
        await conn.execute(
            text("UPDATE outbox SET status = 'dead' WHERE id = :id"), {"id": stored.id}
        )
    views = []
    for headers in (auditor.headers, admin_headers):
        listing = await anon.get(
            "/api/v1/outbox", params={"complaint_id": complaint_id}, headers=headers
        )
        assert listing.status_code == 200, listing.text
        [invitation] = [
            item for item in listing.json()["items"] if item["template_key"] == "survey_invitation"
        ]
        assert invitation["payload"]["reference"] == done.reference
        assert "survey_url" in invitation["payload"]  # ops see that a link was sent
        detail = await anon.get(f"/api/v1/outbox/{stored.id}", headers=headers)
        assert detail.status_code == 200, detail.text
        views += [listing.text, detail.text]
    replayed = await anon.post(f"/api/v1/outbox/{stored.id}/replay", headers=admin_headers)
    assert replayed.status_code == 200, replayed.text
    views.append(replayed.text)
    for view in views:
        assert mac not in view
        assert token not in view


async def test_outbox_paging_and_unknown_rows(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], db: Database
) -> None:
    event = topic()
    await insert_outbox(db, [webhook_row(event, n=i) for i in range(5)])
    page = await anon.get(
        "/api/v1/outbox", params={"topic": event, "limit": 2}, headers=admin_headers
    )
    first = page.json()
    assert len(first["items"]) == 2
    rest = await anon.get(
        "/api/v1/outbox",
        params={"topic": event, "limit": 10, "cursor": first["next_cursor"], "count": "true"},
        headers=admin_headers,
    )
    assert len(rest.json()["items"]) == 3
    assert rest.json()["next_cursor"] is None
    assert rest.json()["total"] == 5
    for path in (
        "/api/v1/outbox/999999999",
        "/api/v1/outbox/abc",
        "/api/v1/webhook-deliveries/999999999",
    ):
        assert (await anon.get(path, headers=admin_headers)).status_code == 404
    bad = await anon.get("/api/v1/outbox", params={"status": "lost"}, headers=admin_headers)
    assert bad.status_code == 422


# --- ops status and staff contact fields -------------------------------------------------------


async def test_ops_status_shows_backlog_and_workers(
    app: FastAPI,
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    db: Database,
) -> None:
    await insert_outbox(db, [webhook_row(topic())])
    key = f"{settings.redis_prefix}:worker:heartbeat:host-a:4242"
    value = {
        "at": "2026-11-25T08:00:00+00:00",
        "worker": "host-a:4242",
        "deliveries": {"webhook_delivered": 3},
    }
    await app.state.redis.set(key, json.dumps(value), ex=30)
    try:
        response = await anon.get("/api/v1/ops/status", headers=admin_headers)
    finally:
        await app.state.redis.delete(key)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    assert status["outbox"]["pending"] >= 1
    assert status["outbox"]["oldest_due_age_seconds"] is not None
    assert {"pending", "due", "dead", "oldest_due_age_seconds"} <= set(status["webhooks"])
    [worker] = [w for w in status["workers"] if w["worker"] == "host-a:4242"]
    assert worker["deliveries"] == {"webhook_delivered": 3}
    assert status["redis"] == "ok"


async def test_staff_email_and_mobile(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "username": f"li.na-{uuid.uuid4().hex[:6]}",
        "display_name": "李娜",
        "role": "handler",
        "department": "quality",
        "password": "请换成一个长密码-2026",
        "email": "li.na@example.com",
        "mobile": "13912345678",
    }
    created = await anon.post("/api/v1/users", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert (created.json()["email"], created.json()["mobile"]) == (
        "li.na@example.com",
        "+8613912345678",
    )
    bad = await anon.post(
        "/api/v1/users",
        json={**body, "username": "x" + body["username"], "mobile": "12345"},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    cleared = await anon.patch(
        f"/api/v1/users/{created.json()['id']}", json={"mobile": None}, headers=admin_headers
    )
    assert cleared.json()["mobile"] is None
