"""The SQLAlchemy async engine on asyncpg, and the URL conventions.

`DATABASE_URL` may be given as `postgresql://…` (as compose and libpq tools expect); the engine
always uses the asyncpg driver. Unix-socket servers (the embedded PostgreSQL) are written
`postgresql://user@/db?host=/socket/dir`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from asyncpg import PostgresError
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

AsyncConnectionContext = AbstractAsyncContextManager[AsyncConnection]
AsyncTransactionContext = AbstractAsyncContextManager[AsyncConnection]


def asyncpg_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=_default).decode()


def _default(value: Any) -> Any:
    # Decimal (money) keeps its exact digits; asyncpg's UUID subclass is not one orjson knows.
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, timedelta):  # PostgreSQL reads "90.5 seconds" as an interval
        return f"{value.total_seconds()} seconds"
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    engine = create_async_engine(
        asyncpg_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,  # a round trip per checkout; `_refuse_closed` costs none
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "kesu"}},
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server closed (PostgreSQL restarted, a backend terminated) is
    replaced at checkout, with every connection pooled before it. asyncpg marks a connection
    closed as soon as its socket ends, so this needs no round trip. Without it a closed
    connection stays pooled: `fetch` sends autocommit statements to asyncpg directly, where
    SQLAlchemy never sees the disconnect, and the pool would hand it out again and again."""
    if dbapi_connection.driver_connection.is_closed():
        raise InvalidatePoolError("PostgreSQL closed this pooled connection")


async def is_autocommit(conn: AsyncConnection) -> bool:
    """Whether `conn` runs each statement as its own transaction (`Database.connect()`), as
    opposed to inside one transaction (`Database.begin()`)."""
    return _autocommit(await conn.get_raw_connection())


def _autocommit(pooled: Any) -> bool:
    return bool(getattr(pooled.dbapi_connection, "autocommit", False))


async def fetch(conn: AsyncConnection, sql: str, *args: Any) -> Sequence[Mapping[Any, Any]]:
    """Rows of hand-written SQL (`$1`, `$2` … parameters), with asyncpg's errors (e.g.
    `UniqueViolationError`) whichever kind of connection runs it.

    On an autocommit connection the statement goes to asyncpg directly: SQLAlchemy's
    per-statement work cost more CPU than asyncpg's whole round trip, and a registration runs
    two statements (bench/intake.py). Inside a transaction it must go through SQLAlchemy,
    whose asyncpg adapter begins the transaction lazily, on its first statement: a statement
    sent to asyncpg directly could run before that BEGIN, outside the transaction.
    """
    pooled = await conn.get_raw_connection()
    if _autocommit(pooled):
        driver: asyncpg.Connection = pooled.driver_connection
        rows: Sequence[Mapping[Any, Any]] = await driver.fetch(sql, *args)
        return rows
    try:
        result = await conn.exec_driver_sql(sql, args)
    except DBAPIError as exc:
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if isinstance(cause, PostgresError):
            raise cause from exc
        raise
    return result.mappings().all()


class Database:
    """The engine and the two ways to use it.

    - `connect()`: a connection in autocommit mode. Each statement is its own transaction; this
      is what reads and single-statement complaint changes (`shared.db.changes`) use, at one
      round trip per statement.
    - `begin()`: a connection inside one transaction, committed when the block ends normally and
      rolled back on error — for changes that need several statements.
    """

    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 10) -> None:
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def connect(self) -> AsyncConnectionContext:
        return self._autocommit.connect()

    def begin(self) -> AsyncTransactionContext:
        return self.engine.begin()

    async def dispose(self) -> None:
        await self.engine.dispose()
