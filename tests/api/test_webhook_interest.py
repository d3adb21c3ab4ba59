"""Webhook events are queued for the subscriptions that want them, and only for those (SPEC §5;
issue 16): an event nobody subscribed to costs no outbox row, which the worker would only have
marked skipped. A subscription saved through the API is wanted at once by this process; the
worker's fan-out (shared.db.outbox) still decides who gets each queued row, by the same rule."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from shared.db.engine import Database
from shared.db.outbox import _MATCHES
from shared.domain.notify import WebhookInterest
from tests.conftest import Staff
from tests.support import own_app
from tests.support.flow import register

# A database of this module's own: it starts with no subscription at all.
settings, app, anon, admin_headers, client, db, staff = own_app.OWN_APP_FIXTURES

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions"


async def _webhook_topics(db: Database, complaint_id: str) -> list[str]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT topic FROM outbox WHERE complaint_id = :id AND kind = 'webhook' ORDER BY id"
            ),
            {"id": uuid.UUID(complaint_id)},
        )
        return [r.topic for r in rows]


async def _messages(db: Database, complaint_id: str) -> list[str]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT template_key FROM outbox WHERE complaint_id = :id AND kind = 'message'"),
            {"id": uuid.UUID(complaint_id)},
        )
        return [r.template_key for r in rows]


async def _subscribe(
    anon: httpx.AsyncClient, admin: dict[str, str], event_types: list[str]
) -> dict[str, Any]:
    body = {"description": "订阅", "url": "https://hooks.example.com/k", "event_types": event_types}
    created = await anon.post(SUBSCRIPTIONS, json=body, headers=admin)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_events_are_queued_for_the_subscriptions_that_want_them(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff, db: Database
) -> None:
    # Nobody subscribes: no webhook row, the customer's acknowledgement still owed.
    flow = await register(anon, staff.agent.headers)
    assert await _webhook_topics(db, flow.id) == []
    assert await _messages(db, flow.id) == ["complaint_acknowledged"]

    # One type wanted: only its events are queued, from the next change on.
    escalations = await _subscribe(anon, admin_headers, ["complaint.escalated"])
    await flow.act("assign", staff.manager.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("escalate", staff.handler_quality.headers, {"reason": "客户情绪激动"})
    assert await _webhook_topics(db, flow.id) == ["complaint.escalated"]

    # A family: every complaint event, at once (this process saved it).
    family = await _subscribe(anon, admin_headers, ["complaint.*"])
    second = await register(anon, staff.agent.headers)
    assert await _webhook_topics(db, second.id) == ["complaint.registered"]

    # Switched off and deleted: nothing queued again.
    patched = await anon.patch(
        f"{SUBSCRIPTIONS}/{family['id']}", json={"active": False}, headers=admin_headers
    )
    assert patched.status_code == 200, patched.text
    deleted = await anon.delete(f"{SUBSCRIPTIONS}/{escalations['id']}", headers=admin_headers)
    assert deleted.status_code == 204, deleted.text
    third = await register(anon, staff.agent.headers)
    assert await _webhook_topics(db, third.id) == []

    # Switched on again.
    patched = await anon.patch(
        f"{SUBSCRIPTIONS}/{family['id']}", json={"active": True}, headers=admin_headers
    )
    assert patched.status_code == 200, patched.text
    fourth = await register(anon, staff.agent.headers)
    assert await _webhook_topics(db, fourth.id) == ["complaint.registered"]


CASES = [
    ("*", "complaint.registered"),
    ("complaint.registered", "complaint.registered"),
    ("complaint.registered", "complaint.registered2"),
    ("complaint.*", "complaint.escalated"),
    ("complaint.*", "complaint"),
    ("complaint.*", "complaints.escalated"),
    ("deadline.*", "complaint.escalated"),
    ("deadline.*", "deadline.warned"),
    ("complaint_*", "complaint_x"),  # "_" is no wildcard
    ("complaint.%", "complaint.x"),  # nor "%"
    ("*.escalated", "complaint.escalated"),  # a star only as the whole or the last part
    (".*", "complaint.x"),
    (".*", ".x"),
]


@pytest.mark.parametrize(("pattern", "topic"), CASES)
async def test_the_interest_matches_as_the_fan_out_does(
    db: Database, pattern: str, topic: str
) -> None:
    """`WebhookInterest.wants` and the worker's SQL (`_MATCHES`) agree on every case."""
    sql = (
        "SELECT " + _MATCHES + " AS m FROM (SELECT CAST(:types AS jsonb) AS event_types) AS s,"
        " (SELECT CAST(:topic AS text) AS topic) AS src"
    )
    async with db.connect() as conn:
        in_sql = (
            await conn.execute(text(sql), {"types": f'["{pattern}"]', "topic": topic})
        ).scalar_one()
    assert WebhookInterest(frozenset([pattern])).wants(topic) is in_sql
