"""Fixtures of the delivery tests: a local webhook receiver and SMS gateway, a local SMTP
server, and delivery runtimes with short timeouts pointed at them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from services.sla_worker.delivery import (
    HttpSmsGateway,
    SendCaps,
    SmsGateway,
    new_webhook_client,
)
from services.sla_worker.delivery.runtime import DeliveryConfig, DeliveryRuntime, SmtpConfig
from shared.config import Settings
from shared.db.engine import Database
from tests.worker.test_deliveries_receivers import Inbox, Receiver, free_port, serve_receiver

LOOPBACK = ("127.0.0.1/32",)


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def make_runtime(
    db: Database, settings: Settings, receiver: Receiver, smtp: tuple[int, Inbox]
) -> AsyncIterator[Any]:
    """Builds runtimes with short timeouts; closes them after the test."""
    opened: list[DeliveryRuntime] = []

    def make(
        *,
        per_recipient: str = "100/hour",
        global_cap: str = "10000/minute",
        sms: SmsGateway | None = None,
        **overrides: Any,
    ) -> DeliveryRuntime:
        """`sms`: another gateway adapter than the HTTP one posting to the receiver."""
        config: dict[str, Any] = {
            "webhook_allow": LOOPBACK,
            "webhook_timeout": 1.0,
            "smtp": SmtpConfig(
                host="127.0.0.1",
                port=smtp[0],
                sender="客服中心 <service@kesu.example>",
                starttls=False,
                use_tls=False,
                username=None,
                password=None,
                timeout=5.0,
            ),
            "lease_seconds": 30.0,
            "run_seconds": 5.0,
            "company_name": "示例电器",
            "console_url": "https://console.kesu.example",
        }
        config.update(overrides)
        sms_client = httpx.AsyncClient()
        runtime = DeliveryRuntime(
            db=db,
            http=new_webhook_client(),
            config=DeliveryConfig(**config),
            worker_id=f"test-{uuid.uuid4().hex[:6]}",
            sms=sms or HttpSmsGateway(client=sms_client, url=receiver.url("/sms"), token="t0ken"),
            caps=SendCaps(
                settings.require_redis_url(),
                key_secret=b"test-caps-secret-0123456789",
                per_recipient=per_recipient,
                global_cap=global_cap,
                key_prefix=f"{settings.redis_prefix}:ratecap:{uuid.uuid4().hex[:6]}",
            ),
            _owned=[sms_client],
        )
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        await runtime.http.aclose()
        await runtime.aclose()
