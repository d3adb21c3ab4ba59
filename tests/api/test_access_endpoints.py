"""The access matrix of every `{id}` endpoint that is not a complaint: accounts, keys,
departments, notification administration, SLA policies, calendars, rules.

The policy (SPEC §7, issue 3): admins manage accounts, keys and configuration; auditors read the
notification machinery (outbox, deliveries, templates) and change nothing; every staff member
reads the rules the desk works by (calendars, SLA policies, rule sets); integrations reach none
of it; anonymous callers get 401. The complaint endpoints have their own, record-level matrix
(test_access_matrix.py); the completeness test below makes sure no `{…}` path is left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.db.engine import Database
from shared.domain.lifecycle import Action
from tests.api.test_access_matrix import READ_PATHS
from tests.api.test_sla_policies import policy_body
from tests.conftest import Staff
from tests.support.principals import Account, create_key, create_user
from tests.worker.test_deliveries_receivers import insert_outbox, topic, webhook_row

# principal → the role its row of the table is about
PRINCIPALS: dict[str, str] = {
    "agent": "agent",
    "agent2": "agent",
    "handler_quality": "handler",
    "handler_logistics": "handler",
    "manager": "manager",
    "director": "director",
    "auditor": "auditor",
    "subject": "manager",
    "integration": "integration",
    "anonymous": "anonymous",
    "admin": "admin",  # last: its changes (deletes, revocations) come after everyone's tries
}
ADMIN = frozenset({"admin"})
AUDIT = frozenset({"auditor", "admin"})
STAFF = frozenset({"agent", "handler", "manager", "director", "auditor", "admin"})


@dataclass
class Target:
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cleanup: Callable[[], Awaitable[None]] | None = None


@dataclass
class World:
    anon: httpx.AsyncClient
    admin: dict[str, str]
    staff: Staff
    db: Database

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.anon.request(method, path, json=body, headers=self.admin)
        assert response.status_code in (200, 201, 204), response.text
        return response.json() if response.content else None


Maker = Callable[[World], Awaitable[Target]]


@dataclass(frozen=True)
class Case:
    allowed: frozenset[str]  # roles that get past access control
    status: int  # what they get, with the body the maker gives
    make: Maker


def _hex() -> str:
    return uuid.uuid4().hex[:8]


async def _user(w: World) -> Target:
    return Target(f"/api/v1/users/{w.staff.agent.id}")


async def _patch_user(w: World) -> Target:
    account = await create_user(w.anon, w.admin, role="agent", department="service")
    return Target(f"/api/v1/users/{account.id}", {"display_name": "改名后的坐席"})


async def _department(w: World) -> Target:
    return Target(f"/api/v1/departments/mx{_hex()}", {"name": "矩阵测试部"})


async def _key(w: World) -> Target:
    key: Account = await create_key(w.anon, w.admin, ["complaints:read"])
    return Target(f"/api/v1/api-keys/{key.id}")


async def _subscription_id(w: World) -> str:
    body = {
        "description": "矩阵测试",
        "url": "https://hooks.example.com/matrix",
        "event_types": [topic()],
    }
    created = await w.ok("POST", "/api/v1/webhook-subscriptions", body)
    return str(created["id"])


def _subscription(suffix: str = "", body: dict[str, Any] | None = None) -> Maker:
    async def make(w: World) -> Target:
        return Target(f"/api/v1/webhook-subscriptions/{await _subscription_id(w)}{suffix}", body)

    return make


def _template(suffix: str = "", *, override: bool = False, put: bool = False) -> Maker:
    """A template made to say what it said already, so other tests see no difference; the
    override is removed afterwards."""

    async def make(w: World) -> Target:
        path = "/api/v1/notification-templates/progress_update"
        current = await w.ok("GET", path)
        text_now = {"subject": current["subject"], "body": current["body"]}
        if override:
            await w.ok("PUT", path, text_now)

        async def reset() -> None:
            await w.anon.delete(path, headers=w.admin)

        return Target(path + suffix, text_now if put else None, cleanup=reset)

    return make


async def _dead_outbox_row(w: World) -> int:
    row = {**webhook_row(topic()), "status": "dead", "last_error": "matrix test"}
    [outbox_id] = await insert_outbox(w.db, [row])
    return outbox_id


def _outbox(suffix: str = "") -> Maker:
    """A dead row of a topic no one subscribes to; a replay is undone afterwards."""

    async def make(w: World) -> Target:
        outbox_id = await _dead_outbox_row(w)

        async def retire() -> None:
            async with w.db.connect() as conn:
                await conn.execute(
                    text("UPDATE outbox SET status = 'skipped' WHERE id = :id"), {"id": outbox_id}
                )

        return Target(f"/api/v1/outbox/{outbox_id}{suffix}", cleanup=retire)

    return make


def _delivery(suffix: str = "") -> Maker:
    """A dead delivery of a live subscription; afterwards both are retired so no worker run of
    another test ever tries to send it."""

    async def make(w: World) -> Target:
        subscription_id = await _subscription_id(w)
        outbox_id = await _dead_outbox_row(w)
        now = datetime.now(UTC)
        async with w.db.connect() as conn:
            delivery_id = (
                await conn.execute(
                    text(
                        "INSERT INTO webhook_deliveries (outbox_id, subscription_id, status, "
                        "next_attempt_at, created_at, updated_at) VALUES (:o, :s, 'dead', :now, "
                        ":now, :now) RETURNING id"
                    ),
                    {"o": outbox_id, "s": uuid.UUID(subscription_id), "now": now},
                )
            ).scalar_one()

        async def retire() -> None:
            async with w.db.connect() as conn:
                await conn.execute(
                    text("UPDATE webhook_deliveries SET status = 'skipped' WHERE id = :id"),
                    {"id": delivery_id},
                )
                await conn.execute(
                    text("UPDATE webhook_subscriptions SET active = false WHERE id = :id"),
                    {"id": uuid.UUID(subscription_id)},
                )

        return Target(f"/api/v1/webhook-deliveries/{delivery_id}{suffix}", cleanup=retire)

    return make


def _default_calendar(suffix: str) -> Maker:
    async def make(w: World) -> Target:
        return Target(f"/api/v1/calendars/default{suffix}")

    return make


def _new_calendar(
    suffix: str = "", body: dict[str, Any] | None = None, *, day: bool = False
) -> Maker:
    """A calendar of this test only: no complaint's deadlines are planned on it."""

    async def make(w: World) -> Target:
        path = f"/api/v1/calendars/mx{_hex()}"
        await w.ok("PUT", path, {"name": "矩阵测试日历"})
        if day:
            await w.ok("PUT", f"{path}/days/2026-10-10", {"type": "holiday", "name": "测试"})
        return Target(path + suffix, body)

    return make


async def _calendar_to_create(w: World) -> Target:
    return Target(f"/api/v1/calendars/mx{_hex()}", {"name": "矩阵测试日历"})


def _policy(suffix: str = "", *, put: bool = False) -> Maker:
    async def make(w: World) -> Target:
        created = await w.ok("POST", "/api/v1/sla-policies", policy_body())
        body = policy_body(name="矩阵测试：改名") if put else None
        return Target(f"/api/v1/sla-policies/{created['id']}{suffix}", body)

    return make


async def _rules(w: World) -> Target:
    return Target("/api/v1/rules/level")


# Reports and 考核: refused before anything is looked up; past access control, the unknown
# entry, run and subscription are 404 (a void, a change or a delete would not be repeatable
# for every allowed principal).
WRITERS = frozenset({"manager", "director"})
READERS = frozenset({"manager", "director", "auditor", "admin"})
UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def _void(w: World) -> Target:
    return Target("/api/v1/assessment/entries/999999999/void", {"reason": "矩阵测试"})


async def _run(w: World) -> Target:
    return Target("/api/v1/reports/runs/999999999")


async def _report_subscription(w: World) -> Target:
    body = {"department": None, "recipient_ids": [w.staff.director.id]}
    return Target(f"/api/v1/report-subscriptions/{UNKNOWN}", body)


ENDPOINTS: dict[str, Case] = {
    "GET /api/v1/users/{user_id}": Case(ADMIN, 200, _user),
    "PATCH /api/v1/users/{user_id}": Case(ADMIN, 200, _patch_user),
    "PUT /api/v1/departments/{code}": Case(ADMIN, 201, _department),
    "DELETE /api/v1/api-keys/{key_id}": Case(ADMIN, 204, _key),
    "GET /api/v1/webhook-subscriptions/{subscription_id}": Case(ADMIN, 200, _subscription()),
    "PATCH /api/v1/webhook-subscriptions/{subscription_id}": Case(
        ADMIN, 200, _subscription(body={"description": "矩阵测试-改"})
    ),
    "DELETE /api/v1/webhook-subscriptions/{subscription_id}": Case(ADMIN, 204, _subscription()),
    "POST /api/v1/webhook-subscriptions/{subscription_id}/rotate-secret": Case(
        ADMIN, 200, _subscription("/rotate-secret")
    ),
    "GET /api/v1/notification-templates/{key}": Case(AUDIT, 200, _template()),
    "PUT /api/v1/notification-templates/{key}": Case(ADMIN, 200, _template(put=True)),
    "DELETE /api/v1/notification-templates/{key}": Case(ADMIN, 204, _template(override=True)),
    "GET /api/v1/outbox/{outbox_id}": Case(AUDIT, 200, _outbox()),
    "POST /api/v1/outbox/{outbox_id}/replay": Case(ADMIN, 200, _outbox("/replay")),
    "GET /api/v1/webhook-deliveries/{delivery_id}": Case(AUDIT, 200, _delivery()),
    "POST /api/v1/webhook-deliveries/{delivery_id}/replay": Case(ADMIN, 200, _delivery("/replay")),
    "GET /api/v1/calendars/{code}": Case(STAFF, 200, _default_calendar("")),
    "PUT /api/v1/calendars/{code}": Case(ADMIN, 201, _calendar_to_create),
    "GET /api/v1/calendars/{code}/days": Case(STAFF, 200, _default_calendar("/days")),
    "GET /api/v1/calendars/{code}/days/{day}": Case(
        STAFF, 200, _default_calendar("/days/2026-10-01")
    ),
    "PUT /api/v1/calendars/{code}/days/{day}": Case(
        ADMIN, 200, _new_calendar("/days/2026-10-10", {"type": "holiday", "name": "测试"})
    ),
    "DELETE /api/v1/calendars/{code}/days/{day}": Case(
        ADMIN, 200, _new_calendar("/days/2026-10-10", day=True)
    ),
    "POST /api/v1/calendars/{code}/years": Case(
        ADMIN, 200, _new_calendar("/years", {"year": 2026, "days": []})
    ),
    "GET /api/v1/sla-policies/{policy_id}": Case(STAFF, 200, _policy()),
    "PUT /api/v1/sla-policies/{policy_id}": Case(ADMIN, 200, _policy(put=True)),
    "GET /api/v1/sla-policies/{policy_id}/versions": Case(STAFF, 200, _policy("/versions")),
    "GET /api/v1/rules/{name}": Case(STAFF, 200, _rules),
    "POST /api/v1/assessment/entries/{entry_id}/void": Case(WRITERS, 404, _void),
    "GET /api/v1/reports/runs/{run_id}": Case(READERS, 404, _run),
    "PUT /api/v1/report-subscriptions/{subscription_id}": Case(ADMIN, 404, _report_subscription),
    "DELETE /api/v1/report-subscriptions/{subscription_id}": Case(ADMIN, 404, _report_subscription),
}

# The complaint endpoints, covered row by row in test_access_matrix.py.
COMPLAINT_OPERATIONS = (
    {"GET " + p.replace("{id}", "{complaint_id}") for p in READ_PATHS}
    | {"POST /api/v1/complaints/{complaint_id}/reveal"}
    | {f"POST /api/v1/complaints/{{complaint_id}}/{a.value.replace('_', '-')}" for a in Action}
    # Evidence and the printed form: who may upload, download and print, and what a hidden
    # complaint answers, in test_evidence.py and test_documents.py.
    | {
        "POST /api/v1/complaints/{complaint_id}/attachments",
        "GET /api/v1/complaints/{complaint_id}/attachments/{attachment_id}",
        "GET /api/v1/complaints/{complaint_id}/form",
    }
)


def test_every_path_with_a_parameter_is_in_a_matrix(app: FastAPI) -> None:
    """A new `{…}` endpoint fails here until its row is written."""
    operations = {
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        if "{" in path
        for method in item
    }
    assert operations - COMPLAINT_OPERATIONS == set(ENDPOINTS)
    assert operations >= COMPLAINT_OPERATIONS


@pytest.fixture(scope="module")
async def principals(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str]
) -> dict[str, dict[str, str]]:
    # An integration with every scope there is: scopes are about complaints, never admin.
    key = await create_key(
        anon, admin_headers, ["complaints:create", "complaints:read:all", "pii:read"]
    )
    return {
        "agent": staff.agent.headers,
        "agent2": staff.agent2.headers,
        "handler_quality": staff.handler_quality.headers,
        "handler_logistics": staff.handler_logistics.headers,
        "manager": staff.manager.headers,
        "director": staff.director.headers,
        "auditor": staff.auditor.headers,
        "subject": staff.subject.headers,
        "integration": key.headers,
        "anonymous": {},
        "admin": admin_headers,
    }


@pytest.mark.parametrize("operation", list(ENDPOINTS))
async def test_who_may_reach_each_endpoint(
    anon: httpx.AsyncClient,
    staff: Staff,
    admin_headers: dict[str, str],
    db: Database,
    principals: dict[str, dict[str, str]],
    operation: str,
) -> None:
    case = ENDPOINTS[operation]
    method = operation.split()[0]
    target = await case.make(World(anon, admin_headers, staff, db))
    try:
        for who, role in PRINCIPALS.items():
            response = await anon.request(
                method,
                target.path,
                json=target.body,
                headers={**principals[who], **target.headers},
            )
            refused = 401 if who == "anonymous" else 403
            want = case.status if role in case.allowed else refused
            assert response.status_code == want, (who, operation, response.text)
            if want >= 400:
                assert response.headers["content-type"] == "application/problem+json"
    finally:
        if target.cleanup is not None:
            await target.cleanup()
