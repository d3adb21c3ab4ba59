"""Whom staff alerts reach and when, on a database of this module's own (so the staff
directory holds only these accounts and the calendar is the seeded one):

- a level-3 breach (三级投诉超时) tells the handler, whom the stage's policy names, and the
  director and management (三级受理人: the directors over the complaint's department and the
  company-wide ones), each once and at once; nobody else, never the staff member complained
  about;
- alerts that are not urgent wait for working hours (nobody is woken at midnight for a level-1
  matter); level-3 ones go out at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest_asyncio
from sqlalchemy import text

from services.intake_api.app import create_app
from services.intake_api.deps import get_now
from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_batch
from shared.db.engine import Database
from tests.conftest import make_settings
from tests.support.factories import complaint_body
from tests.support.flow import Flow
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_user, sign_in
from tests.support.servers import Servers

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)  # a Monday
LEVEL3 = "多名顾客集体投诉，已向12315举报并联系媒体曝光"


@pytest_asyncio.fixture(scope="module")
async def desk(own_url: str, test_servers: Servers) -> AsyncIterator[dict[str, Any]]:
    """The API on this database, one account of every kind, and the API's clock (`clock[0]`:
    now while accounts sign in, so that their tokens are valid; T0 for the complaint)."""
    app = create_app(make_settings(own_url, test_servers.redis_url))
    clock = [datetime.now(SHANGHAI)]
    app.dependency_overrides[get_now] = lambda: clock[0]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)
            people = {
                name: await create_user(c, admin, role=role, department=department)
                for name, role, department in (
                    ("handler", "handler", "quality"),
                    ("director_quality", "director", "quality"),
                    ("director_company", "director", None),
                    ("director_logistics", "director", "logistics"),
                    ("director_accused", "director", None),
                    ("manager_quality", "manager", "quality"),
                    ("manager_logistics", "manager", "logistics"),
                    ("agent", "agent", "service"),
                    ("auditor", "auditor", None),
                )
            }
            yield {"client": c, "db": app.state.db, "people": people, "clock": clock}


async def _staff_messages(db: Database, complaint_id: str, topic: str) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_seq, payload, template_key, recipient_user_id, created_at, "
                "available_at FROM outbox "
                "WHERE complaint_id = :id AND topic = :topic AND audience = 'staff'"
            ),
            {"id": uuid.UUID(complaint_id), "topic": topic},
        )
        return [dict(r) for r in rows.mappings()]


async def test_a_level3_breach_tells_the_director_and_management_once(
    desk: dict[str, Any],
) -> None:
    people, client = desk["people"], desk["client"]
    subject = {"staff_user_id": people["director_accused"].id, "staff_name": "某总监"}
    body = complaint_body(content=LEVEL3, category="product_quality", subject=subject)
    desk["clock"][0] = T0
    created = await client.post("/api/v1/complaints", json=body, headers=people["agent"].headers)
    assert created.status_code == 201, created.text
    assert (created.json()["level"], created.json()["department"]) == (3, "quality")
    flow = Flow(client, created.json())
    await flow.act(
        "assign", people["director_quality"].headers, {"assignee_id": people["handler"].id}
    )

    # A month on, several stages are overdue, each a breach of its own: the first contact and
    # the investigation (their policy notifies the assignee and the supervisor tier: for a
    # level-3 case the directors, seed 002 §5.4) and the level-3 resolution (the assignee and
    # the director).
    later = T0 + timedelta(days=30)
    while (await sweep_batch(Collaborators(desk["db"]), now=later, limit=50))[0]:
        pass
    messages = await _staff_messages(desk["db"], flow.id, "deadline.breached")

    handler = people["handler"].id
    management = {people["director_quality"].id, people["director_company"].id}
    by_policy = {
        "first_contact": {handler},  # + the supervisor tier: the directors (management)
        "investigation": {handler},
        "resolution": {handler},  # + the director, who is management anyway
    }
    by_breach: dict[int, list[dict[str, Any]]] = {}
    for message in messages:
        by_breach.setdefault(message["event_seq"], []).append(message)
    stages = {rows[0]["payload"]["stage"] for rows in by_breach.values()}
    assert set(by_policy) <= stages
    for rows in by_breach.values():
        stage = rows[0]["payload"]["stage"]
        if stage not in by_policy:
            continue
        recipients = sorted(str(r["recipient_user_id"]) for r in rows)
        assert recipients == sorted(by_policy[stage] | management), stage  # each once
        assert {r["template_key"] for r in rows} == {"deadline_breach"}
        assert all(r["available_at"] == r["created_at"] == later for r in rows)  # at once


async def _next_working_start(
    client: httpx.AsyncClient, headers: dict[str, str], after: datetime
) -> datetime:
    """The start of working hours on the first working day after `after`'s day, read from the
    calendar the API serves (its days and hours), not computed by the code under test."""
    calendar = (await client.get("/api/v1/calendars/default", headers=headers)).json()
    zone = ZoneInfo(calendar["tz"])
    day = after.astimezone(zone).date()
    for _ in range(30):
        day += timedelta(days=1)
        status = await client.get(f"/api/v1/calendars/default/days/{day}", headers=headers)
        assert status.status_code == 200, status.text
        if status.json()["working"]:
            return datetime.combine(day, time.fromisoformat(calendar["work_start"]), zone)
    raise AssertionError("no working day within 30 days")


async def test_alerts_at_night_wait_for_working_hours_unless_level3(
    desk: dict[str, Any],
) -> None:
    people, client = desk["people"], desk["client"]
    agent = people["agent"].headers
    # The evening before the National Day holidays, after working hours.
    night = datetime(2026, 9, 30, 22, 30, tzinfo=SHANGHAI)
    morning = await _next_working_start(client, agent, night)
    assert morning - night > timedelta(days=1)  # the holidays are in between

    desk["clock"][0] = night
    ordinary = await client.post("/api/v1/complaints", json=complaint_body(), headers=agent)
    urgent = await client.post(
        "/api/v1/complaints", json=complaint_body(content=LEVEL3), headers=agent
    )
    assert (ordinary.json()["level"], urgent.json()["level"]) == (1, 3)
    for created in (ordinary, urgent):
        await Flow(client, created.json()).act(
            "assign", people["director_quality"].headers, {"assignee_id": people["handler"].id}
        )

    [assignment] = await _staff_messages(desk["db"], ordinary.json()["id"], "complaint.assigned")
    assert assignment["created_at"] == night
    assert assignment["available_at"] == morning  # held until the next working morning
    alerts = await _staff_messages(desk["db"], urgent.json()["id"], "complaint.registered")
    alerts += await _staff_messages(desk["db"], urgent.json()["id"], "complaint.assigned")
    assert {a["template_key"] for a in alerts} == {"level3_alert", "assignment"}
    assert all(a["available_at"] == a["created_at"] == night for a in alerts)  # at once
