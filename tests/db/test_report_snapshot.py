"""A report's statements run concurrently on several connections (shared/application/reports.py,
`_Reader`) but read one snapshot: a complaint registered while a report is being assembled is
in all of its figures or in none, so the figures add up (issue 12)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.reports import _Reader
from shared.calendar_data import default_calendar
from shared.db import reports as repo
from shared.db.engine import Database, fetch
from shared.domain.reference import local_date
from shared.domain.reports import Period, WorkingClock
from tests.conftest import Staff
from tests.support.flow import register

_RECEIVED = "SELECT pg_backend_pid() AS pid, count(*) AS n FROM complaints WHERE created_at >= $1"


async def _received(conn: AsyncConnection, since: datetime) -> tuple[int, int]:
    (row,) = await fetch(conn, _RECEIVED, since)
    return int(row["pid"]), int(row["n"])


async def test_a_change_committed_between_a_reports_queries_is_in_none_of_them(
    db: Database, anon: httpx.AsyncClient, staff: Staff
) -> None:
    today = local_date(datetime.now(UTC))
    period = Period.month_of(today)
    since = period.start
    reader = _Reader(db, default_calendar(), WorkingClock(default_calendar(), period.first, today))
    counted, released = asyncio.Event(), asyncio.Event()

    async def first(conn: AsyncConnection) -> tuple[int, int]:
        seen = await _received(conn, since)
        counted.set()
        await released.wait()  # holds this connection: the next query needs another one
        return seen

    async with reader:
        held = reader.run(first)  # started now, on the first connection
        await counted.wait()
        await register(anon, staff.agent.headers)  # committed by the API, on its own connection
        second: Any = await reader.run(lambda c: _received(c, since))
        released.set()
        totals: Any = await reader.run(
            lambda c: repo.received_totals(c, period.start, period.end, None)
        )
        before = await held
    async with db.connect() as conn:
        after = await _received(conn, since)
    assert second[0] != before[0]  # two connections, two transactions
    assert second[1] == before[1]  # the same snapshot: the registration is in neither
    assert int(totals["received"]) <= before[1]
    assert after[1] == before[1] + 1  # and it was committed
