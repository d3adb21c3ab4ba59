"""A text search reads the index one window of days at a time (migration 0050, issue 13): over
a year of complaints, every page of every order — ranked, newest first, oldest first, with
filters — holds exactly the complaints `LIKE '%term%'` finds on their raw columns, each once,
in the list's order. The ground truth is computed here, in SQL written out from the columns
(not through the search's functions)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text

from bench.corpus import COLUMNS, Generator
from shared.db import complaints as repo
from shared.db.engine import Database
from shared.domain.access import Visibility
from shared.domain.search import parse_query
from tests.support.servers import _asyncpg_dsn

NOW = datetime(2026, 12, 3, tzinfo=UTC)
EVERYONE = Visibility(everything=True)

# What a reader would grep: the complaint's own words, then everything searchable.
_OWN = (
    "lower(concat_ws(' ', reference, content, product ->> 'model', "
    "product ->> 'serial_number', product ->> 'order_number', product ->> 'part_number', "
    "product ->> 'symptom', desired_resolution ->> 'detail', subject ->> 'staff_name', "
    "subject ->> 'shop', channel_meta ->> 'regulator_case_number'))"
)
_ALL = (
    f"{_OWN} || ' ' || lower(concat_ws(' ', investigation ->> 'findings', root_cause, "
    "solution ->> 'description', solution ->> 'customer_response_reason', "
    "solution ->> 'implementation_note', "
    "jsonb_path_query_array(solution, '$.remedies[*].amount')::text, "
    "jsonb_path_query_array(solution, '$.remedies[*].description')::text, "
    "jsonb_path_query_array(corrective_actions, '$[*].description')::text, "
    "jsonb_path_query_array(corrective_actions, '$[*].note')::text, "
    "regulator_reply ->> 'content', search_notes))"
)


@pytest_asyncio.fixture(scope="module")
async def year(own_url: str) -> AsyncIterator[Database]:
    """800 complaints registered over twelve months (bench/corpus.py's generator)."""
    conn = await asyncpg.connect(**_asyncpg_dsn(own_url))
    try:
        rows = [g.complaint for g in Generator(n=800, months=12, seed=13, now=NOW).complaints()]
        await conn.copy_records_to_table("complaints", records=rows, columns=COLUMNS)
        await conn.execute("ANALYZE complaints")
    finally:
        await conn.close()
    db = Database(own_url, pool_size=1, max_overflow=0)
    yield db
    await db.dispose()


async def _truth(db: Database, q: str, where: str = "true") -> list[dict[str, Any]]:
    terms = q.lower().split()
    like = " AND ".join(f"strpos({_ALL}, :t{i}) > 0" for i in range(len(terms)))
    own = " AND ".join(f"strpos({_OWN}, :t{i}) > 0" for i in range(len(terms)))
    params = {f"t{i}": t for i, t in enumerate(terms)}
    async with db.connect() as conn:
        result = await conn.execute(
            text(f"SELECT id, created_at, ({own}) AS own FROM complaints WHERE {like} AND {where}"),
            params,
        )
        return [dict(r._mapping) for r in result]


async def _pages(
    db: Database,
    q: str,
    *,
    ranked: bool,
    descending: bool,
    visible: Visibility = EVERYONE,
    **filters: Any,
) -> list[uuid.UUID]:
    query = parse_query(q, contact=False)
    wanted = repo.ComplaintFilters(text=query, **filters)
    found: list[uuid.UUID] = []
    after = None
    while True:
        async with db.connect() as conn:
            rows, after = await repo.list_page(
                conn,
                wanted,
                limit=7,
                visible=visible,
                descending=descending,
                after=after,
                ranked=ranked,
            )
        found += [r["id"] for r in rows]
        if after is None:
            return found


QUERIES = ["漏水", "上门维修", "xqg100 漏水", "退款 320", "门封条脱", "吞卡"]


@pytest.mark.parametrize("q", QUERIES)
async def test_every_window_every_page_in_order(year: Database, q: str) -> None:
    truth = await _truth(year, q)
    assert truth, q  # the corpus has them: the test can fail
    days = {r["created_at"].date() for r in truth}
    newest = sorted(truth, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    oldest = list(reversed(newest))
    ranked = [r for r in newest if r["own"]] + [r for r in newest if not r["own"]]

    assert await _pages(year, q, ranked=False, descending=True) == [r["id"] for r in newest]
    assert await _pages(year, q, ranked=False, descending=False) == [r["id"] for r in oldest]
    assert await _pages(year, q, ranked=True, descending=True) == [r["id"] for r in ranked]
    assert len(days) > 1 or len(truth) == 1


async def test_filters_and_visibility_apply_in_every_window(year: Database) -> None:
    """A creation range and a department's view (the list's rule) narrow the search; the
    search never returns what the list hides."""
    frm, to = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    truth = await _truth(
        year,
        "漏水",
        "department = 'quality' AND created_at >= '2026-03-01Z' AND created_at < '2026-09-01Z'",
    )
    assert truth
    newest = sorted(truth, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    quality = Visibility(department="quality")
    found = await _pages(
        year,
        "漏水",
        ranked=False,
        descending=True,
        visible=quality,
        created_from=frm,
        created_to=to,
    )
    assert found == [r["id"] for r in newest]
    async with year.connect() as conn:
        hidden = await conn.execute(
            text("SELECT count(*) FROM complaints WHERE department <> 'quality'")
        )
        assert hidden.scalar_one() > 0


# The list's filters the search index holds (migration 0051): each case's filters, the same
# condition written out in SQL for the ground truth, and the principal.
FILTERED = [
    ({"status": ("closed",)}, "status = 'closed'", EVERYONE),
    (
        {"status": ("investigating", "resolved")},
        "status IN ('investigating', 'resolved')",
        EVERYONE,
    ),
    (
        {"category": "product_quality", "level": 1},
        "category = 'product_quality' AND level = 1",
        EVERYONE,
    ),
    (
        {"channel": "phone", "kind": "complaint"},
        "channel = 'phone' AND kind = 'complaint'",
        EVERYONE,
    ),
    ({"department": "quality", "level": 2}, "department = 'quality' AND level = 2", EVERYONE),
    ({"unassigned": True}, "assignee_id IS NULL", EVERYONE),
    (
        {"status": ("closed",)},
        "status = 'closed' AND department = 'service'",
        Visibility(department="service"),
    ),
    ({}, "level <= 2 AND department = 'quality'", Visibility(max_level=2, department="quality")),
    ({}, "level <= 1", Visibility(max_level=1)),
    (
        {},
        "(assignee_id IS NULL OR status = 'resolved') AND level <= 2",
        Visibility(queue_max_level=2),
    ),
]


@pytest.mark.parametrize("q", ["漏水", "上门维修", "退款"])
@pytest.mark.parametrize(("filters", "where", "visible"), FILTERED)
async def test_filters_in_the_index_match_like(
    year: Database, q: str, filters: dict[str, Any], where: str, visible: Visibility
) -> None:
    """With the filters ANDed into each window's `tsquery` (the index's lexemes of status,
    kind, category, level, channel, department, assignee), every page holds exactly what
    `LIKE` and the filters' SQL find, in the list's order, ranked or not, either way."""
    truth = await _truth(year, q, where)
    assert truth, (q, where)  # the corpus has them: the test can fail
    newest = sorted(truth, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    ranked = [r for r in newest if r["own"]] + [r for r in newest if not r["own"]]
    kw = {"visible": visible, **filters}
    assert await _pages(year, q, ranked=True, descending=True, **kw) == [r["id"] for r in ranked]
    assert await _pages(year, q, ranked=False, descending=True, **kw) == [r["id"] for r in newest]
    assert await _pages(year, q, ranked=False, descending=False, **kw) == [
        r["id"] for r in reversed(newest)
    ]


async def test_assignee_filter_and_view_in_the_index(year: Database) -> None:
    """A handler's view (their cases, or their department's) and the assignee filter, read
    through the index's assignee lexeme: exactly the `LIKE` matches the list shows them."""
    async with year.connect() as conn:
        busiest = (
            await conn.execute(
                text(
                    "SELECT assignee_id FROM complaints WHERE assignee_id IS NOT NULL "
                    "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
                )
            )
        ).scalar_one()
    handler = Visibility(assignee_id=busiest, department="logistics")
    mine = f"(assignee_id = '{busiest}' OR department = 'logistics')"
    for q in ("漏水", "退款"):
        truth = await _truth(year, q, mine)
        assert truth, q
        newest = sorted(truth, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        found = await _pages(year, q, ranked=False, descending=True, visible=handler)
        assert found == [r["id"] for r in newest]
        truth = await _truth(year, q, f"assignee_id = '{busiest}'")
        assert truth, q
        newest = sorted(truth, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        found = await _pages(year, q, ranked=False, descending=True, assignee_id=busiest)
        assert found == [r["id"] for r in newest]


async def test_search_puts_the_plan_setting_back(year: Database) -> None:
    """A text search plans its window statements for their own values (`plan_cache_mode`)
    and leaves the connection's setting as it found it, outside and inside a transaction."""
    query = parse_query("漏水", contact=False)
    wanted = repo.ComplaintFilters(text=query, status=("closed",))
    for opened in (year.connect, year.begin):
        async with opened() as conn:
            await conn.execute(text("SET plan_cache_mode = force_generic_plan"))
            for _ in range(7):  # past the five custom plans PostgreSQL tries first
                rows, _after = await repo.list_page(conn, wanted, limit=5, visible=EVERYONE)
                assert len(rows) == 5
            setting = await conn.execute(text("SELECT current_setting('plan_cache_mode')"))
            assert setting.scalar_one() == "force_generic_plan"
            await conn.execute(text("RESET plan_cache_mode"))
