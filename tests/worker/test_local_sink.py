"""The embedded mode's local sink: with no SMS gateway and no mail server (as in `make run`),
the worker writes customers' messages to the sink's file instead of letting them wait, and
staff read them at /dev/sink — only where the sink is on, and only from the machine itself."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.intake_api.app import create_app
from services.sla_worker.delivery import new_webhook_client
from services.sla_worker.delivery.run import run_deliveries
from services.sla_worker.delivery.runtime import DeliveryConfig, DeliveryRuntime
from services.sla_worker.delivery.sink import LocalSink
from shared.config import Settings
from shared.db.engine import Database
from shared.local_sink import SunkMessage, write_message
from tests.conftest import FULL_INTEGRATION_SCOPES, make_settings
from tests.support import own_app
from tests.support.factories import complaint_body, mobile
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in

# The session's app, clients, staff and `db` on a database of this module's own: its delivery
# runs would otherwise spend their budget on the other tests' messages (tests/support/own_app.py).
settings, app, anon, admin_headers, client, db, staff = own_app.OWN_APP_FIXTURES


@pytest.fixture(scope="module")
def sink_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sink")


@pytest_asyncio.fixture(scope="module")
async def local_app(settings: Settings, sink_dir: Path) -> AsyncIterator[FastAPI]:
    """The API as `make run` starts it: with the local sink's directory."""
    application = create_app(
        make_settings(
            settings.require_database_url(),
            settings.require_redis_url(),
            local_sink_dir=sink_dir,
        )
    )
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://kesu.test")


async def test_customer_messages_go_to_the_sink_and_its_page(
    local_app: FastAPI, db: Database, sink_dir: Path
) -> None:
    phone = mobile()
    async with _client(local_app) as anon:
        admin = await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)
        key = await create_key(anon, admin, FULL_INTEGRATION_SCOPES)
        created = await anon.post(
            "/api/v1/complaints",
            json=complaint_body(customer={"name": "王芳", "phone": phone}),
            headers=key.headers,
        )
        assert created.status_code == 201, created.text
        reference = created.json()["reference"]
        lines = await deliver_to_sink(db, sink_dir)
        mine = [m for m in lines if reference in m["body"]]
        assert len(mine) == 1, lines
        assert mine[0]["channel"] == "sms"
        assert mine[0]["to"] == f"+86{phone}"
        assert mine[0]["at"].endswith("+08:00")
        assert "示例电器" in mine[0]["body"]

        page = await anon.get("/dev/sink")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert reference in page.text
        assert f"+86{phone}" in page.text
        assert "本地收件箱" in page.text


async def test_links_in_the_sink_are_clickable(local_app: FastAPI, sink_dir: Path) -> None:
    link = "http://127.0.0.1:8000/h5/survey?token=abc.def-123"
    write_message(
        sink_dir,
        SunkMessage(datetime.now(UTC), "sms", "+8613800000000", None, f"请评价：{link} <b>", "m1"),
    )
    async with _client(local_app) as anon:
        page = await anon.get("/dev/sink")
    assert f'<a href="{link}">{link}</a>' in page.text
    assert "&lt;b&gt;" in page.text  # message text is escaped
    assert re.search(r"<tr><td>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}</td><td>短信</td>", page.text)


async def test_the_sink_page_is_for_this_machine_and_make_run_only(
    local_app: FastAPI, app: FastAPI
) -> None:
    async with _client(local_app, peer="192.0.2.7") as stranger:
        assert (await stranger.get("/dev/sink")).status_code == 404
    async with _client(app) as deployed:  # no KESU_LOCAL_SINK_DIR: as in a deployment
        assert (await deployed.get("/dev/sink")).status_code == 404


async def deliver_to_sink(db: Database, sink_dir: Path) -> list[dict[str, Any]]:
    """One delivery run as `make run`'s worker runs it (no gateways, the local sink at
    `sink_dir`); the sink's lines after it."""
    runtime = DeliveryRuntime(
        db=db,
        http=new_webhook_client(),
        config=DeliveryConfig(smtp=None, company_name="示例电器"),
        worker_id="local",
        sink=LocalSink(sink_dir),
    )
    try:
        await run_deliveries(runtime)
    finally:
        await runtime.aclose()
        await runtime.http.aclose()
    return [json.loads(line) for line in (sink_dir / "messages.jsonl").read_text().splitlines()]
