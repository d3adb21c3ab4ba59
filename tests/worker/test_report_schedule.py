"""Scheduled reports (定期报表, SPEC §6): an admin subscribes staff; the worker produces the
weekly report at 09:00 on the first working day, once however many workers run at once; it is
kept (listed, downloaded) and e-mailed with the Excel workbook and the chart page attached,
through the outbox to a real local SMTP server; a refused send is retried like any other."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import openpyxl
from sqlalchemy import text

from services.sla_worker.delivery.message_deliveries import deliver_messages
from shared.application.bootstrap import Collaborators
from shared.application.report_schedule import produce_due_reports
from shared.db.engine import Database
from tests.support.principals import STAFF_PASSWORD, Account, sign_in
from tests.worker.test_deliveries_receivers import Inbox, free_port, make_due, outbox_rows

MONDAY_0859 = datetime(2026, 11, 30, 0, 59, tzinfo=UTC)  # 08:59 Asia/Shanghai
MONDAY_0900 = datetime(2026, 11, 30, 1, 0, 5, tzinfo=UTC)
SUBSCRIPTIONS = "/api/v1/report-subscriptions"


async def _user(
    anon: httpx.AsyncClient, admin: dict[str, str], role: str, email: str, **extra: Any
) -> Account:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    created = await anon.post(
        "/api/v1/users",
        json={
            "username": username,
            "display_name": f"{role}-订阅",
            "role": role,
            "password": STAFF_PASSWORD,
            "email": email,
            **extra,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return Account(username, created.json()["id"], await sign_in(anon, username, STAFF_PASSWORD))


async def _runs_of_week(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, recipients FROM report_runs WHERE kind = 'weekly' AND scope = '' "
                "AND period_start = '2026-11-23'"
            )
        )
        return [dict(r) for r in rows.mappings()]


async def _still_pending(db: Database, messages: Sequence[Any]) -> bool:
    rows = await outbox_rows(db, [m.id for m in messages])
    return any(r["status"] == "pending" for r in rows.values())


def _emails_to(inbox: Inbox, address: str) -> list[EmailMessage]:
    messages = []
    for envelope in inbox.to(address):
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


async def test_weekly_report_produced_once_kept_and_emailed_with_attachments(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    db: Database,
    make_runtime: Any,
    smtp: tuple[int, Inbox],
) -> None:
    director_email = f"zongjian-{uuid.uuid4().hex[:6]}@kesu.example"
    director = await _user(anon, admin_headers, "director", director_email)
    auditor_email = f"shenji-{uuid.uuid4().hex[:6]}@kesu.example"
    auditor = await _user(anon, admin_headers, "auditor", auditor_email)
    handler = await _user(anon, admin_headers, "handler", "h@kesu.example", department="quality")
    quality_manager = await _user(
        anon, admin_headers, "manager", "m@kesu.example", department="quality"
    )

    # Recipients must be allowed to read the report: not a handler, and not a department's
    # manager for the company-wide one.
    for outsider in (handler, quality_manager):
        refused = await anon.post(
            SUBSCRIPTIONS,
            json={"kind": "weekly", "recipient_ids": [outsider.id]},
            headers=admin_headers,
        )
        assert refused.status_code == 422, refused.text
    denied = await anon.post(
        SUBSCRIPTIONS,
        json={"kind": "weekly", "recipient_ids": [director.id]},
        headers=director.headers,
    )
    assert denied.status_code == 403
    created = await anon.post(
        SUBSCRIPTIONS,
        json={"kind": "weekly", "recipient_ids": [director.id, auditor.id]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text

    collab = Collaborators(db)
    # At 08:59 the week of 23 November is not due yet (the week before it is).
    early = await produce_due_reports(collab, now=MONDAY_0859)
    assert [p.period.first for p in early] == [date(2026, 11, 16)]
    assert await _runs_of_week(db) == []

    # Two workers at 09:00 at once: the second waits on the first's claim, then finds it made.
    async def hold() -> None:
        await asyncio.sleep(0.3)

    first, second = await asyncio.gather(
        produce_due_reports(Collaborators(db), now=MONDAY_0900, on_claimed=hold),
        produce_due_reports(Collaborators(db), now=MONDAY_0900, on_claimed=hold),
    )
    made = [p for p in first + second if p.period.first.isoformat() == "2026-11-23"]
    assert len(made) == 1
    assert made[0].emails == 2
    assert await produce_due_reports(collab, now=MONDAY_0900) == []
    (run,) = await _runs_of_week(db)
    assert run["recipients"] == 2

    # The e-mails go out with the deliveries. The mail relay is down at first: the messages
    # are retried on the delivery schedule like any other, then sent with the workbook and
    # the page attached, named in Chinese.
    down = make_runtime(smtp=replace(make_runtime().config.smtp, port=free_port()))
    for _ in range(20):
        if not await deliver_messages(down):
            break
    async with db.connect() as conn:
        retry = (
            await conn.execute(
                text(
                    "SELECT id, status, attempts FROM outbox WHERE topic = 'report.produced' "
                    "AND (payload ->> 'report_run_id')::bigint = :run ORDER BY id"
                ),
                {"run": run["id"]},
            )
        ).all()
    assert [(r.status, r.attempts) for r in retry] == [("pending", 1), ("pending", 1)]
    await make_due(db, "outbox", [r.id for r in retry])
    runtime = make_runtime()
    inbox = smtp[1]
    # Until these two are settled: the database is shared, and other tests' due messages are
    # claimed in the same runs (before these, which fell due last).
    for _ in range(200):
        if not await deliver_messages(runtime) or not await _still_pending(db, retry):
            break
    (message,) = [m for m in _emails_to(inbox, director_email) if "2026-11-23" in m["subject"]]
    assert "投诉周报" in message["subject"]
    names = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(names) == {"投诉周报_2026-11-23.xlsx", "投诉周报_2026-11-23.html"}
    workbook = openpyxl.load_workbook(io.BytesIO(names["投诉周报_2026-11-23.xlsx"].get_content()))
    assert "概要" in workbook.sheetnames
    assert "echarts" in names["投诉周报_2026-11-23.html"].get_content()
    assert len([m for m in _emails_to(inbox, auditor_email) if "2026-11-23" in m["subject"]]) == 1

    # Kept: listed and downloadable by readers; a department's manager sees none of these.
    listed = await anon.get("/api/v1/reports/runs", headers=director.headers)
    assert listed.status_code == 200
    ids = [r["id"] for r in listed.json()["items"]]
    assert run["id"] in ids
    one = await anon.get(f"/api/v1/reports/runs/{run['id']}", headers=director.headers)
    assert one.json()["report"]["kind"] == "weekly"
    assert one.json()["period_start"] == "2026-11-23"
    xlsx = await anon.get(
        f"/api/v1/reports/runs/{run['id']}", params={"format": "xlsx"}, headers=director.headers
    )
    assert xlsx.content[:2] == b"PK"
    assert "filename*=UTF-8''" in xlsx.headers["content-disposition"]
    hidden = await anon.get(f"/api/v1/reports/runs/{run['id']}", headers=quality_manager.headers)
    assert hidden.status_code == 404
