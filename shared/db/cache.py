"""Process caches of what changes rarely and carries a version in the database: the business
calendars, the SLA policies, the rule sets (`CalendarCache`, `PolicyCache`, `RulesCache`).

One shape for all three: a value per database and key, re-read only when its version in the
database changes. A hit costs nothing within `recheck_after` seconds of the last check, then
one cheap read of the version; the value is loaded again only when that differs. The process
that makes a change calls `invalidate` after its commit, so it sees the change at once; other
processes within `recheck_after` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# The version of a key as stored now (a calendar's `version`, a table's fingerprint ...).
ReadVersion = Callable[[AsyncConnection, K], Awaitable[object]]
# Loads a key's value with its version. `seen` is the version just read when a cached value
# turned out stale (None on a first load): a loader whose version is read apart from the value
# uses it rather than reading it again.
Load = Callable[[AsyncConnection, K, object | None], Awaitable[tuple[object, V]]]
# Run once per database and key before its first load (e.g. seeding a calendar).
Prepare = Callable[[AsyncConnection, K], Awaitable[object]]


@dataclass
class _Entry(Generic[V]):
    value: V
    version: object
    checked: float


class VersionedCache(Generic[K, V]):
    def __init__(
        self,
        *,
        read_version: ReadVersion[K],
        load: Load[K, V],
        prepare: Prepare[K] | None = None,
        recheck_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_version = read_version
        self._load = load
        self._prepare = prepare
        self._recheck_after = recheck_after
        self._clock = clock
        # Keyed by database too: one process may talk to several (the test suite does).
        self._entries: dict[tuple[str, K], _Entry[V]] = {}
        self._prepared: set[tuple[str, K]] = set()

    async def get(self, conn: AsyncConnection, key: K) -> V:
        """The current value of `key` (whatever `load` raises for an unknown key)."""
        slot = (database_key(conn), key)
        entry = self._entries.get(slot)
        now = self._clock()
        if entry is not None and now - entry.checked < self._recheck_after:
            return entry.value
        if self._prepare is not None and slot not in self._prepared:
            await self._prepare(conn, key)
            self._prepared.add(slot)
        seen = None
        if entry is not None:
            seen = await self._read_version(conn, key)
            if seen == entry.version:
                entry.checked = now
                return entry.value
        version, value = await self._load(conn, key, seen)
        self._entries[slot] = _Entry(value, version, now)
        return value

    def invalidate(self, key: K | None = None) -> None:
        """Forget `key` (None: every key): the next `get` reads the database. What `prepare`
        did is not undone."""
        for slot in list(self._entries):
            if key is None or slot[1] == key:
                del self._entries[slot]


class TableCache(Generic[V]):
    """One value per database, built from a whole (small) table and built again when the
    table's fingerprint changes: (rows, sum of their versions), which moves whenever a row is
    added or its version bumped."""

    def __init__(
        self,
        version: ColumnElement[int],
        load: Callable[[AsyncConnection], Awaitable[V]],
        *,
        recheck_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fingerprint = select(func.count(), func.coalesce(func.sum(version), 0))
        self._load_value = load
        self._cache: VersionedCache[None, V] = VersionedCache(
            read_version=self._read_fingerprint,
            load=self._load,
            recheck_after=recheck_after,
            clock=clock,
        )

    async def get(self, conn: AsyncConnection) -> V:
        return await self._cache.get(conn, None)

    def invalidate(self) -> None:
        self._cache.invalidate()

    async def _read_fingerprint(self, conn: AsyncConnection, _: None) -> tuple[int, int]:
        count, total = (await conn.execute(self._fingerprint)).one()
        return int(count), int(total)

    async def _load(self, conn: AsyncConnection, _: None, seen: object | None) -> tuple[object, V]:
        mark = seen if seen is not None else await self._read_fingerprint(conn, None)
        return mark, await self._load_value(conn)


_database_keys: WeakKeyDictionary[AsyncEngine, str] = WeakKeyDictionary()


def database_key(conn: AsyncConnection) -> str:
    """Which database a connection talks to (process-wide caches are per database). Rendered
    once per engine: hashing a URL renders it each time, which shows in the worker's batches."""
    key = _database_keys.get(conn.engine)
    if key is None:
        key = _database_keys[conn.engine] = conn.engine.url.render_as_string()
    return key
