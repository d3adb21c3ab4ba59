"""Whether PostgreSQL answers: the database half of the API's readiness check (/readyz)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_PING = text("SELECT 1")


async def ping(conn: AsyncConnection) -> None:
    await conn.execute(_PING)
