"""Alembic: upgrade head, downgrade base, upgrade head again, and the models match the schema."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stdout

from alembic import command
from sqlalchemy import text

from services.devstack.migrate import alembic_config, downgrade_base, upgrade_head
from shared.db.engine import Database
from tests.support.servers import Servers, create_database, drop_database


async def _tables(url: str) -> set[str]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            return {r[0] for r in rows}
    finally:
        await db.dispose()


def test_upgrade_downgrade_upgrade_and_models_match(test_servers: Servers) -> None:
    url = create_database(test_servers.admin_url, migrate=False)
    try:
        upgrade_head(url)
        after_first = asyncio.run(_tables(url))
        assert {"complaints", "complaint_events", "idempotency_keys"} <= after_first
        downgrade_base(url)
        assert asyncio.run(_tables(url)) <= {"alembic_version"}
        upgrade_head(url)
        assert asyncio.run(_tables(url)) == after_first
        out = io.StringIO()
        with redirect_stdout(out):
            command.check(alembic_config(url))  # raises if models and migrations differ
    finally:
        drop_database(test_servers.admin_url, url)
