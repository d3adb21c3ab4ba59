"""Issue 15 point 5: limits that hold.

- No burst across a window boundary: the fixed window let 80 failed sign-ins through in ~9 s
  with a limit of 60 a minute; security limits are moving windows now.
- Status lookup keyed on client address AND reference, with back-off: a stranger's wrong guesses
  (10 an hour per reference) locked the customer out of their own lookups.
- Forwarded headers believed only from configured proxies (in-process here; the live server's
  own handling is tested in test_live_server.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.intake_api.app import create_app
from services.intake_api.ratelimit import RateLimiter
from shared.config import Settings
from tests.conftest import make_settings
from tests.support.factories import complaint_body, mobile
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, sign_in


def _address() -> str:
    """A client address of this test only (198.18.0.0/15 is for testing)."""
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


@asynccontextmanager
async def _app(database_url: str, settings: Settings, **limits: str) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database_url, settings.require_redis_url(), **limits))
    async with application.router.lifespan_context(application):
        yield application


def _client(application: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, client=(address, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://kesu.test")


async def test_failed_sign_ins_cannot_burst_across_a_minute_boundary(
    database_url: str, settings: Settings
) -> None:
    """5 failures a minute: 5 just before a minute ends, then one just after it. A fixed window
    started afresh there (twice the limit in a second); a moving window still counts them."""
    async with _app(database_url, settings, login_failure_ip_limit="5/minute") as application:
        boundary = (time.time() // 60 + 1) * 60
        now = [boundary - 0.5]
        application.state.limiter = RateLimiter(
            application.state.redis.connection_pool,
            prefix=application.state.settings.redis_prefix,
            clock=lambda: now[0],
        )
        wrong = {"username": f"nobody-{random.randrange(10**6)}", "password": "guess-guess"}
        async with _client(application, _address()) as c:
            before = [
                (await c.post("/api/v1/auth/token", data=wrong)).status_code for _ in range(5)
            ]
            assert before == [401] * 5
            now[0] = boundary + 0.5
            after = await c.post("/api/v1/auth/token", data=wrong)
            assert after.status_code == 429, after.text
            assert int(after.headers["retry-after"]) >= 59


async def test_a_stranger_guessing_phone_numbers_cannot_lock_the_customer_out(
    anon: httpx.AsyncClient, app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = complaint_body()
    created = (await client.post("/api/v1/complaints", json=body)).json()
    lookup = "/api/v1/public/status-lookup"
    async with _client(app, _address()) as stranger, _client(app, _address()) as customer:
        guesses = [
            await stranger.post(lookup, json={"reference": created["reference"], "phone": mobile()})
            for _ in range(12)
        ]
        codes = [g.status_code for g in guesses]
        # A few wrong numbers pass, then the stranger waits (and waits longer each time).
        assert codes[:4] == [404] * 4
        assert codes[4:] == [429] * 8
        assert int(guesses[-1].headers["retry-after"]) >= 1
        own = await customer.post(
            lookup, json={"reference": created["reference"], "phone": body["customer"]["phone"]}
        )
        assert own.status_code == 200, own.text
        # The stranger's back-off is theirs for this reference only.
        other = (await client.post("/api/v1/complaints", json=complaint_body())).json()
        elsewhere = await stranger.post(
            lookup, json={"reference": other["reference"], "phone": mobile()}
        )
        assert elsewhere.status_code == 404


async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    database_url: str, settings: Settings
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.77"}
    for proxies, expected in (("", "10.9.8.7"), ("10.9.8.7", "203.0.113.77")):
        wrong = {"username": f"nobody-{random.randrange(10**9)}", "password": "guess-guess"}
        async with (
            _app(database_url, settings, trusted_proxies=proxies) as application,
            _client(application, "10.9.8.7") as c,
        ):
            await c.post("/api/v1/auth/token", data=wrong, headers=forwarded)
            admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)
            entries = (
                await c.get(
                    "/api/v1/audit-events",
                    params={"action": "auth.sign_in", "limit": 5},
                    headers=admin,
                )
            ).json()["items"]
            mine = [e for e in entries if e["actor_label"] == wrong["username"]]
            assert [e["client_ip"] for e in mine] == [expected], (proxies, entries)
