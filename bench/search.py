"""Chinese full-text search at a million complaints (issue 13): latency and recall.

    .venv/bin/python bench/search.py                  # 1,000,000 complaints (seeded once, reused)
    .venv/bin/python bench/search.py --n 100000       # a quicker run

Seeds (or reuses) the corpus of `bench/corpus.py` — realistic Chinese complaints with their
events and deadlines — on the tests' PostgreSQL (DATABASE_URL, else the embedded server), then
measures, at concurrency 1, the first page (50 rows) of the complaint list through the
repository function the API's service calls (`shared.db.complaints.list_page`, the same SQL as
`GET /api/v1/complaints`, without HTTP, JSON and authentication):

- `search_*_2char` / `_4char` / `_mixed`: `q` alone, ranked (relevance, then recency), as a
  reader who sees everything (a director) — 2-character terms (漏水, 吞卡 …), 4-character
  phrases (上门维修 …), mixed queries (`XQG100 漏水`, `退款 320`);
- `search_with_filters_p99_ms`: `q` with list filters (status, category, level, channel,
  department, a creation range) and as a department handler (their visibility rule);
- `list_filters_p99_ms`: filter-only lists (no `q`), newest first, including a deadline filter;
- `similar_p50_ms` / `similar_p99_ms`: the reads of `GET /complaints/{id}/similar` (same
  customer, same order or product, text candidates) for 50 sampled complaints;
- `recall_vs_like`: for a sample of queries, over a fixed block sample of about 30,000
  complaints, the complaints the search finds (all of them, not a page) against
  `LIKE '%term%'` over the complaint's text written out here from the raw columns (content,
  product, findings, root cause, solution, notes and replies): found ∩ truth / truth.

Targets (issue 13): p99 ≤ 100 ms for text queries, ≤ 50 ms for filter-only lists, recall 1.0.
Prints a table, then as its LAST line one JSON object with the figures. Never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import importlib
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select, text

from bench.corpus import ensure_seeded
from shared.db import complaints as repo
from shared.db import deadlines as deadlines_repo
from shared.db import search, similar
from shared.db.engine import Database
from shared.domain.access import Visibility
from shared.domain.search import TextQuery, parse_query

test_servers = importlib.import_module("tests.support.servers")

TWO_CHAR = [
    "漏水",
    "吞卡",
    "异响",
    "退款",
    "黑屏",
    "结冰",
    "延误",
    "态度",
    "漏电",
    "花屏",
    "降价",
    "噪音",
]
FOUR_CHAR = [
    "上门维修",
    "门封条脱",
    "质量问题",
    "外包装破",
    "温控失灵",
    "物流外包",
    "压缩机频",
    "遥控失灵",
]
MIXED = ["XQG100 漏水", "退款 320", "KFR-35GW 不制冷", "BCD-520W 结冰", "冰箱 异响", "ATM 吞卡"]
EVERYONE = Visibility(everything=True)
QUALITY_HANDLER = Visibility(assignee_id=uuid.uuid4(), department="quality")
OPEN = ("registered", "assigned", "investigating", "awaiting_customer", "solution_proposed")


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(
    db: Database,
    filters: repo.ComplaintFilters,
    *,
    visible: Visibility = EVERYONE,
    ranked: bool = True,
) -> tuple[float, int]:
    async with db.connect() as conn:
        started = time.perf_counter()
        rows, _ = await repo.list_page(conn, filters, limit=50, visible=visible, ranked=ranked)
        return (time.perf_counter() - started) * 1000, len(rows)


def q(value: str) -> TextQuery:
    parsed = parse_query(value, contact=False)
    assert parsed is not None
    return parsed


async def measure(db: Database, rounds: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    month = now - timedelta(days=30)
    quarter = now - timedelta(days=90)
    overdue = deadlines_repo.overdue_clause(now)
    with_filters = [
        (repo.ComplaintFilters(text=q("漏水"), status=("closed",)), EVERYONE),
        (repo.ComplaintFilters(text=q("退款"), category="product_quality", level=1), EVERYONE),
        (repo.ComplaintFilters(text=q("吞卡"), channel="phone", created_from=quarter), EVERYONE),
        (repo.ComplaintFilters(text=q("异响"), department="quality", status=OPEN), EVERYONE),
        (repo.ComplaintFilters(text=q("XQG100 漏水"), created_from=month), EVERYONE),
        (repo.ComplaintFilters(text=q("漏水")), QUALITY_HANDLER),
        (repo.ComplaintFilters(text=q("上门维修"), level=2), QUALITY_HANDLER),
    ]
    list_only = [
        (repo.ComplaintFilters(), EVERYONE),
        (repo.ComplaintFilters(status=OPEN), EVERYONE),
        (repo.ComplaintFilters(category="logistics", channel="phone"), EVERYONE),
        (repo.ComplaintFilters(level=3, created_from=quarter), EVERYONE),
        (repo.ComplaintFilters(department="quality", status=("closed",)), EVERYONE),
        (repo.ComplaintFilters(deadline_clauses=(overdue,)), EVERYONE),
        (repo.ComplaintFilters(status=OPEN), QUALITY_HANDLER),
        (repo.ComplaintFilters(kind="suggestion", created_from=month), EVERYONE),
    ]
    times: dict[str, list[float]] = {k: [] for k in ("2", "4", "mixed", "filters", "list")}
    # One warm-up pass: the figures are for a running service, not a cold cache.
    for value in TWO_CHAR + FOUR_CHAR + MIXED:
        await timed(db, repo.ComplaintFilters(text=q(value)))
    for filters, visible in with_filters + list_only:
        await timed(db, filters, visible=visible, ranked=filters.text is not None)
    for _ in range(rounds):
        for key, values in (("2", TWO_CHAR), ("4", FOUR_CHAR), ("mixed", MIXED)):
            for value in values:
                ms, _n = await timed(db, repo.ComplaintFilters(text=q(value)))
                times[key].append(ms)
        for filters, visible in with_filters:
            times["filters"].append((await timed(db, filters, visible=visible))[0])
        for filters, visible in list_only:
            ms, _n = await timed(db, filters, visible=visible, ranked=False)
            times["list"].append(ms)
    return {
        "search_p50_ms_2char": pct(times["2"], 0.5),
        "search_p99_ms_2char": pct(times["2"], 0.99),
        "search_p50_ms_4char": pct(times["4"], 0.5),
        "search_p99_ms_4char": pct(times["4"], 0.99),
        "search_p50_ms_mixed": pct(times["mixed"], 0.5),
        "search_p99_ms_mixed": pct(times["mixed"], 0.99),
        "search_with_filters_p50_ms": pct(times["filters"], 0.5),
        "search_with_filters_p99_ms": pct(times["filters"], 0.99),
        "list_filters_p50_ms": pct(times["list"], 0.5),
        "list_filters_p99_ms": pct(times["list"], 0.99),
        "samples_per_figure": {k: len(v) for k, v in times.items()},
    }


# The ground truth's text, written out from the raw columns (not through the search's own
# functions): what a reader would grep.
_TRUTH_TEXT: ColumnElement[str] = literal_column(
    "lower(concat_ws(' ', reference, content, product ->> 'model', product ->> 'serial_number', "
    "product ->> 'order_number', product ->> 'symptom', desired_resolution ->> 'detail', "
    "investigation ->> 'findings', root_cause, solution ->> 'description', "
    "jsonb_path_query_array(solution, '$.remedies[*].amount')::text, "
    "jsonb_path_query_array(corrective_actions, '$[*].description')::text, search_notes))"
)


RECALL_ROWS = 30_000


async def recall(db: Database, seeded: int) -> tuple[float, dict[str, Any]]:
    """On a sample of about `RECALL_ROWS` complaints (a fixed block sample): the search's
    matches among them against the `LIKE` ground truth among them."""
    c = repo.complaints.c
    sample = ["漏水", "吞卡", "退款", "上门维修", "门封条脱", "XQG100 漏水", "退款 320"]
    percent = min(100.0, RECALL_ROWS * 100 / max(seeded, 1))
    found_total = truth_total = 0
    per_query = {}
    async with db.connect() as conn:
        await conn.execute(text("CREATE TEMP TABLE recall_sample (id uuid PRIMARY KEY)"))
        await conn.execute(
            text(
                "INSERT INTO recall_sample SELECT id FROM complaints "
                f"TABLESAMPLE SYSTEM ({percent}) REPEATABLE (13)"
            )
        )
        in_sample = c.id.in_(text("SELECT id FROM recall_sample"))
        for value in sample:
            query = q(value)
            found = {
                r[0]
                for r in await conn.execute(
                    select(c.id).where(in_sample, search.match_clause(query))
                )
            }
            like = [_TRUTH_TEXT.op("LIKE")(f"%{t}%") for t in query.terms]
            truth = {r[0] for r in await conn.execute(select(c.id).where(in_sample, *like))}
            hit = len(found & truth)
            found_total += hit
            truth_total += len(truth)
            per_query[value] = {"truth": len(truth), "found": len(found), "found_of_truth": hit}
        rows = (await conn.execute(text("SELECT count(*) FROM recall_sample"))).scalar_one()
    per_query["sampled_complaints"] = rows
    return (found_total / truth_total if truth_total else 1.0), per_query


async def similar_latency(db: Database, samples: int) -> dict[str, float]:
    """`GET /complaints/{id}/similar`'s three repository reads for sampled complaints."""
    c = repo.complaints.c
    async with db.connect() as conn:
        ids = [
            r[0]
            for r in await conn.execute(
                select(c.id)
                .order_by(func.md5(func.cast(c.id, repo.complaints.c.reference.type)))
                .limit(samples)
            )
        ]
    times = []
    for complaint_id in ids:
        async with db.connect() as conn:
            row = await repo.get_row(conn, complaint_id)
            assert row is not None
            started = time.perf_counter()
            await similar.same_customer(conn, row, EVERYONE, limit=20)
            await similar.same_order_or_product(conn, row, EVERYONE, limit=20)
            await similar.text_candidates(conn, row, EVERYONE)
            times.append((time.perf_counter() - started) * 1000)
    return {"similar_p50_ms": pct(times, 0.5), "similar_p99_ms": pct(times, 0.99)}


async def run(url: str, rounds: int) -> dict[str, Any]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.connect() as conn:
            seeded = int(
                (await conn.execute(select(func.count()).select_from(repo.complaints))).scalar_one()
            )
        figures: dict[str, Any] = {"complaints_seeded": seeded}
        figures.update(await measure(db, rounds))
        figures.update(await similar_latency(db, 50))
        figures["recall_vs_like"], figures["recall_detail"] = await recall(db, seeded)
        figures["measured_through"] = "shared.db.complaints.list_page (repository, no HTTP)"
        return figures
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with test_servers.servers() as found:
        started = time.perf_counter()
        url = ensure_seeded(found.admin_url, args.n)
        seeding_s = time.perf_counter() - started
        figures = asyncio.run(run(url, args.rounds))
    figures["seed_or_reuse_seconds"] = round(seeding_s, 1)
    for key, value in figures.items():
        if not isinstance(value, dict):
            print(
                f"{key:32} {value if not isinstance(value, float) else round(value, 2)}",
                file=sys.stderr,
            )
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()},
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
