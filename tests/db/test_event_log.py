"""The event log is append-only in the database, and the projection can be rebuilt from it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import complaints as repo
from shared.db.engine import Database
from shared.domain.events import replay
from tests.support.factories import complaint_body


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE complaint_events SET type = 'tampered'",
        "DELETE FROM complaint_events",
        "TRUNCATE complaint_events CASCADE",
    ],
)
async def test_database_refuses_to_change_events(
    client: httpx.AsyncClient, db: Database, statement: str
) -> None:
    assert (await client.post("/api/v1/complaints", json=complaint_body())).status_code == 201
    async with db.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM complaint_events"))).scalar_one()
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text(statement))
        after = (await conn.execute(text("SELECT count(*) FROM complaint_events"))).scalar_one()
    assert after == before > 0


async def test_rebuilding_every_projection_from_events_gives_the_same_rows(
    client: httpx.AsyncClient, db: Database
) -> None:
    for _ in range(3):
        assert (await client.post("/api/v1/complaints", json=complaint_body())).status_code == 201
    async with db.connect() as conn:
        ids = [r[0] for r in await conn.execute(text("SELECT id FROM complaints"))]
        assert ids
        for complaint_id in ids:
            stored = await repo.get_state(conn, complaint_id)
            log = await repo.list_events(conn, complaint_id)
            rebuilt = replay((event, meta) for event, meta, _ in log)
            assert rebuilt == stored
