"""The candidates of a group complaint (集体投诉, seed 002 §4.3.3) are read in date order from
the index, a bounded number of rows, even for a model the statistics do not know yet: the start
of a wave of calls about one product (issue 16; migration 0052, `kesu_group_candidates`).

Before, PostgreSQL estimated a new model at a handful of rows and read every complaint about
it by a bitmap scan, to sort them and keep the oldest 200: each registration of the wave read
the whole wave."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest_asyncio

from bench.corpus import COLUMNS, Generator
from shared.db import complaints as repo
from shared.db.engine import Database
from tests.support.servers import _asyncpg_dsn

NOW = datetime(2026, 12, 3, 8, tzinfo=UTC)
MODEL = "WAVE-XQG100-B14"
EARLIER = 20  # complaints about other models, all the statistics know
WAVE = 780  # complaints about MODEL, registered after the statistics were taken
LIMIT = repo.GROUP_CANDIDATES_MAX


def _wave(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """The corpus's rows made a wave about MODEL over the last two days, one customer each."""
    out = []
    for i, row in enumerate(rows):
        values = dict(zip(COLUMNS, row, strict=True))
        product = orjson.loads(str(values["product"])) if values["product"] else {}
        customer = orjson.loads(str(values["customer"]))
        values.update(
            id=uuid.uuid4(),
            reference=f"KS-WAVE-{i:06d}",
            kind="complaint",
            group_id=None,
            created_at=NOW - timedelta(days=2) + timedelta(seconds=97 * i),
            product=orjson.dumps({**product, "model": MODEL}).decode(),
            customer=orjson.dumps({**customer, "phone": f"+86139{i:08d}"}).decode(),
        )
        out.append(tuple(values[c] for c in COLUMNS))
    return out


@pytest_asyncio.fixture(scope="module")
async def wave(own_url: str) -> AsyncIterator[str]:
    conn = await asyncpg.connect(**_asyncpg_dsn(own_url))
    try:
        generated = Generator(n=EARLIER + WAVE, months=6, seed=16, now=NOW).complaints()
        rows = [g.complaint for g in generated]
        await conn.copy_records_to_table("complaints", records=rows[:EARLIER], columns=COLUMNS)
        await conn.execute("ANALYZE complaints")  # the statistics know nothing of MODEL
        about_model = _wave(rows[EARLIER:])
        await conn.copy_records_to_table("complaints", records=about_model, columns=COLUMNS)
    finally:
        await conn.close()
    yield own_url


async def test_a_wave_about_one_model_reads_only_its_oldest_candidates_seed_002_4_3_3(
    wave: str,
) -> None:
    """The registration's lookup statement as the API runs it: prepared once per connection
    and executed again and again, so that PostgreSQL soon plans it once for any model (a
    generic plan, blind to how common the model is). Its last execution reads the oldest LIMIT
    candidates, not the whole wave."""
    conn = await asyncpg.connect(**_asyncpg_dsn(wave))
    try:
        # Whatever makes the planner prefer another plan — here the session's settings stand
        # for statistics that put the model at a handful of rows, as at the start of the wave
        # in bench/system.py: reading every row of the model and sorting them.
        await conn.execute("SET enable_indexscan = off")
        since = NOW - timedelta(days=30)
        truth = await conn.fetch(
            "SELECT id FROM complaints WHERE product_model_key = $1 AND created_at >= $2 "
            "AND kind = 'complaint' ORDER BY created_at, id LIMIT $3",
            MODEL.lower(),
            since,
            LIMIT,
        )
        assert len(truth) == LIMIT
        await conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {repo._sequence_name(NOW.date())}")
        lookup = await conn.prepare(repo._INTAKE_LOOKUP)
        args = repo._lookup_params(
            NOW.date(),
            phone="+8613700000000",
            since=since,
            email=None,
            group=repo.GroupQuery(model=MODEL, batch=None, since=since, customer="x"),
        )
        for _ in range(8):  # past the plan cache's five custom plans
            await lookup.fetch(*args)
        read = (
            "SELECT pg_stat_get_xact_tuples_returned('complaints'::regclass)"
            " + pg_stat_get_xact_tuples_fetched('complaints'::regclass)"
        )
        async with conn.transaction():  # no statistics flushed meanwhile: a true difference
            before = await conn.fetchval(read)
            (row,) = await lookup.fetch(*args)
            rows_read = await conn.fetchval(read) - before
        assert row["group_members"] == [r["id"] for r in truth]
        # The oldest LIMIT rows (each an index entry and a row), not the whole wave: a bitmap
        # scan or a sequential one reads all WAVE of them.
        assert WAVE > 2 * LIMIT + 10
        assert rows_read <= 2 * LIMIT + 10, rows_read
    finally:
        await conn.close()


async def test_the_lookup_sums_up_the_wave_seed_002_4_3_3(wave: str) -> None:
    """Through the registration's own statement: the first complaint, the other customers
    among the candidates, no group yet, every candidate still to be linked."""
    db = Database(wave, pool_size=1, max_overflow=0)
    try:
        async with db.connect() as conn:
            found = await repo.intake_lookup(
                conn,
                NOW.date(),
                phone="+8613700000000",
                since=NOW - timedelta(days=30),
                group=repo.GroupQuery(
                    model=MODEL, batch=None, since=NOW - timedelta(days=30), customer="x"
                ),
            )
    finally:
        await db.dispose()
    assert found.group.others == LIMIT  # one customer each, the new one not among them
    assert found.group.existing_group_id is None
    assert len(found.group.members) == LIMIT
    assert found.group.first_id == found.group.members[0]


async def test_no_candidates_for_another_model(wave: str) -> None:
    conn = await asyncpg.connect(**_asyncpg_dsn(wave))
    try:
        rows = await conn.fetch(
            "SELECT * FROM kesu_group_candidates($1, NULL, $2, 9)",
            "other-model",
            NOW - timedelta(30),
        )
    finally:
        await conn.close()
    assert rows == []
