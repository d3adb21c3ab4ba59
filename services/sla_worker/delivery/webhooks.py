"""Signed webhook delivery (签名回调), Standard Webhooks spec.

Each attempt sends the same ``webhook-id`` (the outbox message id) so receivers can de-duplicate
retries, a fresh ``webhook-timestamp`` (receivers reject signatures older than about 5 minutes),
and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body``.

SSRF and DNS rebinding: the host is resolved here, every address is checked against
`shared.domain.netguard`, and the request is sent to the checked address itself (URL rewritten
to the IP, ``Host`` header and TLS SNI / certificate check kept on the original name), so a
second, different DNS answer can never be what we connect to. ``Connection: close`` keeps a
pooled connection (opened for another host on the same IP, or before a policy change) from
carrying the request without this call's checks.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
from standardwebhooks import Webhook

from services.sla_worker.delivery.outcome import DeliveryOutcome, describe, is_header_token
from shared.domain.netguard import (
    AllowList,
    IPAddress,
    UnsafeURLError,
    check_resolved_addresses,
    check_webhook_url,
    parse_allow_list,
    parse_ip_host,
)
from shared.domain.retry import parse_retry_after
from shared.domain.webhook_secrets import MAX_KEY_BYTES, MIN_KEY_BYTES, PREFIX, signing_key

DEFAULT_TIMEOUT = 15.0
USER_AGENT = "Kesu-Webhooks/1.0"


def new_webhook_client() -> httpx.AsyncClient:
    """The client deliveries should use.

    No proxies from the environment (a proxy would connect to a name we did not check), no
    redirects, and a cookie jar that stores nothing: receivers on one IP must not see each
    other's cookies now that requests are addressed by IP.
    """
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        headers={"User-Agent": USER_AGENT},
    )


def signed_body(event_type: str, payload: Mapping[str, Any], timestamp: datetime) -> str:
    """The JSON envelope Standard Webhooks recommends: ``{"type", "timestamp", "data"}``."""
    envelope = {"type": event_type, "timestamp": timestamp.isoformat(), "data": payload}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _signer(secret: str) -> Webhook | None:
    key = signing_key(secret)
    return None if key is None else Webhook(key)


async def deliver_webhook(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    message_id: str,
    event_type: str,
    payload: Mapping[str, Any],
    timestamp: datetime,
    allow: Sequence[str],
    # A parameter, not the caller's asyncio.timeout: httpx needs it too, and the outcome
    # must say "timed out" rather than the job being cancelled.
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
) -> DeliveryOutcome:
    """Attempt one delivery; never raises for anything the receiver or the network does.

    `timestamp` is the time of this attempt (it is signed and receivers check it is recent),
    not the event time, which belongs in `payload`. `timeout` bounds the whole attempt: name
    resolution, connecting, sending and waiting for the status line.
    """
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    # The library stamps the datetime as UTC without converting it, so convert first.
    at = timestamp.astimezone(UTC)
    try:
        check_webhook_url(url, allow)
        allow_list = parse_allow_list(allow)
        target = httpx.URL(url)
    except UnsafeURLError as exc:
        return DeliveryOutcome.refused(exc.detail)
    except (ValueError, httpx.InvalidURL) as exc:
        return DeliveryOutcome.refused(f"invalid webhook URL or allow list: {describe(exc)}")
    if not is_header_token(message_id):
        return DeliveryOutcome.failed("message id must be printable ASCII without spaces")
    signer = _signer(secret)
    if signer is None:
        return DeliveryOutcome.failed(
            f"invalid webhook secret (expected {PREFIX} + base64 of "
            f"{MIN_KEY_BYTES}-{MAX_KEY_BYTES} bytes)"
        )
    try:
        body = signed_body(event_type, dict(payload), at)
    except (TypeError, ValueError) as exc:
        return DeliveryOutcome.failed(f"payload is not JSON: {describe(exc)}")
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signer.sign(message_id, at, body),
        "content-type": "application/json; charset=utf-8",
        "connection": "close",
    }
    try:
        async with asyncio.timeout(timeout):
            return await _send_pinned(client, target, allow_list, headers, body, timeout, at)
    except UnsafeURLError as exc:
        return DeliveryOutcome.refused(exc.detail)
    except TimeoutError:
        return DeliveryOutcome.retry(f"timed out after {timeout:g} s")


async def _send_pinned(
    client: httpx.AsyncClient,
    target: httpx.URL,
    allow: AllowList,
    headers: dict[str, str],
    body: str,
    io_timeout: float,
    now: datetime,
) -> DeliveryOutcome:
    host = target.raw_host.decode("ascii")  # IDNA-encoded, as DNS and SNI want it
    port = target.port or (443 if target.scheme == "https" else 80)
    literal = parse_ip_host(host)
    try:
        addresses = [literal] if literal is not None else await _resolve(host, port)
    except OSError as exc:
        return DeliveryOutcome.retry(f"cannot resolve host: {describe(exc)}")
    check_resolved_addresses(host, addresses, allow)
    # Host keeps the name (and an explicit port) the receiver expects; SNI and the certificate
    # check follow the name too, because the URL we send to only holds the address.
    headers = {**headers, "host": target.netloc.decode("ascii")}
    extensions = {"sni_hostname": host} if literal is None and target.scheme == "https" else {}
    last_error = "no address to connect to"
    for address in addresses:
        request = client.build_request(
            "POST",
            target.copy_with(host=str(address)),
            content=body.encode("utf-8"),
            headers=headers,
            extensions=extensions,
            timeout=httpx.Timeout(io_timeout),
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:
            # Nothing was sent yet, so the next address is safe to try (as browsers do).
            last_error = f"cannot connect to {address}: {describe(exc)}"
            continue
        except httpx.TimeoutException as exc:
            return DeliveryOutcome.retry(f"timed out: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return DeliveryOutcome.retry(f"transport error: {describe(exc)}")
        # The body is never read: a receiver must not make us buffer an arbitrary response.
        await response.aclose()
        return _classify(response, now)
    return DeliveryOutcome.retry(last_error)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = parse_ip_host(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


def _classify(response: httpx.Response, now: datetime) -> DeliveryOutcome:
    code = response.status_code
    if 200 <= code < 300:
        return DeliveryOutcome.delivered(code)
    if code == 410:
        return DeliveryOutcome.gone(code)
    if 300 <= code < 400:
        # Following would reach a target nobody checked (and could be an internal address).
        return DeliveryOutcome.retry(
            f"HTTP {code}: redirect{_where(response)} not followed", http_status=code
        )
    retry_after = None
    if code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    return DeliveryOutcome.retry(f"HTTP {code}", http_status=code, retry_after=retry_after)


def _where(response: httpx.Response) -> str:
    # Only scheme and host go to the log: a Location's path or query may carry tokens.
    try:
        location = httpx.URL(response.headers.get("location", ""))
    except httpx.InvalidURL:
        return ""
    return f" to {location.scheme}://{location.host}" if location.host else ""
