"""What the customer receives over a whole complaint, produced by the API and delivered by the
delivery job: the acknowledgement (unless the channel says not to), the progress reply, the
solution, the result and the survey invitation, each with the 受理号 and none with what staff
wrote for each other; the survey link in the SMS works."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

from services.sla_worker.delivery.run import run_deliveries
from shared.db.engine import Database
from tests.conftest import Staff
from tests.support import own_app
from tests.support.factories import complaint_body, mobile
from tests.support.resolution import INTERNAL, PROGRESS, RESULT, SOLUTION, resolve_through_api
from tests.worker.test_deliveries_receivers import Receiver, isolate_subscriptions

# Once assigned, the customer hears who handles the case (seed 002 §5.3.1.3), then the rest.
LATER = [
    "handler_notice",
    "progress_update",
    "solution_proposed",
    "result_notice",
    "survey_invitation",
]


# The session's app, clients, staff and `db` on a database of this module's own: its delivery
# runs would otherwise spend their budget on the other tests' messages (tests/support/own_app.py).
settings, app, anon, admin_headers, client, db, staff = own_app.OWN_APP_FIXTURES


@pytest_asyncio.fixture(autouse=True)
async def _only_our_subscriptions(db: Database) -> None:
    await isolate_subscriptions(db)


async def _customer_rows(db: Database, complaint_id: str) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT message_id, template_key, status, recipient_user_id FROM outbox "
                "WHERE complaint_id = :id AND audience = 'customer' ORDER BY id"
            ),
            {"id": uuid.UUID(complaint_id)},
        )
        return [dict(r) for r in rows.mappings()]


@pytest.mark.parametrize("notify_customer", [True, False])
async def test_the_customer_hears_of_every_step(
    anon: httpx.AsyncClient,
    staff: Staff,
    db: Database,
    receiver: Receiver,
    make_runtime: Any,
    notify_customer: bool,
) -> None:
    """`notify_customer = false` (the channel gave the 受理号 already) drops the
    acknowledgement only: progress, solution, result and survey still reach the customer."""
    phone = mobile()
    done = await resolve_through_api(
        anon,
        registrar=staff.agent.headers,
        manager=staff.manager.headers,
        handler=staff.handler_quality,
        customer={"name": "王芳", "phone": phone},
        notify_customer=notify_customer,
    )
    await run_deliveries(make_runtime())

    expected = (["complaint_acknowledged"] if notify_customer else []) + LATER
    rows = await _customer_rows(db, done.flow.id)
    assert [r["template_key"] for r in rows] == expected
    assert [r["status"] for r in rows] == ["delivered"] * len(expected), rows
    assert all(r["recipient_user_id"] is None for r in rows)
    # Each SMS is matched to its row by the message id it carries.
    sent = {s["idempotency_key"]: s["text"] for s in receiver.sms if s["to"] == f"+86{phone}"}
    assert len(sent) == len(expected)
    by_key = {r["template_key"]: sent[str(r["message_id"])] for r in rows}
    for sms in by_key.values():
        assert done.reference in sms
        for note in INTERNAL:
            assert note not in sms
    assert PROGRESS in by_key["progress_update"]
    assert SOLUTION in by_key["solution_proposed"]
    assert RESULT in by_key["result_notice"]

    # The link in the invitation is the customer's: it answers the survey, once.
    link = re.search(r"https?://\S+?/survey\?token=([A-Za-z0-9._~-]+)", by_key["survey_invitation"])
    assert link is not None, by_key["survey_invitation"]
    answer = {"token": link.group(1), "score": 2}
    assert (await anon.post("/api/v1/public/survey", json=answer)).status_code == 204
    assert (await anon.post("/api/v1/public/survey", json=answer)).status_code == 404


async def _resolved_for(anon: httpx.AsyncClient, staff: Staff) -> tuple[Any, str]:
    phone = mobile()
    done = await resolve_through_api(
        anon,
        registrar=staff.agent.headers,
        manager=staff.manager.headers,
        handler=staff.handler_quality,
        customer={"name": "王芳", "phone": phone},
    )
    return done, phone


def _arrived(receiver: Receiver, phone: str) -> list[str]:
    return [str(s["idempotency_key"]) for s in receiver.sms if s["to"] == f"+86{phone}"]


async def test_a_batch_sends_one_customers_messages_in_order(
    anon: httpx.AsyncClient, staff: Staff, db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    """Seed 003, 客户投诉处理管理制度 一、3 (受理投诉后，应向客户确认收到投诉): the customer's
    five messages are claimed in one batch and the acknowledgement's gateway is slow to answer;
    none of the later ones overtakes it."""
    done, phone = await _resolved_for(anon, staff)
    rows = await _customer_rows(db, done.flow.id)
    assert [r["template_key"] for r in rows] == ["complaint_acknowledged", *LATER]
    receiver.sms_delays[str(rows[0]["message_id"])] = 0.5

    await run_deliveries(make_runtime())

    assert _arrived(receiver, phone) == [str(r["message_id"]) for r in rows]


async def test_a_retried_acknowledgement_holds_the_later_messages(
    anon: httpx.AsyncClient, staff: Staff, db: Database, receiver: Receiver, make_runtime: Any
) -> None:
    """The acknowledgement's gateway fails once: the later messages wait unsent, unclaimed and
    with no attempt spent, until it has gone; then they follow in order."""
    done, phone = await _resolved_for(anon, staff)
    rows = await _customer_rows(db, done.flow.id)
    ack = str(rows[0]["message_id"])
    receiver.sms_fail_first[ack] = 1

    runtime = make_runtime()
    await run_deliveries(runtime)
    await run_deliveries(runtime)  # the acknowledgement waits for its retry: nothing may go

    assert _arrived(receiver, phone) == []
    async with db.connect() as conn:
        states = await conn.execute(
            text(
                "SELECT attempts, status, lease_token FROM outbox "
                "WHERE complaint_id = :id AND audience = 'customer' ORDER BY id"
            ),
            {"id": uuid.UUID(done.flow.id)},
        )
        later = [(0, "pending", None)] * len(LATER)  # the handler's notice among them
        assert [tuple(r) for r in states] == [(1, "pending", None), *later]
        # The retry falls due.
        await conn.execute(
            text("UPDATE outbox SET next_attempt_at = now() WHERE message_id = :m"),
            {"m": uuid.UUID(ack)},
        )
    await run_deliveries(runtime)

    assert _arrived(receiver, phone) == [str(r["message_id"]) for r in rows]


async def test_messages_held_back_never_fill_a_batch(
    anon: httpx.AsyncClient,
    staff: Staff,
    db: Database,
    receiver: Receiver,
    make_runtime: Any,
    client: httpx.AsyncClient,
) -> None:
    """One customer's acknowledgement waits for its retry, so that customer's later messages
    are held back; with a batch of 3 they come first in the due order, yet another
    customer's acknowledgement still goes out in the same run."""
    waiting, _ = await _resolved_for(anon, staff)
    async with db.connect() as conn:
        await conn.execute(
            text(
                "UPDATE outbox SET next_attempt_at = now() + interval '1 hour', attempts = 1 "
                "WHERE complaint_id = :id AND template_key = 'complaint_acknowledged'"
            ),
            {"id": uuid.UUID(waiting.flow.id)},
        )
    other_phone = mobile()
    other = await client.post(
        "/api/v1/complaints", json=complaint_body(customer={"name": "李雷", "phone": other_phone})
    )
    assert other.status_code == 201, other.text

    await run_deliveries(make_runtime(batch_size=3))

    assert len(_arrived(receiver, other_phone)) == 1
    rows = await _customer_rows(db, waiting.flow.id)
    assert [r["status"] for r in rows] == ["pending"] * (1 + len(LATER))
