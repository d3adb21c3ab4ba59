"""The SQLAlchemy async engine on asyncpg, and the URL conventions.

`DATABASE_URL` may be given as `postgresql://…` (as compose and libpq tools expect); the engine
always uses the asyncpg driver. Unix-socket servers (the embedded PostgreSQL) are written
`postgresql://user@/db?host=/socket/dir`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from asyncpg import PostgresError
from asyncpg.exceptions import (
    InsufficientResourcesError,
    OperatorInterventionError,
    PostgresConnectionError,
)
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared.outage import Outage

AsyncConnectionContext = AbstractAsyncContextManager[AsyncConnection]
AsyncTransactionContext = AbstractAsyncContextManager[AsyncConnection]

log = logging.getLogger("kesu.db")

CONNECT_TIMEOUT_SECONDS = 10  # asyncpg's default is 60: every request would wait that long

# What PostgreSQL being unreachable looks like: no socket, a connection lost or refused, the
# server shutting down or starting up, no connection slot left, the pool exhausted.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    PostgresConnectionError,
    OperatorInterventionError,
    InsufficientResourcesError,
    PoolTimeout,
)


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached now (the API answers 503 with Retry-After). The cause is
    chained; the outage itself is logged once (`Database.outage`), not per request."""


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps: SQLAlchemy's `orig`, a chained cause) says the database
    could not be reached, as opposed to refusing a statement."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNREACHABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, asyncpg.InterfaceError) and "closed" in str(current):
            return True
        wrapped = getattr(current, "orig", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
    return False


def asyncpg_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=json_default).decode()


def json_default(value: Any) -> Any:
    """What orjson does not know itself, as our JSON stores it."""
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
        connect_args={
            "server_settings": {"timezone": "UTC", "application_name": "kesu"},
            "timeout": CONNECT_TIMEOUT_SECONDS,
        },
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
        try:
            rows: Sequence[Mapping[Any, Any]] = await driver.fetch(sql, *args)
        except Exception as exc:
            if unreachable(exc):
                # SQLAlchemy did not see this error: tell its pool the connection is gone.
                await conn.invalidate(exc)
            raise
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

    Either raises `DatabaseUnavailable` when PostgreSQL cannot be reached; `outage` logs the
    first such failure and the first success after it.

    When every pooled connection is in use, callers wait their turn first come, first served
    (`_admitted`). SQLAlchemy's async pool is not fair: a newcomer takes a connection handed
    back while others wait, and a woken waiter that finds it gone queues again at the end, so
    under load some requests waited far longer than the rest (bench/system.py at 64 callers on
    a pool of 30: p50 170–200 ms, p99 1.0–1.4 s).
    """

    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 10) -> None:
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.outage = Outage("PostgreSQL", log, consequence="requests that need it get 503")
        self._slots = pool_size + max_overflow
        self._timeout = float(self.engine.sync_engine.pool.timeout())  # type: ignore[attr-defined]
        self._turns: asyncio.Semaphore | None = None
        self._turns_loop: asyncio.AbstractEventLoop | None = None

    def connect(self) -> AsyncConnectionContext:
        return self._watched(self._autocommit.connect())

    def begin(self) -> AsyncTransactionContext:
        return self._watched(self.engine.begin())

    @asynccontextmanager
    async def _watched(self, opened: AsyncConnectionContext) -> AsyncIterator[AsyncConnection]:
        try:
            turns = await self._admitted()
            try:
                async with opened as conn:
                    yield conn
            finally:
                turns.release()
        except Exception as exc:
            if unreachable(exc):
                if self.outage.failed(exc):
                    # The pooled connections are as dead as this one: a fresh pool, so the
                    # first requests after the server is back do not meet them.
                    await self.engine.dispose(close=False)
                raise DatabaseUnavailable("PostgreSQL is unreachable") from exc
            raise
        if self.outage.down:
            self.outage.recovered()

    async def _admitted(self) -> asyncio.Semaphore:
        """A turn at the pool: at once while a connection is free, else after those who asked
        before (asyncio's semaphore hands a released turn to its first waiter). Waiting longer
        than the pool's own timeout is the pool's timeout, as before."""
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns_loop is not loop:  # one per event loop (tests)
            self._turns, self._turns_loop = asyncio.Semaphore(self._slots), loop
        turns = self._turns
        if turns.locked():
            try:
                async with asyncio.timeout(self._timeout):
                    await turns.acquire()
            except TimeoutError as exc:
                raise PoolTimeout(
                    f"no connection free within {self._timeout:g} s ({self._slots} in use)"
                ) from exc
        else:
            await turns.acquire()
        return turns

    async def dispose(self) -> None:
        await self.engine.dispose()
