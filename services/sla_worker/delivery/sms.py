"""SMS through a gateway adapter (短信网关).

Chinese SMS providers each have their own API; the worker only knows `SmsGateway`, and
`HttpSmsGateway` speaks a small JSON contract a thin relay (or a provider with a generic HTTP
API) can accept: ``POST {to, text, sign_name?}`` with a bearer token and an ``Idempotency-Key``
carrying the outbox message id, so a gateway that honours it never sends a retry twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx

from services.sla_worker.delivery.outcome import DeliveryOutcome, describe, is_header_token
from shared.domain.retry import parse_retry_after

DEFAULT_TIMEOUT = 15.0
# The gateway rejected the request itself (bad number, text too long, invalid JSON): sending
# the same request again cannot succeed. Other statuses (401 after a token rotation, 404 while
# a gateway is redeployed, 5xx) may clear up, so they are retried.
_PERMANENT = frozenset({400, 413, 422})


class SmsGateway(Protocol):
    async def send(self, *, to: str, text: str, message_id: str) -> DeliveryOutcome:
        """Send one SMS; never raises for gateway or network failures."""
        ...


@dataclass(frozen=True, slots=True)
class HttpSmsGateway:
    """`SmsGateway` over HTTP JSON; the token is kept out of repr and logs."""

    client: httpx.AsyncClient
    url: str
    token: str = field(repr=False)
    sign_name: str | None = None  # 短信签名, e.g. 【某公司】, when the gateway needs it per request
    timeout: float = DEFAULT_TIMEOUT

    async def send(self, *, to: str, text: str, message_id: str) -> DeliveryOutcome:
        if not is_header_token(message_id):
            return DeliveryOutcome.failed("message id must be printable ASCII without spaces")
        payload: dict[str, str] = {"to": to, "text": text}
        if self.sign_name:
            payload["sign_name"] = self.sign_name
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": message_id}
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(
                    self.url,
                    json=payload,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout),
                    # A redirect would carry the number and text somewhere nobody configured.
                    follow_redirects=False,
                )
        except TimeoutError:
            return DeliveryOutcome.retry(f"timed out after {self.timeout:g} s")
        except httpx.TimeoutException as exc:
            return DeliveryOutcome.retry(f"timed out: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return DeliveryOutcome.retry(f"transport error: {describe(exc)}")
        return _classify(response)


def _classify(response: httpx.Response) -> DeliveryOutcome:
    code = response.status_code
    if 200 <= code < 300:
        return DeliveryOutcome.delivered(code)
    if code in _PERMANENT:
        return DeliveryOutcome.failed(
            f"gateway rejected the message: HTTP {code}", http_status=code
        )
    retry_after = None
    if code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    return DeliveryOutcome.retry(f"HTTP {code}", http_status=code, retry_after=retry_after)
