"""Helpers of the delivery tests (no tests here): a local webhook receiver that verifies
Standard Webhooks signatures and counts deliveries, a local SMTP inbox (aiosmtpd), and the
outbox rows a complaint change would write, inserted as the producer does."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.db.engine import Database, json_dumps
from shared.db.notifications import webhook_interest_cache
from shared.domain.webhook_secrets import new_webhook_secret
from tests.support.factories import complaint_body

SECRET = new_webhook_secret()


@dataclass
class Hit:
    path: str
    webhook_id: str
    data: dict[str, Any]
    verified: bool  # with SECRET
    at: float
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    """Routes: /sms (an SMS gateway), /ok/{name} (204), /slow/{name} (204 after
    `slow_seconds`), /status/{code} (?retry_after=), /redirect, /hang (until released),
    /flaky/{name} (500 `fail_first` times, then 204), /gone/{name} (410 `gone_first`
    times, then 204). Webhook requests are recorded with whether their signature verified.
    /sms answers after `sms_delays[message id]` seconds (recording the SMS then, as a phone
    would show it), and 500 the first `sms_fail_first[message id]` times."""

    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    slow_seconds: float = 0.2
    fail_first: dict[str, int] = field(default_factory=dict)
    gone_first: dict[str, int] = field(default_factory=dict)
    sms: list[dict[str, Any]] = field(default_factory=list)
    sms_delays: dict[str, float] = field(default_factory=dict)
    sms_fail_first: dict[str, int] = field(default_factory=dict)

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _app(receiver: Receiver) -> Starlette:
    async def record(request: Request) -> Hit:
        body = await request.body()
        headers = dict(request.headers)
        try:
            envelope = Webhook(SECRET).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            envelope, verified = json.loads(body or b"{}"), False
        hit = Hit(
            request.url.path,
            headers.get("webhook-id", ""),
            dict(envelope.get("data") or {}),
            verified,
            asyncio.get_running_loop().time(),
            body,
            headers,
        )
        receiver.hits.append(hit)
        return hit

    async def ok(request: Request) -> Response:
        hit = await record(request)
        return Response(status_code=204 if hit.verified else 400)

    async def slow(request: Request) -> Response:
        hit = await record(request)
        await asyncio.sleep(receiver.slow_seconds)
        return Response(status_code=204 if hit.verified else 400)

    async def status(request: Request) -> Response:
        await record(request)
        headers = {}
        if "retry_after" in request.query_params:
            headers["Retry-After"] = request.query_params["retry_after"]
        return Response(status_code=int(request.path_params["code"]), headers=headers)

    async def redirect(request: Request) -> Response:
        await record(request)
        return RedirectResponse(f"{receiver.base}/ok/redirected", status_code=307)

    async def hang(request: Request) -> Response:
        await record(request)
        await receiver.release.wait()
        return Response(status_code=204)

    async def flaky(request: Request) -> Response:
        await record(request)
        name = request.path_params["name"]
        left = receiver.fail_first.get(name, 0)
        if left > 0:
            receiver.fail_first[name] = left - 1
            return Response(status_code=500)
        return Response(status_code=204)

    async def sms(request: Request) -> Response:
        # The SMS gateway adapter's contract (services/sla_worker/delivery/sms.py).
        body = await request.json()
        key = request.headers.get("idempotency-key", "")
        await asyncio.sleep(receiver.sms_delays.get(key, 0.0))
        left = receiver.sms_fail_first.get(key, 0)
        if left > 0:
            receiver.sms_fail_first[key] = left - 1
            return Response(status_code=500)
        receiver.sms.append(
            {
                **body,
                "idempotency_key": request.headers.get("idempotency-key"),
                "authorization": request.headers.get("authorization"),
            }
        )
        return Response(status_code=200)

    async def gone(request: Request) -> Response:
        await record(request)
        name = request.path_params["name"]
        left = receiver.gone_first.get(name, 0)
        if left > 0:
            receiver.gone_first[name] = left - 1
            return Response(status_code=410)
        return Response(status_code=204)

    def tolerant(endpoint: Callable[[Request], Awaitable[Response]]) -> Any:
        # A worker SIGKILLed mid-request is expected here, not an error worth a traceback.
        async def handle(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ClientDisconnect:
                return Response(status_code=499)

        return handle

    routes = {
        "/sms": sms,
        "/ok/{name}": ok,
        "/slow/{name}": slow,
        "/status/{code:int}": status,
        "/redirect": redirect,
        "/hang": hang,
        "/flaky/{name}": flaky,
        "/gone/{name}": gone,
    }
    return Starlette(routes=[Route(p, tolerant(e), methods=["POST"]) for p, e in routes.items()])


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    config = uvicorn.Config(
        _app(receiver),
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    sock = socket.create_server(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    receiver.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        await task
        sock.close()


class Inbox:
    """aiosmtpd handler keeping what it accepts; `nobody@` is refused like a real relay."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def to(self, address: str) -> list[Envelope]:
        return [e for e in self.envelopes if address in e.rcpt_tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- rows as the producer writes them ----------------------------------------------------------


def topic() -> str:
    """A topic of this test only: subscriptions in other tests never match it."""
    return f"test{uuid.uuid4().hex[:10]}.happened"


async def insert_subscription(
    db: Database,
    url: str,
    event_types: list[str],
    *,
    secret: str = SECRET,
    active: bool = True,
) -> uuid.UUID:
    sid = uuid.uuid4()
    now = datetime.now(UTC)
    async with db.connect() as conn:
        await conn.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, description, url, event_types, secret, "
                "active, created_at, updated_at) VALUES (:id, '测试订阅', :url, "
                "CAST(:types AS jsonb), :secret, :active, :now, :now)"
            ),
            {
                "id": sid,
                "url": url,
                "types": json.dumps(event_types),
                "secret": secret,
                "active": active,
                "now": now,
            },
        )
    webhook_interest_cache.invalidate()  # as the API does after saving one
    return sid


async def insert_outbox(db: Database, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert outbox rows the way `shared.db.changes` does (omitted columns take defaults)."""
    columns = sorted({k for row in rows for k in row})
    cols = ", ".join(columns)
    sql = (
        f"INSERT INTO outbox ({cols}) SELECT {cols} FROM jsonb_populate_recordset("
        "NULL::outbox, CAST(:doc AS jsonb)) RETURNING id"
    )
    async with db.connect() as conn:
        result = await conn.execute(text(sql), {"doc": json_dumps(list(rows))})
        return [int(r[0]) for r in result]


def webhook_row(event_type: str, **payload: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "created_at": now,
        "available_at": now,
        "kind": "webhook",
        "topic": event_type,
        "payload": {"event_type": event_type, **payload},
    }


def message_row(
    template_key: str,
    *,
    audience: str,
    complaint_id: uuid.UUID | str | None = None,
    recipient_user_id: uuid.UUID | str | None = None,
    channel: str | None = None,
    **payload: Any,
) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "created_at": now,
        "available_at": now,
        "kind": "message",
        "topic": f"test.{template_key}",
        "template_key": template_key,
        "audience": audience,
        "complaint_id": str(complaint_id) if complaint_id else None,
        "recipient_user_id": str(recipient_user_id) if recipient_user_id else None,
        "channel": channel,
        "payload": payload,
    }


async def outbox_rows(db: Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    async with db.connect() as conn:
        result = await conn.execute(text("SELECT * FROM outbox WHERE id = ANY(:ids)"), {"ids": ids})
        return {r["id"]: dict(r) for r in result.mappings()}


async def deliveries_of(db: Database, outbox_ids: list[int]) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        result = await conn.execute(
            text("SELECT * FROM webhook_deliveries WHERE outbox_id = ANY(:ids) ORDER BY id"),
            {"ids": outbox_ids},
        )
        return [dict(r) for r in result.mappings()]


async def make_due(db: Database, table: str, ids: list[int]) -> None:
    """Travel in time for one row: its next attempt is now (instead of waiting 5 minutes)."""
    assert table in ("outbox", "webhook_deliveries")
    async with db.connect() as conn:
        await conn.execute(
            text(
                f"UPDATE {table} SET next_attempt_at = now() - interval '1 second' "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )


async def isolate_subscriptions(db: Database) -> None:
    """Tests share one database: subscriptions other tests left behind (schemathesis creates
    some with random public URLs and "*") must never receive this test's events, and nothing
    may be sent beyond the loopback receivers of these tests."""
    async with db.connect() as conn:
        await conn.execute(
            text(
                "UPDATE webhook_subscriptions SET active = false, "
                "disabled_reason = 'disabled by test isolation' "
                "WHERE active AND (event_types ? '*' OR url NOT LIKE 'http://127.0.0.1:%')"
            )
        )
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'skipped' WHERE status = 'pending' "
                "AND subscription_id IN (SELECT id FROM webhook_subscriptions "
                "                        WHERE url NOT LIKE 'http://127.0.0.1:%')"
            )
        )


async def forget_producer_rows(db: Database, complaint_id: uuid.UUID | str) -> None:
    """Registering a complaint makes the producer owe its own notifications (acknowledgement,
    complaint.registered …); these tests deliver only the rows they insert themselves."""
    async with db.connect() as conn:
        await conn.execute(
            text(
                "UPDATE outbox SET status = 'skipped', last_error = 'skipped by the test' "
                "WHERE complaint_id = :id AND status = 'pending'"
            ),
            {"id": str(complaint_id)},
        )


async def registered(client: httpx.AsyncClient, db: Database, **overrides: Any) -> dict[str, Any]:
    """A complaint registered through the API whose own notifications are forgotten, so that
    a test delivers only the rows it inserts for it."""
    response = await client.post("/api/v1/complaints", json=complaint_body(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    await forget_producer_rows(db, body["id"])
    return body
