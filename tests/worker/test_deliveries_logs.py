"""Canary personal data never reaches the worker's logs, even when a delivery fails in a way
that echoes it: a relay refusing the address, an SMS gateway adapter crashing with the number
and the text in its exception."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.intake_api.app import create_app
from services.sla_worker.delivery import DeliveryOutcome
from services.sla_worker.delivery.run import run_deliveries
from services.sla_worker.logs import protect_handlers
from shared.db.engine import Database
from tests.conftest import FULL_INTEGRATION_SCOPES, make_settings
from tests.support.factories import mobile
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in
from tests.support.servers import Servers
from tests.worker.test_deliveries_receivers import (
    insert_outbox,
    isolate_subscriptions,
    message_row,
    outbox_rows,
    registered,
)

CANARY_NAME = "金丝雀"


# A database of the module's own: a delivery run sends everything due in its database, and on
# the shared one other tests' pending messages (test_limits.py's acknowledgements) would go
# through this module's deliberately crashing gateway too. `db` and `client` (and so the
# delivery runtimes of tests/worker/conftest.py) are this module's.
@pytest_asyncio.fixture(scope="module")
async def own_app(own_url: str, test_servers: Servers) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(own_url, test_servers.redis_url))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
def db(own_app: FastAPI) -> Database:
    database: Database = own_app.state.db
    return database


@pytest_asyncio.fixture(scope="module")
async def client(own_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=own_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as anon:
        admin = await sign_in(anon, ADMIN_USERNAME, ADMIN_PASSWORD)
        key = await create_key(anon, admin, FULL_INTEGRATION_SCOPES)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://kesu.test", headers=key.headers
    ) as c:
        yield c


@pytest_asyncio.fixture(autouse=True)
async def _only_our_subscriptions(db: Database) -> None:
    await isolate_subscriptions(db)


class CrashingGateway:
    """A gateway adapter with a bug: its exception carries everything it was given."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, *, to: str, text: str, message_id: str) -> DeliveryOutcome:
        self.calls += 1
        raise RuntimeError(f"cannot send {text!r} to {to} ({to.removeprefix('+86')})")


def _canaries(phone: str, email: str) -> list[str]:
    return [phone, f"+86{phone}", f"86{phone}", email, email.split("@")[1], CANARY_NAME]


async def test_failed_deliveries_leave_no_personal_data_in_the_logs(
    db: Database, client: httpx.AsyncClient, make_runtime: Any, caplog: pytest.LogCaptureFixture
) -> None:
    phone = mobile()
    # The local relay refuses nobody@ addresses, echoing them in its reply (as relays do).
    email = f"nobody@canary-{uuid.uuid4().hex[:8]}.example.com"
    by_sms = await registered(client, db, customer={"name": CANARY_NAME, "phone": phone})
    by_mail = await registered(client, db, customer={"name": CANARY_NAME, "email": email})
    rows = [
        message_row(
            "progress_update",
            audience="customer",
            complaint_id=c["id"],
            progress_summary=f"{CANARY_NAME}您好，样品已收到",
        )
        for c in (by_sms, by_mail)
    ]
    sms_row, mail_row = await insert_outbox(db, rows)
    gateway = CrashingGateway()

    with caplog.at_level(logging.DEBUG):
        await run_deliveries(make_runtime(sms=gateway))

    stored = await outbox_rows(db, [sms_row, mail_row])
    assert gateway.calls == 1
    assert stored[sms_row]["status"] == "pending"  # left to its lease, as a bug should be
    assert stored[mail_row]["status"] == "dead"
    assert "550" in stored[mail_row]["last_error"]
    # The local SMTP server's own log (mail.log) is the receiver's, not the worker's.
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    formatter = logging.Formatter("%(name)s %(message)s")
    logged = "\n".join(formatter.format(r) for r in ours)
    assert "RuntimeError" in logged  # the crash was logged, with where it happened
    assert "test_deliveries_logs.py" in logged
    assert {r.name for r in ours} >= {"kesu.worker.deliveries"}
    for canary in _canaries(phone, email):
        assert canary not in logged
        assert canary not in str(stored[mail_row]["last_error"])


def test_records_of_other_loggers_are_masked_at_the_process_handlers() -> None:
    """What `python -m services.sla_worker` installs on its root handlers: arq's own job
    failure logs (with the exception) are masked before they are written."""
    phone, email = mobile(), "canary.arq@example.com"
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        protect_handlers(root)
        try:
            raise ValueError(f"bad recipient {email} / +86{phone}")
        except ValueError:
            logging.getLogger("arq.worker").exception("job failed for %s", phone)
    finally:
        root.removeHandler(handler)
    written = out.getvalue()
    assert "arq.worker job failed" in written
    assert "ValueError" in written
    for canary in _canaries(phone, email):
        assert canary not in written
