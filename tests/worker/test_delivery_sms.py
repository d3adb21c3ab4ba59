"""SMS gateway adapter against a real local HTTP gateway."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services.sla_worker.delivery import DeliveryStatus, HttpSmsGateway, SmsGateway

TOKEN = "sms-token-3f9a"
TEXT = "【示例公司】您好！您受理号为 KS-20261120-0007 的投诉已处理完毕，请您知悉。"


@dataclass
class Gateway:
    base: str = ""
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.requests if p == path)


def _app(gateway: Gateway) -> Starlette:
    async def record(request: Request) -> None:
        gateway.requests.append((request.url.path, dict(request.headers), await request.json()))

    async def send(request: Request) -> Response:
        await record(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, 401)
        return JSONResponse({"id": "sms-1"}, 200)

    async def status(request: Request) -> Response:
        await record(request)
        headers = {}
        if "retry_after" in request.query_params:
            headers["Retry-After"] = request.query_params["retry_after"]
        return JSONResponse({}, int(request.path_params["code"]), headers)

    async def redirect(request: Request) -> Response:
        await record(request)
        return RedirectResponse(f"{gateway.base}/elsewhere", status_code=307)

    async def hang(request: Request) -> Response:
        await record(request)
        await gateway.release.wait()
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/sms", send, methods=["POST"]),
            Route("/status/{code:int}", status, methods=["POST"]),
            Route("/redirect", redirect, methods=["POST"]),
            Route("/elsewhere", send, methods=["POST"]),
            Route("/hang", hang, methods=["POST"]),
        ]
    )


@pytest_asyncio.fixture(scope="module")
async def gateway() -> AsyncIterator[Gateway]:
    state = Gateway()
    config = uvicorn.Config(
        _app(state),
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    # Listening before uvicorn starts: the kernel queues early connections, so no start-up wait.
    sock = socket.create_server(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    state.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield state
    finally:
        state.release.set()
        server.should_exit = True
        await task
        sock.close()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as c:
        yield c


def _sms(client: httpx.AsyncClient, url: str, **kwargs: Any) -> SmsGateway:
    return HttpSmsGateway(client, url=url, token=TOKEN, **kwargs)


async def test_sent_with_token_idempotency_key_and_intact_chinese(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    sms = _sms(client, f"{gateway.base}/sms", sign_name="示例公司")
    outcome = await sms.send(to="+8613800138000", text=TEXT, message_id="msg_7")
    assert outcome.status is DeliveryStatus.DELIVERED
    assert outcome.http_status == 200
    path, headers, body = gateway.requests[-1]
    assert path == "/sms"
    assert body == {"to": "+8613800138000", "text": TEXT, "sign_name": "示例公司"}
    assert headers["idempotency-key"] == "msg_7"


async def test_sign_name_is_optional(gateway: Gateway, client: httpx.AsyncClient) -> None:
    outcome = await _sms(client, f"{gateway.base}/sms").send(
        to="+8613800138000", text=TEXT, message_id="msg_8"
    )
    assert outcome.status is DeliveryStatus.DELIVERED
    assert gateway.requests[-1][2] == {"to": "+8613800138000", "text": TEXT}


async def test_wrong_token_is_retried_and_never_logged(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    sms = HttpSmsGateway(client, url=f"{gateway.base}/sms", token="stale-token")
    outcome = await sms.send(to="+8613800138000", text=TEXT, message_id="msg_9")
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.RETRY, 401)
    assert "stale-token" not in (outcome.error or "")
    assert "stale-token" not in repr(sms)


async def test_rejected_request_is_permanent(gateway: Gateway, client: httpx.AsyncClient) -> None:
    for code in (400, 422):
        outcome = await _sms(client, f"{gateway.base}/status/{code}").send(
            to="+86-bad", text=TEXT, message_id="msg_10"
        )
        assert (outcome.status, outcome.http_status) == (DeliveryStatus.FAILED, code)


async def test_throttled_gateway_gives_retry_after(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    outcome = await _sms(client, f"{gateway.base}/status/429?retry_after=60").send(
        to="+8613800138000", text=TEXT, message_id="msg_11"
    )
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.retry_after == timedelta(seconds=60)


async def test_server_error_is_retried(gateway: Gateway, client: httpx.AsyncClient) -> None:
    outcome = await _sms(client, f"{gateway.base}/status/502").send(
        to="+8613800138000", text=TEXT, message_id="msg_12"
    )
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.RETRY, 502)


async def test_redirect_is_not_followed(gateway: Gateway, client: httpx.AsyncClient) -> None:
    outcome = await _sms(client, f"{gateway.base}/redirect").send(
        to="+8613800138000", text=TEXT, message_id="msg_13"
    )
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.RETRY, 307)
    assert gateway.count("/elsewhere") == 0


async def test_hanging_gateway_times_out(gateway: Gateway, client: httpx.AsyncClient) -> None:
    sms = _sms(client, f"{gateway.base}/hang", timeout=0.3)
    outcome = await sms.send(to="+8613800138000", text=TEXT, message_id="msg_14")
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.error is not None
    assert "timed out" in outcome.error


async def test_unusable_message_id_fails_without_sending(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    before = len(gateway.requests)
    outcome = await _sms(client, f"{gateway.base}/sms").send(
        to="+8613800138000", text=TEXT, message_id="msg 16"
    )
    assert outcome.status is DeliveryStatus.FAILED
    assert len(gateway.requests) == before


async def test_unreachable_gateway_is_retried(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = await _sms(client, f"http://127.0.0.1:{port}/sms").send(
        to="+8613800138000", text=TEXT, message_id="msg_15"
    )
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.http_status is None
