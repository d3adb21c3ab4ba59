"""Scheduled reports (定期报表): subscriptions, the runs the SLA worker produced, and the e-mails
it queues for them in the outbox (delivered, with the files attached, by the delivery pipeline:
services/sla_worker/delivery/message_deliveries.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import fetch, json_dumps

Row = Mapping[str, Any]

_SUBSCRIPTION = "id, kind, department, recipient_ids, active, created_by, created_at, updated_at"
_RUN = "id, kind, scope, period_start, period_end, produced_at, title, file_stem, recipients"

ADD_SUBSCRIPTION = f"""
INSERT INTO report_subscriptions (id, kind, department, recipient_ids, active, created_by,
                                  created_at, updated_at)
VALUES ($1, $2, $3, CAST($4 AS text)::jsonb, $5, $6, $7, $7)
RETURNING {_SUBSCRIPTION}
"""

UPDATE_SUBSCRIPTION = f"""
UPDATE report_subscriptions
SET department = $2, recipient_ids = CAST($3 AS text)::jsonb, active = $4, updated_at = $5
WHERE id = $1
RETURNING {_SUBSCRIPTION}
"""

DELETE_SUBSCRIPTION = "DELETE FROM report_subscriptions WHERE id = $1 RETURNING id"

LIST_SUBSCRIPTIONS = f"""
SELECT {_SUBSCRIPTION} FROM report_subscriptions
WHERE ($1::boolean IS NULL OR active = $1::boolean)
ORDER BY created_at, id
"""

GET_SUBSCRIPTION = f"SELECT {_SUBSCRIPTION} FROM report_subscriptions WHERE id = $1"

# Claiming a period's run: the unique (kind, scope, period_start) lets exactly one worker in;
# a second one waits for the first's transaction and then gets no row.
CLAIM_RUN = """
INSERT INTO report_runs (kind, scope, period_start, period_end, produced_at, title, file_stem,
                         report, xlsx, html, recipients)
VALUES ($1, $2, $3, $4, $5, '', '', '{}'::jsonb, ''::bytea, ''::bytea, 0)
ON CONFLICT (kind, scope, period_start) DO NOTHING
RETURNING id
"""

STORE_RUN = """
UPDATE report_runs
SET title = $2, file_stem = $3, report = CAST($4 AS text)::jsonb, xlsx = $5, html = $6,
    recipients = $7
WHERE id = $1
RETURNING id
"""

# One e-mail per recipient (staff users, addresses resolved at send time), with the run to
# attach named in the payload.
QUEUE_EMAILS = """
INSERT INTO outbox (created_at, available_at, kind, topic, payload, template_key, audience,
                    recipient_user_id, channel)
SELECT $1, $1, 'message', 'report.produced', CAST($2 AS text)::jsonb, 'report_ready', 'staff',
       u.id, 'email'
FROM users AS u WHERE u.id = ANY($3::uuid[])
RETURNING id
"""

LIST_RUNS = f"""
SELECT {_RUN} FROM report_runs
WHERE ($1::text IS NULL OR scope = $1::text) AND ($2::bigint IS NULL OR id < $2::bigint)
  AND title <> ''
ORDER BY id DESC
LIMIT $3
"""

COUNT_RUNS = """
SELECT count(*) FROM report_runs WHERE ($1::text IS NULL OR scope = $1::text) AND title <> ''
"""

GET_RUN = f"SELECT {_RUN}, report FROM report_runs WHERE id = $1 AND title <> ''"

RUN_FILES = "SELECT file_stem, xlsx, html FROM report_runs WHERE id = $1 AND title <> ''"


async def add_subscription(
    conn: AsyncConnection,
    *,
    kind: str,
    department: str | None,
    recipient_ids: Sequence[uuid.UUID],
    active: bool,
    created_by: str | None,
    now: datetime,
) -> Row:
    rows = await fetch(
        conn,
        ADD_SUBSCRIPTION,
        uuid.uuid4(),
        kind,
        department,
        json_dumps([str(r) for r in recipient_ids]),
        active,
        created_by,
        now,
    )
    return rows[0]


async def update_subscription(
    conn: AsyncConnection,
    subscription_id: uuid.UUID,
    *,
    department: str | None,
    recipient_ids: Sequence[uuid.UUID],
    active: bool,
    now: datetime,
) -> Row | None:
    rows = await fetch(
        conn,
        UPDATE_SUBSCRIPTION,
        subscription_id,
        department,
        json_dumps([str(r) for r in recipient_ids]),
        active,
        now,
    )
    return rows[0] if rows else None


async def delete_subscription(conn: AsyncConnection, subscription_id: uuid.UUID) -> bool:
    return bool(await fetch(conn, DELETE_SUBSCRIPTION, subscription_id))


async def subscriptions(conn: AsyncConnection, *, active: bool | None = None) -> Sequence[Row]:
    return await fetch(conn, LIST_SUBSCRIPTIONS, active)


async def get_subscription(conn: AsyncConnection, subscription_id: uuid.UUID) -> Row | None:
    rows = await fetch(conn, GET_SUBSCRIPTION, subscription_id)
    return rows[0] if rows else None


async def claim_run(
    conn: AsyncConnection,
    *,
    kind: str,
    scope: str,
    period_start: date,
    period_end: date,
    now: datetime,
) -> int | None:
    """The new run's id, or None when the period's report was produced already."""
    rows = await fetch(conn, CLAIM_RUN, kind, scope, period_start, period_end, now)
    return int(rows[0]["id"]) if rows else None


async def store_run(
    conn: AsyncConnection,
    run_id: int,
    *,
    title: str,
    file_stem: str,
    report: str,
    xlsx: bytes,
    html: bytes,
    recipients: int,
) -> None:
    await fetch(conn, STORE_RUN, run_id, title, file_stem, report, xlsx, html, recipients)


async def queue_emails(
    conn: AsyncConnection,
    *,
    payload: dict[str, Any],
    recipient_ids: Sequence[uuid.UUID],
    now: datetime,
) -> int:
    rows = await fetch(conn, QUEUE_EMAILS, now, json_dumps(payload), list(recipient_ids))
    return len(rows)


async def runs(
    conn: AsyncConnection, *, scope: str | None, before_id: int | None, limit: int
) -> Sequence[Row]:
    return await fetch(conn, LIST_RUNS, scope, before_id, limit + 1)


async def count_runs(conn: AsyncConnection, *, scope: str | None) -> int:
    """How many kept reports the scope holds, over all pages (`count=true`)."""
    rows = await fetch(conn, COUNT_RUNS, scope)
    return int(rows[0][0])


async def get_run(conn: AsyncConnection, run_id: int) -> Row | None:
    rows = await fetch(conn, GET_RUN, run_id)
    return rows[0] if rows else None


async def run_files(conn: AsyncConnection, run_id: int) -> Row | None:
    rows = await fetch(conn, RUN_FILES, run_id)
    return rows[0] if rows else None


RECIPIENTS = "SELECT id, role, department, is_active FROM users WHERE id = ANY($1::uuid[])"


async def recipients(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> Sequence[Row]:
    return await fetch(conn, RECIPIENTS, list(ids))
