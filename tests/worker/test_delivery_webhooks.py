"""Webhook delivery against a real local receiver that verifies Standard Webhooks signatures."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from services.sla_worker.delivery import (
    DeliveryOutcome,
    DeliveryStatus,
    deliver_webhook,
    new_webhook_client,
)
from shared.domain.webhook_secrets import new_webhook_secret

SECRET = new_webhook_secret()
ALLOW_LOOPBACK = ["127.0.0.1/32"]


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    base: str = ""
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, path: str) -> int:
        return sum(1 for hit in self.hits if hit.path == path)


def _app(receiver: Receiver) -> Starlette:
    async def record(request: Request) -> Hit:
        body = await request.body()
        headers = dict(request.headers)
        try:
            Webhook(SECRET).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        hit = Hit(request.url.path, headers, body, verified)
        receiver.hits.append(hit)
        return hit

    async def ok(request: Request) -> Response:
        hit = await record(request)
        return Response(status_code=204 if hit.verified else 400)

    async def status(request: Request) -> Response:
        await record(request)
        headers = {}
        if "retry_after" in request.query_params:
            headers["Retry-After"] = request.query_params["retry_after"]
        return JSONResponse({"error": "x" * 10}, int(request.path_params["code"]), headers)

    async def redirect(request: Request) -> Response:
        await record(request)
        return RedirectResponse(f"{receiver.base}/target", status_code=302)

    async def target(request: Request) -> Response:
        await record(request)
        return Response(status_code=200)

    async def hang(request: Request) -> Response:
        await record(request)
        await receiver.release.wait()
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/ok", ok, methods=["POST"]),
            Route("/status/{code:int}", status, methods=["POST"]),
            Route("/redirect", redirect, methods=["POST"]),
            Route("/target", target, methods=["POST", "GET"]),
            Route("/hang", hang, methods=["POST"]),
        ]
    )


async def _serve(receiver: Receiver, **ssl_files: str) -> AsyncIterator[uvicorn.Server]:
    config = uvicorn.Config(
        _app(receiver),
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
        **ssl_files,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    # Listening before uvicorn starts: the kernel queues early connections, so no start-up wait.
    sock = socket.create_server(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    receiver.port = sock.getsockname()[1]
    scheme = "https" if ssl_files else "http"
    receiver.base = f"{scheme}://127.0.0.1:{receiver.port}"
    try:
        yield server
    finally:
        receiver.release.set()
        server.should_exit = True
        await task
        sock.close()


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    async for _ in _serve(state):
        yield state


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with new_webhook_client() as c:
        yield c


def _now() -> datetime:
    # Real time: the receiver checks the signed timestamp is within 5 minutes of its clock.
    return datetime.now(UTC).replace(microsecond=0)


async def _deliver(
    client: httpx.AsyncClient,
    url: str,
    *,
    message_id: str = "msg_1",
    allow: list[str] | None = None,
    limit: float = 5.0,
    secret: str = SECRET,
    timestamp: datetime | None = None,
) -> DeliveryOutcome:
    outcome = await deliver_webhook(
        client,
        url=url,
        secret=secret,
        message_id=message_id,
        event_type="complaint.escalated",
        payload={"reference": "KS-20261120-0007", "level": 2, "note": "升级为二级投诉"},
        timestamp=timestamp or _now(),
        allow=ALLOW_LOOPBACK if allow is None else allow,
        timeout=limit,
    )
    assert SECRET not in (outcome.error or "")
    assert SECRET.removeprefix("whsec_") not in (outcome.error or "")
    return outcome


async def test_success_is_signed_and_verifiable(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    before = receiver.count("/ok")
    outcome = await _deliver(client, f"{receiver.base}/ok", message_id="msg_ok")
    assert outcome == DeliveryOutcome(DeliveryStatus.DELIVERED, 204)
    assert receiver.count("/ok") == before + 1
    hit = receiver.hits[-1]
    assert hit.verified
    assert hit.headers["webhook-id"] == "msg_ok"
    assert hit.headers["webhook-signature"].startswith("v1,")
    envelope = Webhook(SECRET).verify(hit.body, hit.headers)
    assert envelope["type"] == "complaint.escalated"
    assert envelope["data"] == {
        "reference": "KS-20261120-0007",
        "level": 2,
        "note": "升级为二级投诉",
    }
    assert hit.headers["content-type"].startswith("application/json")


async def test_repeated_deliveries_keep_the_message_id(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    first = _now()
    for timestamp in (first, first + timedelta(seconds=30)):
        outcome = await _deliver(
            client, f"{receiver.base}/ok", message_id="msg_same", timestamp=timestamp
        )
        assert outcome.status is DeliveryStatus.DELIVERED
    same = [h for h in receiver.hits if h.headers.get("webhook-id") == "msg_same"]
    assert len(same) == 2
    assert all(h.verified for h in same)
    # Each attempt is signed at its own time, so a late retry is not rejected as too old.
    assert same[0].headers["webhook-timestamp"] != same[1].headers["webhook-timestamp"]


async def test_timestamp_in_another_zone_still_verifies(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    shanghai = _now().astimezone(timezone(timedelta(hours=8)))
    outcome = await _deliver(client, f"{receiver.base}/ok", timestamp=shanghai)
    assert outcome.status is DeliveryStatus.DELIVERED
    assert receiver.hits[-1].verified
    assert receiver.hits[-1].headers["webhook-timestamp"] == str(int(shanghai.timestamp()))


async def test_server_error_is_retried(receiver: Receiver, client: httpx.AsyncClient) -> None:
    outcome = await _deliver(client, f"{receiver.base}/status/500")
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.http_status == 500
    assert outcome.retry_after is None


async def test_other_client_errors_are_retried(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    outcome = await _deliver(client, f"{receiver.base}/status/404")
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.RETRY, 404)


async def test_429_retry_after_seconds(receiver: Receiver, client: httpx.AsyncClient) -> None:
    outcome = await _deliver(client, f"{receiver.base}/status/429?retry_after=120")
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.http_status == 429
    assert outcome.retry_after == timedelta(seconds=120)


async def test_503_retry_after_http_date(receiver: Receiver, client: httpx.AsyncClient) -> None:
    now = _now()
    when = format_datetime(now + timedelta(minutes=7), usegmt=True)
    url = str(httpx.URL(f"{receiver.base}/status/503", params={"retry_after": when}))
    outcome = await _deliver(client, url, timestamp=now)
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.RETRY, 503)
    assert outcome.retry_after == timedelta(minutes=7)


async def test_410_means_gone(receiver: Receiver, client: httpx.AsyncClient) -> None:
    outcome = await _deliver(client, f"{receiver.base}/status/410")
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.GONE, 410)


async def test_redirect_is_not_followed(receiver: Receiver, client: httpx.AsyncClient) -> None:
    outcome = await _deliver(client, f"{receiver.base}/redirect")
    assert (outcome.status, outcome.http_status) == (DeliveryStatus.RETRY, 302)
    assert outcome.error is not None
    assert "redirect" in outcome.error
    assert receiver.count("/redirect") >= 1
    assert receiver.count("/target") == 0


async def test_redirect_is_not_followed_even_by_a_following_client(receiver: Receiver) -> None:
    async with httpx.AsyncClient(follow_redirects=True) as following:
        outcome = await _deliver(following, f"{receiver.base}/redirect")
    assert outcome.status is DeliveryStatus.RETRY
    assert receiver.count("/target") == 0


async def test_hanging_receiver_times_out(receiver: Receiver, client: httpx.AsyncClient) -> None:
    outcome = await _deliver(client, f"{receiver.base}/hang", limit=0.3)
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.error is not None
    assert "timed out" in outcome.error
    assert receiver.count("/hang") == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/ok",
        "http://[::1]:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://0x7f000001:{port}/ok",
        "http://2130706433:{port}/ok",
        "http://127.1:{port}/ok",
        "http://localhost:{port}/ok",
        "http://10.0.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://user:pw@127.0.0.1:{port}/ok",
        "file:///etc/passwd",
    ],
)
async def test_ssrf_targets_are_refused(
    receiver: Receiver, client: httpx.AsyncClient, url: str
) -> None:
    before = len(receiver.hits)
    outcome = await _deliver(client, url.format(port=receiver.port), allow=[])
    assert outcome.status is DeliveryStatus.REFUSED, outcome
    assert len(receiver.hits) == before


async def test_name_resolving_to_loopback_is_refused_at_send_time(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    # "localhost.localdomain"-style names are not caught at save time; resolution catches them.
    name = socket.gethostname()
    infos = await asyncio.get_running_loop().getaddrinfo(name, receiver.port)
    addresses = {str(info[4][0]) for info in infos}
    if not all(a.startswith("127.") or a == "::1" for a in addresses):
        pytest.skip(f"{name} does not resolve to loopback only here")
    before = len(receiver.hits)
    outcome = await _deliver(client, f"http://{name}:{receiver.port}/ok", allow=[])
    assert outcome.status is DeliveryStatus.REFUSED
    assert len(receiver.hits) == before


async def test_allowed_name_connects_to_the_checked_address_with_its_host_header(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    outcome = await _deliver(client, f"http://localhost:{receiver.port}/ok", allow=["localhost"])
    assert outcome.status is DeliveryStatus.DELIVERED
    assert receiver.hits[-1].headers["host"] == f"localhost:{receiver.port}"
    assert receiver.hits[-1].verified


async def test_bad_secret_fails_without_sending(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    before = len(receiver.hits)
    for secret in ("whsec_", "whsec_not base64!", "whsec_c2hvcnQ="):
        outcome = await _deliver(client, f"{receiver.base}/ok", secret=secret)
        assert outcome.status is DeliveryStatus.FAILED
    assert len(receiver.hits) == before


async def test_unusable_message_id_fails_once_instead_of_retrying(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    before = len(receiver.hits)
    outcome = await _deliver(client, f"{receiver.base}/ok", message_id="msg\r\nX-Evil: 1")
    assert outcome.status is DeliveryStatus.FAILED
    assert len(receiver.hits) == before


async def test_closed_port_is_retried(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = await _deliver(client, f"http://127.0.0.1:{port}/ok")
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.http_status is None


async def test_unresolvable_host_is_retried(client: httpx.AsyncClient) -> None:
    outcome = await _deliver(client, "https://kesu-hooks.invalid/x", limit=3.0)
    assert outcome.status is DeliveryStatus.RETRY


# --- TLS: the URL is rewritten to the address, but SNI and the certificate check keep the name.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest_asyncio.fixture(scope="module")
async def tls_receiver(certificate: tuple[Path, Path]) -> AsyncIterator[Receiver]:
    cert, key = certificate
    state = Receiver()
    async for _ in _serve(state, ssl_certfile=str(cert), ssl_keyfile=str(key)):
        yield state


async def test_https_keeps_sni_and_certificate_check_on_the_name(
    tls_receiver: Receiver, certificate: tuple[Path, Path]
) -> None:
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    async with httpx.AsyncClient(verify=trust, trust_env=False) as tls_client:
        by_name = await _deliver(
            tls_client, f"https://localhost:{tls_receiver.port}/ok", allow=["localhost"]
        )
        # Same server by address: the certificate does not name 127.0.0.1, so this must fail,
        # which shows verification is really on and follows the URL's host.
        by_address = await _deliver(tls_client, f"https://127.0.0.1:{tls_receiver.port}/ok")
    assert by_name.status is DeliveryStatus.DELIVERED
    assert tls_receiver.hits[-1].headers["host"] == f"localhost:{tls_receiver.port}"
    assert by_address.status is DeliveryStatus.RETRY
    assert by_address.error is not None
    assert "CERTIFICATE" in by_address.error.upper()
