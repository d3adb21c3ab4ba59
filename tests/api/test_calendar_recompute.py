"""When the calendar changes, every open deadline it moves is recomputed, and each affected
complaint gets a `deadlines.recomputed` event — here: a deadline planned into 2027 before its
schedule is known is provisional until the admin loads the 2027 schedule (on a database of this
module's own: the change touches every open deadline)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from services.intake_api.app import create_app
from services.intake_api.deps import get_now
from tests.conftest import make_settings
from tests.support.factories import complaint_body
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in
from tests.support.servers import Servers

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTERED = datetime(2026, 12, 30, 16, 0, tzinfo=SHANGHAI)  # Wednesday


@pytest_asyncio.fixture(scope="module")
async def env(own_url: str, test_servers: Servers) -> AsyncIterator[dict[str, Any]]:
    app = create_app(make_settings(own_url, test_servers.redis_url))
    clock: dict[str, datetime | None] = {"now": None}
    app.dependency_overrides[get_now] = lambda: clock["now"] or datetime.now(UTC)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as client:
            admin = await sign_in(client, ADMIN_USERNAME, ADMIN_PASSWORD)
            key = await create_key(client, admin, ["complaints:create", "complaints:read"])
            yield {"client": client, "admin": admin, "key": key.headers, "clock": clock}


async def _resolution(env: dict[str, Any], complaint_id: str) -> dict[str, Any]:
    deadlines = (
        await env["client"].get(f"/api/v1/complaints/{complaint_id}/deadlines", headers=env["key"])
    ).json()["items"]
    return next(d for d in deadlines if d["stage"] == "resolution")


async def test_loading_next_years_schedule_recomputes_provisional_deadlines(
    env: dict[str, Any],
) -> None:
    client, admin = env["client"], env["admin"]
    info = (await client.get("/api/v1/calendars/default", headers=admin)).json()
    if info["known_until"] >= "2027-01-01":
        pytest.fail("this module's fresh database must not know 2027 yet")
    env["clock"]["now"] = REGISTERED  # only while registering: tokens are checked on real time
    created = (
        await client.post("/api/v1/complaints", json=complaint_body(), headers=env["key"])
    ).json()
    env["clock"]["now"] = None
    before = await _resolution(env, created["id"])
    # 3 working days from a Wednesday in late 2026: 12-31, then 2027 (unknown): provisional,
    # counted with the fallback (1 January is a fixed-date holiday, weekends off).
    assert before["provisional"] is True
    assert datetime.fromisoformat(before["due_at"]).date().isoformat() == "2027-01-05"

    # The (hypothetical) 2027 schedule: 1–3 January off, Monday 4 January off too.
    schedule = {
        "year": 2027,
        "days": [
            {"day": "2027-01-01", "type": "holiday", "name": "元旦"},
            {"day": "2027-01-04", "type": "holiday", "name": "元旦"},
        ],
    }
    loaded = await client.post("/api/v1/calendars/default/years", json=schedule, headers=admin)
    assert loaded.status_code in (200, 201), loaded.text
    assert loaded.json()["affected_open_deadlines"] >= 1

    after = await _resolution(env, created["id"])
    assert after["provisional"] is False
    assert datetime.fromisoformat(after["due_at"]).date().isoformat() == "2027-01-06"
    events = (
        await client.get(f"/api/v1/complaints/{created['id']}/events", headers=env["key"])
    ).json()["items"]
    recomputed = [e for e in events if e["type"] == "deadlines.recomputed"]
    assert len(recomputed) == 1
    moved = {d["stage"]: d for d in recomputed[0]["payload"]["deadlines"]}
    assert datetime.fromisoformat(moved["resolution"]["due_at"]) == datetime.fromisoformat(
        after["due_at"]
    )
    assert moved["resolution"]["provisional"] is False
