"""The message claim with per-customer order: what the ordering costs a claim.

    .venv/bin/python bench/message_claim.py                 # or: make bench
    .venv/bin/python bench/message_claim.py --complaints 5000 --claims 50   # a quick run

Seeds a fresh database with `--complaints` (20,000) complaints, each owing its customer 5 SMS
(100,000 due messages, owed a millisecond apart in the last minutes), and for 10 % of them the
first message waiting for its retry (an hour away), so their 4 later ones must be held back.
Then claims batches of 50 the way the delivery job does (`shared.db.outbox.claim_messages`,
each claim leasing its rows), `--claims` (200) times, and the same with the ordering clauses
taken out of the statement (the claim before per-customer order) after the leases are cleared.
Reports the median and p95 time per claim and the rows claimed; `held_back_claimed` must be 0
(no message claimed while an earlier one to its customer waits). Starts (or reuses) PostgreSQL
like the tests (DATABASE_URL, else the embedded server), on a database of its own dropped at
the end. Prints one JSON object LAST. Figures are never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from bench.sweep import CHANNEL_META, CUSTOMER, SEED_COMPLAINTS
from shared.db import outbox
from shared.db.engine import Database
from tests.support import servers as test_servers

SEED_MESSAGES = """
INSERT INTO outbox (created_at, available_at, kind, topic, complaint_id, payload, template_key,
                    audience, next_attempt_at, attempts)
SELECT $1::timestamptz + (c.rank * 5 + m.n) * interval '1 millisecond',
       $1::timestamptz + (c.rank * 5 + m.n) * interval '1 millisecond',
       'message', 'complaint.progress', c.id,
       jsonb_build_object('reference', c.reference, 'progress_summary', '处理中'),
       'progress_update', 'customer',
       CASE WHEN m.n = 1 AND c.rank % 10 = 0 THEN $2::timestamptz END,
       CASE WHEN m.n = 1 AND c.rank % 10 = 0 THEN 1 ELSE 0 END
FROM (SELECT id, reference, row_number() OVER (ORDER BY id) AS rank FROM complaints) AS c
CROSS JOIN generate_series(1, 5) AS m(n)
ORDER BY c.rank, m.n
"""

# Claimed (leased) rows with an earlier message to the same customer still waiting unleased.
HELD_BACK_CLAIMED = """
SELECT count(*) FROM outbox AS o
WHERE o.lease_token IS NOT NULL AND EXISTS (
    SELECT 1 FROM outbox AS e WHERE e.complaint_id = o.complaint_id AND e.id < o.id
      AND e.status = 'pending' AND e.lease_token IS NULL AND e.next_attempt_at IS NOT NULL)
"""


def unordered_claim() -> str:
    """The claim statement without its per-customer ordering clauses (in `picked` and
    `claimed`)."""
    statement, count = re.subn(
        r"\n\s+AND \((picked\.)?audience IS DISTINCT FROM 'customer' OR NOT EXISTS \(.*?\n\s+\)\)",
        "",
        outbox._CLAIM_MESSAGES,
        flags=re.S,
    )
    assert count == 2, "the ordering clauses were not found"
    return statement


async def seed(url: str, complaints: int, now: datetime) -> None:
    conn = await asyncpg.connect(**test_servers._asyncpg_dsn(url))
    try:
        await conn.execute(
            SEED_COMPLAINTS,
            json.dumps(CUSTOMER),
            json.dumps(CHANNEL_META),
            now - timedelta(days=1),
            complaints,
        )
        await conn.execute(SEED_MESSAGES, now - timedelta(minutes=10), now + timedelta(hours=1))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def claims(db: Database, statement: str, count: int, now: datetime) -> dict[str, Any]:
    times, rows = [], 0
    for _ in range(count):
        lease = outbox.Lease(now=now, until=now + timedelta(hours=2), worker="bench", limit=50)
        async with db.connect() as conn:
            started = time.perf_counter()
            result = await conn.execute(text(statement), lease.params())
            rows += len(result.all())
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    async with db.connect() as conn:
        held = (await conn.execute(text(HELD_BACK_CLAIMED))).scalar_one()
        await conn.execute(
            text("UPDATE outbox SET lease_expires_at = NULL, lease_token = NULL, leased_by = NULL")
        )
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "rows_per_claim": round(rows / count, 1),
        "held_back_claimed": held,
    }


async def measure(url: str, count: int, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        await claims(db, outbox._CLAIM_MESSAGES, 5, now)  # warm up
        ordered = await claims(db, outbox._CLAIM_MESSAGES, count, now)
        unordered = await claims(db, unordered_claim(), count, now)
    finally:
        await db.dispose()
    return ordered, unordered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=20_000)
    parser.add_argument("--claims", type=int, default=200)
    args = parser.parse_args()
    with test_servers.servers() as found:
        url = test_servers.create_database(found.admin_url)
        try:
            now = datetime.now(UTC)
            asyncio.run(seed(url, args.complaints, now))
            ordered, unordered = asyncio.run(measure(url, args.claims, now))
            print(f"ordered claim  : {ordered}")
            print(f"unordered claim: {unordered}")
            figures = {
                "due_messages": 5 * args.complaints,
                "claims": args.claims,
                "ordered": ordered,
                "unordered": unordered,
                "run": uuid.uuid4().hex[:8],
            }
            print(json.dumps(figures))
        finally:
            test_servers.drop_database(found.admin_url, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
