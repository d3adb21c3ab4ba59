"""An API on a database of a test module's own, with a clock the test sets: complaints are
registered "in the past" and the SLA worker's sweep (or a calendar change) runs "now".

Worker and recompute tests act on every due or open deadline of their database, so each module
gets its own: the `own_url` and `desk` fixtures (tests/conftest.py) open one per module."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.intake_api.app import create_app
from services.intake_api.deps import get_now
from shared.application.bootstrap import Collaborators
from shared.application.sweep import sweep_batch
from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import make_settings
from tests.support.factories import complaint_body
from tests.support.principals import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    Account,
    create_key,
    create_user,
    sign_in,
)
from tests.support.servers import Servers


@dataclass
class Desk:
    """An API on the module's database, a client with an integration key, and its clock."""

    app: FastAPI
    client: httpx.AsyncClient
    db: Database
    settings: Settings
    now: datetime
    manager: Account
    integration: dict[str, str]
    admin: dict[str, str]

    async def register(self, at: datetime, **body: Any) -> dict[str, Any]:
        self.now = at
        response = await self.client.post(
            "/api/v1/complaints", json=complaint_body(**body), headers=self.integration
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


@asynccontextmanager
async def open_desk(url: str, test_servers: Servers) -> AsyncIterator[Desk]:
    settings = make_settings(url, test_servers.redis_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as anon:
            admin = await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)
            key = await create_key(anon, admin, ["complaints:create", "complaints:read"])
            manager = await create_user(anon, admin, role="manager")
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as client:
            desk = Desk(
                app, client, app.state.db, settings, datetime.now(UTC), manager, key.headers, admin
            )
            app.dependency_overrides[get_now] = lambda: desk.now
            yield desk


async def raise_level_on_breach(desk: Desk, *, first_contact_hours: int | None = None) -> None:
    """A company's choice (rule data, off by default since seed 002 §4.3): every stage of every
    policy raises the level on a breach, for complaints registered from 2026 on; with
    `first_contact_hours`, first contact is due in that many calendar hours (seed 000's 24
    hours) instead of 1 working day."""
    desk.now = datetime(2026, 1, 1, tzinfo=UTC)
    page = await desk.client.get("/api/v1/sla-policies?limit=200", headers=desk.admin)
    assert page.status_code == 200, page.text
    assert page.json()["next_cursor"] is None, "more policies than one page"
    for policy in page.json()["items"]:
        body = {k: policy[k] for k in ("name", "kind", "level", "category", "channel", "stages")}
        for stage in body["stages"]:
            stage["on_breach"]["escalate"] = True
            if stage["stage"] == "first_contact" and first_contact_hours is not None:
                stage.update(amount=first_contact_hours, unit="hours")
        response = await desk.client.put(
            f"/api/v1/sla-policies/{policy['id']}", json=body, headers=desk.admin
        )
        assert response.status_code == 200, response.text


async def events_of(db: Database, complaint_id: str) -> list[dict[str, Any]]:
    """A complaint's events in order: type and payload."""
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT type, payload FROM complaint_events WHERE complaint_id = :id ORDER BY seq"
            ),
            {"id": uuid.UUID(complaint_id)},
        )
        return [dict(r) for r in rows.mappings()]


async def deadlines_of(db: Database, complaint_id: str) -> list[dict[str, Any]]:
    """A complaint's stored deadlines, by stage and cycle."""
    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM deadlines WHERE complaint_id = :id ORDER BY stage, cycle"),
            {"id": uuid.UUID(complaint_id)},
        )
        return [dict(r) for r in rows.mappings()]


async def level_of(db: Database, complaint_id: str) -> int:
    async with db.connect() as conn:
        found = await conn.execute(
            text("SELECT level FROM complaints WHERE id = :id"), {"id": uuid.UUID(complaint_id)}
        )
        return int(found.scalar_one())


async def sweep_all(db: Database, now: datetime, *, limit: int = 50) -> tuple[int, int]:
    """Sweep batches at `now` until nothing due is left: (complaints taken, escalations)."""
    taken = escalated = 0
    while True:
        count, escalations = await sweep_batch(Collaborators(db), now=now, limit=limit)
        taken, escalated = taken + count, escalated + escalations
        if count == 0:
            return taken, escalated


async def wait_for_lock_waiters(db: Database, count: int, *, like: str = "%") -> None:
    """Until `count` other sessions of this database wait for a lock (a statement blocked by
    a lock a test holds): how the tests interleave transactions without sleeping on a guess."""
    for _ in range(2000):
        async with db.connect() as conn:
            waiting = await conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE :like"
                ),
                {"like": like},
            )
            if waiting.scalar_one() >= count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} sessions ever waited for a lock ({like})")
