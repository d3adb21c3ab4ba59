"""Scheduled report mails in the embedded mode's local sink (`make run` has no mail server): the
worker's delivery puts them in the sink with their attachments — the Excel workbook and the
chart page — kept beside `messages.jsonl` under `attachments/<message id>/`, listed at /dev/sink
and downloaded from it (only from this machine). On a database of the module's own: producing
the week's reports here must not add recipients to another module's runs."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import openpyxl
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.intake_api.app import create_app
from shared.application.bootstrap import Collaborators
from shared.application.report_schedule import produce_due_reports
from shared.db.engine import Database
from tests.conftest import make_settings
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, STAFF_PASSWORD, sign_in
from tests.support.servers import Servers
from tests.worker.test_local_sink import deliver_to_sink

MONDAY_0900 = datetime(2026, 11, 30, 1, 0, 5, tzinfo=UTC)  # 09:00 Asia/Shanghai
XLSX = "投诉周报_2026-11-23.xlsx"
PAGE = "投诉周报_2026-11-23.html"


@pytest.fixture(scope="module")
def sink_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sink-reports")


@pytest_asyncio.fixture(scope="module")
async def local_app(own_url: str, test_servers: Servers, sink_dir: Path) -> AsyncIterator[FastAPI]:
    """The API as `make run` starts it (the local sink's directory), on this module's database."""
    application = create_app(
        make_settings(own_url, test_servers.redis_url, local_sink_dir=sink_dir)
    )
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://kesu.test")


async def test_report_mails_reach_the_sink_with_their_attachments(
    local_app: FastAPI, sink_dir: Path
) -> None:
    db: Database = local_app.state.db
    email = f"zongjian-{uuid.uuid4().hex[:6]}@kesu.example"
    async with _client(local_app) as anon:
        admin = await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)
        director = await anon.post(
            "/api/v1/users",
            json={
                "username": f"director-{uuid.uuid4().hex[:8]}",
                "display_name": "赵总监",
                "role": "director",
                "password": STAFF_PASSWORD,
                "email": email,
            },
            headers=admin,
        )
        assert director.status_code == 201, director.text
        subscribed = await anon.post(
            "/api/v1/report-subscriptions",
            json={"kind": "weekly", "recipient_ids": [director.json()["id"]]},
            headers=admin,
        )
        assert subscribed.status_code == 201, subscribed.text
        made = await produce_due_reports(Collaborators(db), now=MONDAY_0900)
        assert "2026-11-23" in {p.period.first.isoformat() for p in made}

        # The worker's deliveries as `make run` runs them: no SMTP server, the local sink.
        lines = await deliver_to_sink(db, sink_dir)
        (mail,) = [m for m in lines if m["to"] == email and "2026-11-23" in (m["subject"] or "")]
        assert mail["channel"] == "email"
        assert "投诉周报" in mail["subject"]
        assert sorted(mail["attachments"]) == sorted([XLSX, PAGE])
        kept = sink_dir / "attachments" / mail["message_id"]
        assert sorted(p.name for p in kept.iterdir()) == sorted([XLSX, PAGE])
        book = openpyxl.load_workbook(io.BytesIO((kept / XLSX).read_bytes()))
        assert "概要" in book.sheetnames
        assert "echarts" in (kept / PAGE).read_text("utf-8")

        # Listed on the sink's page, each a link to its download.
        page = await anon.get("/dev/sink")
        assert page.status_code == 200
        links = [f"/dev/sink/{mail['message_id']}/{quote(n)}" for n in (XLSX, PAGE)]
        for link in links:
            assert f'href="{link}"' in page.text
        workbook = await anon.get(links[0])
        assert workbook.status_code == 200
        assert workbook.content == (kept / XLSX).read_bytes()
        assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
        disposition = workbook.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == XLSX
        chart_page = await anon.get(links[1])
        assert chart_page.status_code == 200
        assert chart_page.headers["content-disposition"].startswith("attachment;")
        assert chart_page.content == (kept / PAGE).read_bytes()

        # Nothing outside a message's own folder, and nothing for another machine.
        for wrong in (
            f"/dev/sink/{mail['message_id']}/messages.jsonl",
            f"/dev/sink/{mail['message_id']}/..%2F..%2Fmessages.jsonl",
            f"/dev/sink/..%2F{mail['message_id']}/{quote(XLSX)}",
            f"/dev/sink/{uuid.uuid4()}/{quote(XLSX)}",
        ):
            assert (await anon.get(wrong)).status_code == 404, wrong
    async with _client(local_app, peer="192.0.2.7") as stranger:
        assert (await stranger.get(links[0])).status_code == 404
