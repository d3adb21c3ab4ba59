"""The benchmark corpus (bench/corpus.py): rows the domain accepts, the same for a seed, and a
database made once and reused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg

from bench.corpus import COLUMNS, JSON_COLUMNS, Generator, database_name, ensure_seeded
from shared.db.complaints import state_from_row
from shared.domain.events import parse_event
from tests.support.servers import Servers, _asyncpg_dsn, drop_database, with_database

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _generated(seed: int, n: int = 400) -> list:
    return list(Generator(n=n, months=12, seed=seed, now=NOW).complaints())


def test_every_row_is_a_valid_state_and_every_event_parses() -> None:
    statuses = set()
    for g in _generated(7):
        row = dict(zip(COLUMNS, g.complaint, strict=True))
        for name in JSON_COLUMNS:
            if row[name] is not None:
                row[name] = json.loads(row[name])
        state = state_from_row(row)
        statuses.add(state.status.value)
        assert state.version == len(g.events)
        for _cid, _seq, kind, _ak, _aid, _at, payload in g.events:
            parse_event(kind, json.loads(payload))
        assert all(e[5] <= NOW for e in g.events)
    assert {"closed", "withdrawn", "invalid", "investigating"} <= statuses


def test_the_same_seed_gives_the_same_corpus() -> None:
    first, again, other = _generated(11, 100), _generated(11, 100), _generated(12, 100)
    assert [g.complaint for g in first] == [g.complaint for g in again]
    assert [g.complaint for g in first] != [g.complaint for g in other]


async def _counts(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM complaints) AS c, "
            "(SELECT count(*) FROM complaint_events) AS e, "
            "(SELECT count(*) FROM complaints WHERE search_vector IS NULL) AS unindexed"
        )
        return row["c"], row["e"], row["unindexed"]
    finally:
        await conn.close()


def test_seeded_once_then_reused(test_servers: Servers) -> None:
    seed = 424242
    url = with_database(test_servers.admin_url, database_name(150, seed))
    drop_database(test_servers.admin_url, url)
    try:
        assert ensure_seeded(test_servers.admin_url, 150, seed=seed) == url
        complaints, events, unindexed = asyncio.run(_counts(url))
        assert (complaints, unindexed) == (150, 0)
        assert events > complaints
        asyncio.run(_mark(url))
        assert ensure_seeded(test_servers.admin_url, 150, seed=seed) == url
        assert asyncio.run(_marked(url))  # reused, not made again
    finally:
        drop_database(test_servers.admin_url, url)


async def _mark(url: str) -> None:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        await conn.execute("CREATE TABLE reuse_mark (x int)")
    finally:
        await conn.close()


async def _marked(url: str) -> bool:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        return bool(await conn.fetchval("SELECT to_regclass('reuse_mark') IS NOT NULL"))
    finally:
        await conn.close()
