"""After PostgreSQL restarts (or drops a connection), the pool hands out no dead connection:
`fetch` sends autocommit statements to asyncpg directly, where SQLAlchemy never sees the
disconnect, so without a check at checkout every pooled connection would fail once more."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from shared.db.engine import Database, fetch


async def test_connections_the_server_closed_are_replaced_at_checkout(database_url: str) -> None:
    db = Database(database_url, pool_size=2, max_overflow=0)
    try:
        # Two pooled connections, as a busy process has.
        async with db.connect() as first, db.connect() as second:
            pids = [
                (await first.execute(text("SELECT pg_backend_pid()"))).scalar_one(),
                (await second.execute(text("SELECT pg_backend_pid()"))).scalar_one(),
            ]
        killer = Database(database_url, pool_size=1, max_overflow=0)
        try:
            async with killer.connect() as conn:
                for pid in pids:  # what a server restart does to every connection
                    await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await killer.dispose()
        await asyncio.sleep(0.2)  # the client notices the closed sockets
        for _ in range(3):
            async with db.connect() as conn:
                rows = await fetch(conn, "SELECT pg_backend_pid() AS pid")
            assert rows[0]["pid"] not in pids
    finally:
        await db.dispose()
