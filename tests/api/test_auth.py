"""Sign-in, tokens, keys and limits: tampering, alg=none, expiry, refresh rotation, revocation,
rate limits, and personal data never reaching the logs."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.intake_api.app import create_app
from services.intake_api.auth.secrets import AUDIENCE, ISSUER
from services.intake_api.ratelimit import RateLimiter
from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import Staff, make_settings
from tests.support.factories import complaint_body
from tests.support.principals import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    STAFF_PASSWORD,
    create_key,
    create_user,
    sign_in,
)


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(user_id: str, **extra: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "tv": 0,
        "iat": now,
        "exp": now + 600,
        **extra,
    }


async def _me(anon: httpx.AsyncClient, token: str) -> httpx.Response:
    return await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_unauthenticated_calls_get_401_problems(anon: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/complaints"),
        ("POST", "/api/v1/complaints"),
        ("GET", f"/api/v1/complaints/{uuid.uuid4()}"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/audit-events"),
    ]:
        response = await anon.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_sign_in_me_and_wrong_passwords(anon: httpx.AsyncClient, staff: Staff) -> None:
    me = await anon.get("/api/v1/me", headers=staff.handler_quality.headers)
    assert me.json()["role"] == "handler"
    assert me.json()["department"] == "quality"
    bad = await anon.post(
        "/api/v1/auth/token", data={"username": staff.agent.name, "password": "wrong-password!"}
    )
    unknown = await anon.post(
        "/api/v1/auth/token", data={"username": "nobody-here", "password": "wrong-password!"}
    )
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["detail"] == unknown.json()["detail"]  # no user enumeration


async def test_tampered_alg_none_wrong_key_and_expired_tokens_are_refused(
    anon: httpx.AsyncClient, staff: Staff, settings: Settings
) -> None:
    secret = settings.require_jwt_secret()
    user = staff.agent.id
    good = jwt.encode(_claims(user), secret, algorithm="HS256")
    assert (await _me(anon, good)).status_code == 200
    header, payload, signature = good.split(".")
    elevated = _b64({**_claims(user), "sub": staff.director.id})
    forged = [
        f"{header}.{elevated}.{signature}",  # payload changed, signature kept
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",  # alg=none
        jwt.encode(_claims(user), "another-secret-of-at-least-32-bytes!!", algorithm="HS256"),
        jwt.encode(
            _claims(user, exp=int(datetime.now(UTC).timestamp()) - 5), secret, algorithm="HS256"
        ),
        jwt.encode(_claims(user, aud="someone-else"), secret, algorithm="HS256"),
        jwt.encode(_claims(user, tv=7), secret, algorithm="HS256"),  # revoked token version
        "not-a-jwt",
    ]
    for token in forged:
        response = await _me(anon, token)
        assert response.status_code == 401, token
        assert response.headers["content-type"] == "application/problem+json"


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    signed = await anon.post(
        "/api/v1/auth/token", data={"username": staff.agent2.name, "password": STAFF_PASSWORD}
    )
    first = signed.json()["refresh_token"]
    rotated = await anon.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    assert (await _me(anon, rotated.json()["access_token"])).status_code == 200
    reused = await anon.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reused.status_code == 401
    # The reuse revoked the whole family, the rotated token included.
    assert (
        await anon.post("/api/v1/auth/refresh", json={"refresh_token": second})
    ).status_code == 401


async def test_disabling_a_user_revokes_their_tokens(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    account = await create_user(anon, admin_headers, role="agent", department="service")
    assert (await anon.get("/api/v1/me", headers=account.headers)).status_code == 200
    disabled = await anon.patch(
        f"/api/v1/users/{account.id}", json={"is_active": False}, headers=admin_headers
    )
    assert disabled.status_code == 200
    assert (await anon.get("/api/v1/me", headers=account.headers)).status_code == 401
    again = await anon.post(
        "/api/v1/auth/token", data={"username": account.name, "password": STAFF_PASSWORD}
    )
    assert again.status_code == 401


async def test_api_keys_are_shown_once_scoped_and_revocable(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = await create_key(anon, admin_headers, ["complaints:create"])
    listed = (await anon.get("/api/v1/api-keys", headers=admin_headers)).json()["items"]
    [mine] = [k for k in listed if k["id"] == key.id]
    assert "key" not in mine
    created = await anon.post("/api/v1/complaints", json=complaint_body(), headers=key.headers)
    assert created.status_code == 201
    # Without complaints:read it cannot read back even its own complaint.
    read = await anon.get(f"/api/v1/complaints/{created.json()['id']}", headers=key.headers)
    assert read.status_code == 404
    revoked = await anon.delete(f"/api/v1/api-keys/{key.id}", headers=admin_headers)
    assert revoked.status_code == 204
    refused = await anon.post("/api/v1/complaints", json=complaint_body(), headers=key.headers)
    assert refused.status_code == 401
    wrong = {"X-API-Key": key.headers["X-API-Key"][:-4] + "AAAA"}
    assert (await anon.get("/api/v1/me", headers=wrong)).status_code == 401


async def test_non_admins_cannot_manage_accounts(anon: httpx.AsyncClient, staff: Staff) -> None:
    for account in (staff.agent, staff.manager, staff.director, staff.auditor):
        assert (await anon.get("/api/v1/users", headers=account.headers)).status_code == 403
        created = await anon.post(
            "/api/v1/users",
            json={
                "username": "sneaky",
                "display_name": "x",
                "role": "admin",
                "password": "a-long-password-1",
            },
            headers=account.headers,
        )
        assert created.status_code == 403
    assert (await anon.get("/api/v1/audit-events", headers=staff.agent.headers)).status_code == 403
    assert (
        await anon.get("/api/v1/audit-events", headers=staff.auditor.headers)
    ).status_code == 200


async def test_an_integration_key_has_its_own_rate_limit(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = await create_key(anon, admin_headers, ["complaints:read"], rate_limit_per_minute=3)
    codes = [(await anon.get("/api/v1/me", headers=key.headers)).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3:] == [429, 429]
    limited = await anon.get("/api/v1/me", headers=key.headers)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def strict_app(database_url: str, settings: Settings) -> FastAPI:
    strict = make_settings(
        database_url,
        settings.require_redis_url(),
        public_lookup_ip_limit="2/minute",
        login_rate_limit="2/minute",
    )
    return create_app(strict)


async def test_public_lookup_and_sign_in_are_limited_per_client(strict_app: FastAPI) -> None:
    async with strict_app.router.lifespan_context(strict_app):
        transport = httpx.ASGITransport(app=strict_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            lookups = [
                await c.post(
                    "/api/v1/public/status-lookup",
                    json={"reference": f"KS-20260101-00000{i}", "phone": "13900000000"},
                )
                for i in range(3)
            ]
            assert [r.status_code for r in lookups] == [404, 404, 429]
            _assert_limited(lookups[-1])
            tries = [
                await c.post(
                    "/api/v1/auth/token", data={"username": "admin", "password": "guess-password"}
                )
                for _ in range(3)
            ]
            assert [r.status_code for r in tries] == [401, 401, 429]
            _assert_limited(tries[-1])


async def test_canary_personal_data_never_reaches_the_logs(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    staff: Staff,
    caplog: pytest.LogCaptureFixture,
) -> None:
    canary_phone = "13912345670"
    canary_email = "canary.kesu@example.com"
    canary_address = "金丝雀路1号"
    body = complaint_body()
    body["customer"] = {
        "name": "金丝雀",
        "phone": canary_phone,
        "email": canary_email,
        "address": canary_address,
    }
    with caplog.at_level(logging.DEBUG):
        created = (await client.post("/api/v1/complaints", json=body)).json()
        await client.get("/api/v1/complaints", params={"customer_phone": canary_phone})
        await client.get(f"/api/v1/complaints/{created['id']}")
        await client.post(f"/api/v1/complaints/{created['id']}/reveal")
        await anon.post(
            "/api/v1/public/status-lookup",
            json={"reference": created["reference"], "phone": canary_phone},
        )
        bad = dict(body, channel="pigeon")
        await client.post("/api/v1/complaints", json=bad)
        await anon.get(f"/api/v1/complaints/{created['id']}", headers=staff.agent2.headers)
        # Issue 15 point 6: what clients put in a URL path reaches the access log: a phone
        # number, their own API key.
        key = client.headers["x-api-key"]
        await client.get(f"/api/v1/complaints/by-reference/{canary_phone}")
        await client.get(f"/api/v1/complaints/{key}")
        await anon.get(f"/api/v1/complaints/by-reference/{key}")
    # The test's own HTTP client logs its request URLs (query strings included): that is the
    # caller's log, not the service's.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "kesu.access" in {r.name for r in caplog.records}  # the service's logs were captured
    for canary in (canary_phone, canary_email, canary_address, "金丝雀", key, key[-16:]):
        assert canary not in text


async def test_audit_log_records_sign_ins_and_changes(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    await sign_in(anon, staff.manager.name, STAFF_PASSWORD)
    await anon.post("/api/v1/auth/token", data={"username": staff.manager.name, "password": "x"})
    audit = (
        await anon.get(
            "/api/v1/audit-events", params={"action": "auth.sign_in"}, headers=admin_headers
        )
    ).json()["items"]
    mine = [e for e in audit if e["actor_id"] == staff.manager.id]
    assert {"ok", "failed"} <= {e["outcome"] for e in mine}
    assert all(e["client_ip"] for e in mine)
    before = datetime.now(UTC) - timedelta(minutes=5)
    created = await anon.post(
        "/api/v1/complaints", json=complaint_body(), headers=staff.agent.headers
    )
    changes = (
        await anon.get(
            "/api/v1/audit-events",
            params={
                "action": "complaint.register",
                "target_id": created.json()["id"],
                "occurred_from": before.isoformat(),
            },
            headers=admin_headers,
        )
    ).json()["items"]
    assert len(changes) == 1
    assert changes[0]["actor_id"] == staff.agent.id


async def test_generous_limits_are_counted_in_batches_and_still_hold(
    app: FastAPI,
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    """Above 100 a minute the count reaches Redis in batches: the limit holds, give or take
    one batch (20) that a process had not flushed yet."""
    key = await create_key(anon, admin_headers, ["complaints:read"], rate_limit_per_minute=150)
    # Not across a minute's end (that window would start afresh): the limiter's clock starts
    # a minute and moves 5 ms a request, so the batches' quarter-second flushes happen too.
    start = (time.time() // 60 + 1) * 60
    moments = (start + 0.005 * i for i in itertools.count())
    limiter = RateLimiter(
        app.state.redis.connection_pool,
        prefix=app.state.settings.redis_prefix,
        clock=lambda: next(moments),
    )
    original, app.state.limiter = app.state.limiter, limiter
    try:
        codes = [
            (await anon.get("/api/v1/me", headers=key.headers)).status_code for _ in range(200)
        ]
    finally:
        app.state.limiter = original
    allowed = codes.count(200)
    assert 150 <= allowed <= 170
    assert codes.count(429) == 200 - allowed
    assert codes[-1] == 429


# --- limits on staff, on failed sign-ins and on failed authentication ------------------------
# Day-long windows: a test never straddles one's end (a new window would start afresh).


def _address() -> str:
    """A client address of this test only (198.18.0.0/15 is for testing)."""
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


@asynccontextmanager
async def _strict(database_url: str, settings: Settings, **limits: str) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database_url, settings.require_redis_url(), **limits))
    async with application.router.lifespan_context(application):
        yield application


def _client(application: FastAPI, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, client=(address or _address(), 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://kesu.test")


async def test_each_staff_member_has_a_rate_limit(database_url: str, settings: Settings) -> None:
    limits = {"user_rate_limit": "3/day"}
    async with _strict(database_url, settings, **limits) as strict, _client(strict) as c:
        admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)
        agent = await create_user(c, admin, role="agent", department="service")  # admin: 1
        codes = [(await c.get("/api/v1/me", headers=agent.headers)) for _ in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        _assert_limited(codes[-1])
        # Counted per user, not per address: the admin has used one request of three.
        assert (await c.get("/api/v1/me", headers=admin)).status_code == 200


async def test_failed_sign_ins_are_limited_per_client_address_whatever_the_username(
    database_url: str, settings: Settings
) -> None:
    """Password spraying: one guess for each of many usernames. Past the limit even the right
    password is refused, from that address only."""
    limits = {"login_failure_ip_limit": "3/day"}
    async with (
        _strict(database_url, settings, **limits) as strict,
        _client(strict) as sprayer,
        _client(strict) as other,
    ):
        tries = [
            await sprayer.post(
                "/api/v1/auth/token", data={"username": f"user{i}", "password": "Spring2026!"}
            )
            for i in range(3)
        ]
        assert [r.status_code for r in tries] == [401, 401, 401]
        right = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        _assert_limited(await sprayer.post("/api/v1/auth/token", data=right))
        assert (await other.post("/api/v1/auth/token", data=right)).status_code == 200


async def test_successful_sign_ins_do_not_count_against_the_address(
    database_url: str, settings: Settings
) -> None:
    """A call centre behind one NAT address: a shift signing in is never held up."""
    limits = {"login_failure_ip_limit": "3/day"}
    async with _strict(database_url, settings, **limits) as strict, _client(strict) as office:
        for _ in range(5):
            await sign_in(office, ADMIN_USERNAME, ADMIN_PASSWORD)


async def _denials_from(db: Database, address: str) -> int:
    async with db.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM audit_events WHERE client_ip = :ip"), {"ip": address}
        )
    return int(count.scalar_one())


async def test_failed_authentication_is_audited_up_to_a_bound_then_refused_with_429(
    database_url: str, settings: Settings, db: Database
) -> None:
    """Each 401 writes an audit row: past the per-address bound the caller gets 429 and the
    audit log gets nothing more, so an anonymous flood cannot fill it."""
    address = _address()
    limits = {"unauthenticated_ip_limit": "3/day"}
    async with (
        _strict(database_url, settings, **limits) as strict,
        _client(strict, address) as flood,
    ):
        codes = [
            (await flood.get(f"/api/v1/complaints/{uuid.uuid4()}")).status_code for _ in range(3)
        ]
        assert codes == [401, 401, 401]
        assert await _denials_from(db, address) == 3
        _assert_limited(await flood.get("/api/v1/me"))
        _assert_limited(await flood.get("/api/v1/me", headers={"X-API-Key": "kk_guess"}))
        assert await _denials_from(db, address) == 3
        # Valid credentials from the same address are not held up.
        admin = await sign_in(flood, ADMIN_USERNAME, ADMIN_PASSWORD)
        assert (await flood.get("/api/v1/me", headers=admin)).status_code == 200


# --- the audit log: denials recorded, rows never changed ---------------------------------------


async def _entries(
    anon: httpx.AsyncClient, admin: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    response = await anon.get("/api/v1/audit-events", params=params, headers=admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_401_and_403_denials_are_audited_with_who_what_when_and_where(
    app: FastAPI, anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    address = _address()
    path = f"/api/v1/complaints/{uuid.uuid4()}"
    before = datetime.now(UTC)
    async with _client(app, address) as remote:
        assert (await remote.get(path)).status_code == 401
        assert (await remote.get("/api/v1/users", headers=staff.agent.headers)).status_code == 403
    after = datetime.now(UTC)
    [anonymous] = await _entries(
        anon, admin_headers, action="access.denied", target_id=f"GET {path}"
    )
    assert (anonymous["actor_kind"], anonymous["actor_id"]) == ("anonymous", None)
    assert (anonymous["outcome"], anonymous["client_ip"]) == ("denied", address)
    assert anonymous["details"]["status"] == 401
    assert before <= datetime.fromisoformat(anonymous["occurred_at"]) <= after
    forbidden = [
        e
        for e in await _entries(
            anon, admin_headers, action="access.denied", actor_id=staff.agent.id
        )
        if e["client_ip"] == address
    ]
    [entry] = forbidden
    assert (entry["actor_kind"], entry["actor_label"]) == ("user", staff.agent.name)
    assert entry["target_id"] == "GET /api/v1/users"
    assert entry["details"]["status"] == 403
    assert before <= datetime.fromisoformat(entry["occurred_at"]) <= after


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'ok'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_the_database_refuses_to_change_audit_events(
    anon: httpx.AsyncClient, db: Database, statement: str
) -> None:
    assert (await anon.get("/api/v1/me")).status_code == 401  # at least one row
    async with db.connect() as conn:
        count = text("SELECT count(*), max(id) FROM audit_events")
        before = (await conn.execute(count)).one()
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text(statement))
        assert (await conn.execute(count)).one() == before
    assert before[0] > 0


# --- the sign-in form in the docs ----------------------------------------------------------------


async def test_the_sign_in_form_has_a_documented_example_that_validates(
    app: FastAPI, anon: httpx.AsyncClient
) -> None:
    body = app.openapi()["paths"]["/api/v1/auth/token"]["post"]["requestBody"]
    examples = body["content"]["application/x-www-form-urlencoded"]["examples"]
    assert examples
    for example in examples.values():
        response = await anon.post("/api/v1/auth/token", data=example["value"])
        assert response.status_code == 401  # well-formed; no such account here
