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
from tests.support.factories import mobile
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
    # Sent concurrently: each SMS is matched to its row by the message id it carries.
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
