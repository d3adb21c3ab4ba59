"""The SLA worker's sweep: escalations per second and the lag of a breach behind its due time.

    .venv/bin/python bench/sweep.py                 # or: make bench
    .venv/bin/python bench/sweep.py --complaints 50000 --overdue 10000   # a quick run

Seeds a fresh database with `--complaints` (250,000) open complaints and 4 deadlines each
(1,000,000 open deadlines); 2 × `--overdue` (100,000) of them have their resolution deadline
overdue, in two waves an hour apart. Then:

1. one worker process sweeps wave 1 (`now` between the waves): breach, escalate (level 1 → 2),
   re-plan the resolution, write events, projections, outbox rows and deadline statuses;
2. two worker processes sweep wave 2 together;
3. lag: a real `python -m services.sla_worker` runs while deadlines fall due at a steady
   trickle; lag = when this script (polling every 0.1 s) first sees the breach committed −
   when the deadline was due.

Every overdue deadline must be breached, and escalate its complaint, exactly once
(`duplicates`, `missed`: both must be 0). A breach raises the level only where a company
configured it (seed 002 §4.3: off by default); the bench configures it (`RAISE_LEVEL`), so each
breach does the heaviest work a sweep can: breach, escalate, re-plan, alert.
Starts (or reuses) PostgreSQL and Redis like the tests (DATABASE_URL / REDIS_URL, else the
embedded servers), on a database of its own dropped at the end. Prints a table, then as its
LAST line one JSON object. Figures are never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from shared.db.engine import Database
from tests.support import servers as test_servers

ROOT = Path(__file__).resolve().parents[1]

# The registered complaint every seeded row shares (only ids, references and phones differ).
CUSTOMER = {
    "name": "张伟",
    "phone": None,
    "email": None,
    "address": "上海市浦东新区",
    "customer_type": "consumer",
    "id_number": None,
}
CHANNEL_META = {
    "call_id": None,
    "caller_number": None,
    "agent_id": None,
    "regulator": None,
    "regulator_case_number": None,
    "source_url": None,
}

SEED_COMPLAINTS = """
INSERT INTO complaints (id, reference, version, status, kind, category, level, channel, customer,
    content, attachments, channel_meta, notify_customer, department, created_by_kind,
    created_at, updated_at, level_reasons, contact_count, corrective_actions, management_review)
SELECT gen_random_uuid(), 'KS-20260901-' || lpad(i::text, 7, '0'), 1, 'registered', 'complaint',
    'product_quality', 1, 'web',
    $1::jsonb || jsonb_build_object('phone', '+86139' || lpad(i::text, 8, '0')),
    '洗衣机脱水时漏水', '[]', $2::jsonb, true, 'quality', 'integration', $3, $3, '[]', 0, '[]',
    false
FROM generate_series(1, $4) AS i
"""

SEED_EVENTS = """
INSERT INTO complaint_events (complaint_id, seq, type, actor_kind, occurred_at, payload)
SELECT id, 1, 'complaint.registered', 'integration', created_at, '{}' FROM complaints
"""

# Four open deadlines per complaint; the resolution of the complaints ranked into the two waves
# is overdue (due an hour apart, already warned at 75 % like any deadline late by then),
# everything else far in the future.
SEED_DEADLINES = """
WITH ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM complaints)
INSERT INTO deadlines (complaint_id, stage, cycle, policy_id, policy_version, calendar_version,
    unit, amount, warn_ratio, started_at, due_at, warn_at, provisional, status)
SELECT r.id, s.stage, 1, s.policy_id, 2, 1, s.unit, s.amount, 0.75, $1::timestamptz,
    CASE WHEN s.stage = 'resolution' AND r.n <= $2 THEN $3::timestamptz
         WHEN s.stage = 'resolution' AND r.n <= 2 * $2 THEN $4::timestamptz
         ELSE $5::timestamptz END,
    CASE WHEN s.stage = 'resolution' AND r.n <= $2 THEN $3::timestamptz - interval '1 hour'
         WHEN s.stage = 'resolution' AND r.n <= 2 * $2 THEN $4::timestamptz - interval '1 hour'
         ELSE $5::timestamptz - interval '1 hour' END,
    false,
    CASE WHEN s.stage = 'resolution' AND r.n <= 2 * $2 THEN 'warned' ELSE 'pending' END
FROM ranked r CROSS JOIN (VALUES
    ('acknowledgement', 1, 'working_days', 1), ('first_contact', 1, 'working_days', 1),
    ('progress_update', 1, 'working_days', 5), ('resolution', 2, 'working_days', 3)
) AS s(stage, policy_id, unit, amount)
"""


def _dsn(url: str) -> dict[str, Any]:
    return test_servers._asyncpg_dsn(url)


# The company's choice (rule data): every stage of the policies in force raises the level on a
# breach. Written into the stored versions the seeded deadlines name (version 2, migration 0013).
RAISE_LEVEL = """
UPDATE sla_policy_versions SET document = jsonb_set(document, '{stages}', (
    SELECT jsonb_agg(jsonb_set(s, '{on_breach,escalate}', 'true'))
    FROM jsonb_array_elements(document -> 'stages') AS s))
WHERE valid_until IS NULL
"""


async def seed(url: str, complaints: int, overdue: int, start: datetime) -> None:
    conn = await asyncpg.connect(**_dsn(url))
    try:
        await conn.execute(RAISE_LEVEL)
        await conn.execute(
            SEED_COMPLAINTS, json.dumps(CUSTOMER), json.dumps(CHANNEL_META), start, complaints
        )
        await conn.execute(SEED_EVENTS)
        await conn.execute(
            SEED_DEADLINES,
            start,
            overdue,
            start + timedelta(days=5),
            start + timedelta(days=5, hours=1),
            start + timedelta(days=400),
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _sweeper(url: str, now_iso: str, result: Any) -> None:
    """One worker process: sweep batches at a fixed `now` until nothing due is free."""
    os.environ["DATABASE_URL"] = url
    from shared.application.bootstrap import Collaborators
    from shared.application.sweep import sweep_until_done
    from shared.runtime import settle_garbage_collector

    async def run() -> tuple[float, float, int, int]:
        db = Database(url, pool_size=4, max_overflow=0)
        settle_garbage_collector()  # as the worker process does once it has started
        now = datetime.fromisoformat(now_iso)
        started = time.monotonic()
        try:
            # What the worker's cron runs, at a fixed `now`, until nothing due is left.
            taken, escalations = await sweep_until_done(
                Collaborators(db), now=lambda: now, budget_seconds=3600
            )
        finally:
            await db.dispose()
        return started, time.monotonic(), taken, escalations

    result.put(asyncio.run(run()))


def sweep_with(workers: int, url: str, now: datetime) -> tuple[float, int]:
    """(seconds from the first worker's start to the last one's end, escalations)."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_sweeper, args=(url, now.isoformat(), results)) for _ in range(workers)
    ]
    for p in processes:
        p.start()
    outcomes = [results.get() for _ in processes]
    for p in processes:
        p.join()
    start = min(o[0] for o in outcomes)
    end = max(o[1] for o in outcomes)
    return end - start, sum(o[3] for o in outcomes)


async def duplicates_and_missed(url: str, due_before: datetime) -> tuple[int, int]:
    conn = await asyncpg.connect(**_dsn(url))
    try:
        # A deadline breached twice, or escalating its complaint twice, is a duplicate.
        duplicates = await conn.fetchval(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM complaint_events "
            "WHERE type IN ('deadline.breached', 'complaint.escalated') "
            "AND payload->>'deadline_id' IS NOT NULL GROUP BY type, payload->>'deadline_id') x"
        )
        missed = await conn.fetchval(
            "SELECT count(*) FROM deadlines WHERE status IN ('pending', 'warned') AND due_at <= $1",
            due_before,
        )
        return int(duplicates), int(missed)
    finally:
        await conn.close()


async def trickle_lag(url: str, redis_url: str, seconds: float, rate: float) -> list[float]:
    """A real worker runs while complaints' resolution deadlines fall due `rate` per second;
    returns each one's lag in seconds: from its due time to when this process, polling every
    0.1 s, first sees the breach committed (so the lag includes the sweep's own writing)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "KESU_QUEUE_NAME": f"kesu-bench-{uuid.uuid4().hex[:6]}:queue",
        "KESU_REDIS_PREFIX": f"kesu-bench-{uuid.uuid4().hex[:6]}",
        "KESU_LOG_LEVEL": "WARNING",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.sla_worker",
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conn = await asyncpg.connect(**_dsn(url))
    watcher = await asyncpg.connect(**_dsn(url))
    ids: list[uuid.UUID] = []
    due_at: dict[uuid.UUID, datetime] = {}
    seen_at: dict[uuid.UUID, datetime] = {}

    async def watch() -> None:
        while True:
            waiting = [i for i in ids if i not in seen_at]
            if waiting:
                rows = await watcher.fetch(
                    "SELECT complaint_id FROM deadlines WHERE complaint_id = ANY($1) "
                    "AND cycle = 1 AND status = 'breached'",
                    waiting,
                )
                now = datetime.now(UTC)
                for row in rows:
                    seen_at[row["complaint_id"]] = now
            await asyncio.sleep(0.1)

    watching = asyncio.create_task(watch())
    try:
        await asyncio.sleep(3)  # the worker starts and catches up on anything due
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            due = datetime.now(UTC) + timedelta(seconds=1)
            row = await conn.fetchrow(
                "WITH c AS ("
                + SEED_COMPLAINTS.replace(
                    "generate_series(1, $4)", "generate_series(1, 1)"
                ).replace("'KS-20260901-' || lpad(i::text, 7, '0')", "'KS-T-' || gen_random_uuid()")
                + " RETURNING id) SELECT id FROM c",
                json.dumps(CUSTOMER),
                json.dumps(CHANNEL_META),
                due - timedelta(days=5),
            )
            complaint_id = row["id"]
            due_at[complaint_id] = due
            await conn.execute(
                "INSERT INTO deadlines (complaint_id, stage, cycle, policy_id, policy_version, "
                "calendar_version, unit, amount, warn_ratio, started_at, due_at, warn_at, "
                "provisional) VALUES ($1, 'resolution', 1, 2, 2, 1, 'working_days', 3, 0.75, "
                "$2, $3, $3, false)",
                complaint_id,
                due - timedelta(days=5),
                due,
            )
            ids.append(complaint_id)
            await asyncio.sleep(1 / rate)
        for _ in range(300):
            if len(seen_at) == len(ids):
                break
            await asyncio.sleep(0.1)
        return sorted((seen_at[i] - due_at[i]).total_seconds() for i in seen_at)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await watcher.close()
        await conn.close()
        worker.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.wait(), 30)
        except TimeoutError:
            worker.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=250_000)
    parser.add_argument("--overdue", type=int, default=100_000)
    parser.add_argument("--trickle-seconds", type=float, default=30.0)
    parser.add_argument("--trickle-rate", type=float, default=20.0)
    args = parser.parse_args()
    with test_servers.servers() as found:
        url = test_servers.create_database(found.admin_url)
        try:
            # Registered five days ago; the waves fell due two hours and one hour ago, so the
            # resolution each sweep re-plans (level 2: 7 working days from registration, SPEC
            # §4) lies in the future.
            waves = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
            start = waves - timedelta(days=5)
            t = time.monotonic()
            asyncio.run(seed(url, args.complaints, args.overdue, start))
            seeded = time.monotonic() - t
            print(
                f"seeded {args.complaints:,} complaints, {4 * args.complaints:,} open "
                f"deadlines ({2 * args.overdue:,} overdue) in {seeded:.0f} s"
            )
            wave1_done = waves + timedelta(minutes=30)
            wave2_done = waves + timedelta(hours=1, minutes=30)
            one_s, one_esc = sweep_with(1, url, wave1_done)
            print(f"1 worker : {one_esc:,} escalations in {one_s:.1f} s = {one_esc / one_s:,.0f}/s")
            two_s, two_esc = sweep_with(2, url, wave2_done)
            print(f"2 workers: {two_esc:,} escalations in {two_s:.1f} s = {two_esc / two_s:,.0f}/s")
            duplicates, missed = asyncio.run(duplicates_and_missed(url, wave2_done))
            lags = asyncio.run(
                trickle_lag(url, found.redis_url, args.trickle_seconds, args.trickle_rate)
            )
            p50 = lags[len(lags) // 2] if lags else None
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else None
            print(
                f"lag under a trickle of {args.trickle_rate:g}/s: p50 {p50} s, p99 {p99} s over "
                f"{len(lags)} deadlines; duplicates {duplicates}, missed {missed}"
            )
            figures = {
                "escalations_per_s_1_worker": round(one_esc / one_s),
                "escalations_per_s_2_workers": round(two_esc / two_s),
                "escalations_1_worker": one_esc,
                "escalations_2_workers": two_esc,
                "lag_p50_s": round(p50, 2) if p50 is not None else None,
                "lag_p99_s": round(p99, 2) if p99 is not None else None,
                "trickle_deadlines": len(lags),
                "duplicates": duplicates,
                "missed": missed,
                "open_deadlines_seeded": 4 * args.complaints,
                "overdue_per_wave": args.overdue,
            }
            print(json.dumps(figures))
        finally:
            test_servers.drop_database(found.admin_url, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
