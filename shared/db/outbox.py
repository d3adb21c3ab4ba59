"""The notification outbox (通知发件箱) as the SLA worker works it: fan-out, claims, outcomes.

PostgreSQL decides who delivers what; arq only wakes the worker. Every function here is one SQL
statement, so it runs in one short transaction on an autocommit connection:

- **claim**: ``SELECT … FOR UPDATE SKIP LOCKED LIMIT n`` picks due rows no other worker holds,
  and the same statement stamps a lease on them (``lease_expires_at``, ``lease_token``). The row
  locks end with the statement; the lease keeps other workers off the rows while this one sends
  outside any transaction. ``due_at`` (a generated column, GREATEST of available, next attempt
  and lease expiry) makes a leased row invisible to claims until its lease runs out, so a worker
  killed mid-delivery delays its rows by one lease, never loses them.
- **outcome**: the row is settled only by the lease holder (``lease_token`` matches), except a
  success, which is a fact whoever learns it. The attempt is logged in the same statement.
- **release**: a worker that stops gracefully hands back its unsent rows at once.
- **not configured**: a claimed message for a channel the worker has no gateway for waits as
  `not_configured` (never claimed meanwhile, no attempt spent) until a worker starts with that
  gateway and makes it pending again.

Webhook events are fanned out to one `webhook_deliveries` row per matching subscription, each
with its own attempts, status and stable ``webhook_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.config import GATEWAY_SETTINGS
from shared.db.engine import json_dumps
from shared.db.tables import open_deadline_sql

Table = Literal["outbox", "webhook_deliveries"]

# A subscription pattern matches a topic exactly, as "*", or as a "prefix.*" wildcard.
# starts_with rather than LIKE: "_" in a topic must not be a wildcard.
_MATCHES = """EXISTS (
    SELECT 1 FROM jsonb_array_elements_text(s.event_types) AS p(pattern)
    WHERE p.pattern = '*' OR p.pattern = src.topic
       OR (right(p.pattern, 2) = '.*' AND starts_with(src.topic, left(p.pattern, -1))))"""

_FAN_OUT = f"""
WITH src AS (
    SELECT id, topic FROM outbox
    WHERE status = 'pending' AND kind = 'webhook' AND due_at <= :now
    ORDER BY due_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),
pairs AS (
    SELECT src.id AS outbox_id, s.id AS subscription_id
    FROM src JOIN webhook_subscriptions AS s
      ON s.active AND s.deleted_at IS NULL AND {_MATCHES}
),
ins AS (
    INSERT INTO webhook_deliveries (outbox_id, subscription_id, next_attempt_at, created_at,
                                    updated_at)
    SELECT outbox_id, subscription_id, :now, :now, :now FROM pairs
    ON CONFLICT (outbox_id, subscription_id) DO NOTHING
    RETURNING 1
),
upd AS (
    UPDATE outbox AS o
    SET status = CASE WHEN m.n > 0 THEN 'dispatched' ELSE 'skipped' END,
        last_error = CASE WHEN m.n > 0 THEN NULL
                          ELSE 'no active webhook subscription matches the topic' END,
        delivered_at = :now, updated_at = :now
    FROM (SELECT src.id, (SELECT count(*) FROM pairs WHERE pairs.outbox_id = src.id) AS n
          FROM src) AS m
    WHERE o.id = m.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM upd) AS events, (SELECT count(*) FROM ins) AS deliveries
"""

# Messages to a complaint's customer go in order (the acknowledgement, 受理回执, first): one is
# not claimed while an earlier one to that customer is still pending and not claimed with it —
# leased by another claim, or waiting for its retry. `picked` already passes over a message
# whose earlier one is not due (leased or waiting): held-back rows would otherwise stay at the
# head of the due order and fill every claim's batch. `claimed` checks again against what was
# picked (an earlier one due but not picked, or locked by a concurrent claim not yet
# committed); rows picked but held back stay unleased (their lock ends with the statement).
# Staff alerts are not held so: an urgent one must not wait behind one kept for working hours.
_CLAIM_MESSAGES = f"""
WITH picked AS (
    SELECT id, complaint_id, audience FROM outbox AS o
    WHERE status = 'pending' AND kind = 'message' AND due_at <= :now
      AND (audience IS DISTINCT FROM 'customer' OR NOT EXISTS (
          SELECT 1 FROM outbox AS e
          WHERE e.complaint_id = o.complaint_id AND e.kind = 'message'
            AND e.audience = 'customer' AND e.status = 'pending' AND e.id < o.id
            AND e.due_at > :now
      ))
    ORDER BY due_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE outbox AS o
    SET lease_expires_at = :lease_until, lease_token = :token, leased_by = :worker
    FROM picked
    WHERE o.id = picked.id
      AND (picked.audience IS DISTINCT FROM 'customer' OR NOT EXISTS (
          SELECT 1 FROM outbox AS e
          WHERE e.complaint_id = picked.complaint_id AND e.kind = 'message'
            AND e.audience = 'customer' AND e.status = 'pending' AND e.id < picked.id
            AND e.id NOT IN (SELECT id FROM picked)
      ))
    RETURNING o.id, o.message_id, o.topic, o.complaint_id, o.event_seq, o.payload,
              o.template_key, o.audience, o.recipient_user_id, o.channel, o.attempts
)
SELECT c.*,
       cp.reference, cp.customer, cp.subject_user_id, cp.level,
       cp.department, cp.category, dp.name AS department_name, nd.next_due_at,
       u.email AS user_email, u.mobile AS user_mobile, u.display_name AS user_name,
       u.is_active AS user_active
FROM claimed AS c
LEFT JOIN complaints AS cp ON cp.id = c.complaint_id
LEFT JOIN departments AS dp ON dp.code = cp.department
LEFT JOIN users AS u ON u.id = c.recipient_user_id
-- The complaint's next open deadline (时限), for templates that name it.
LEFT JOIN LATERAL (
    SELECT min(dl.due_at) AS next_due_at FROM deadlines AS dl
    WHERE dl.complaint_id = c.complaint_id AND {open_deadline_sql("dl.status")}
) AS nd ON true
ORDER BY c.id
"""

_CLAIM_DELIVERIES = """
WITH picked AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND due_at <= :now
    ORDER BY due_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE webhook_deliveries AS d
    SET lease_expires_at = :lease_until, lease_token = :token, leased_by = :worker
    FROM picked WHERE d.id = picked.id
    RETURNING d.id, d.outbox_id, d.subscription_id, d.webhook_id, d.attempts
)
SELECT c.*, o.topic, o.payload, o.message_id,
       s.url, s.secret, s.active AND s.deleted_at IS NULL AS subscription_active
FROM claimed AS c
JOIN outbox AS o ON o.id = c.outbox_id
JOIN webhook_subscriptions AS s ON s.id = c.subscription_id
ORDER BY c.id
"""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt for the delivery log (投递记录). `error` holds no personal data."""

    attempted_at: datetime
    channel: str  # webhook / sms / email
    outcome: str  # delivered / retry / gone / refused / failed / skipped
    status_code: int | None
    error: str | None
    duration_ms: int
    worker: str | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """Where a claimed row goes next. `pending` with `next_attempt_at` is a retry (or a
    deferral, when `counted` is False: a send cap or Redis being away is not an attempt)."""

    status: str  # pending / delivered / skipped / dead
    next_attempt_at: datetime | None = None
    error: str | None = None
    status_code: int | None = None
    counted: bool = True


@dataclass(frozen=True, slots=True)
class FanOut:
    events: int
    deliveries: int


@dataclass(frozen=True)
class Lease:
    """The terms of one claim: rows due at `now` are leased to `worker` until `until` under
    `token` (which every settle of the batch must show), `limit` rows at most."""

    now: datetime
    until: datetime
    worker: str
    limit: int
    token: uuid.UUID = field(default_factory=uuid.uuid4)

    def params(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "lease_until": self.until,
            "token": self.token,
            "worker": self.worker,
            "limit": self.limit,
        }


async def fan_out_webhooks(conn: AsyncConnection, *, now: datetime, limit: int) -> FanOut:
    """Turn due webhook events into one delivery per matching active subscription."""
    row = (await conn.execute(text(_FAN_OUT), {"now": now, "limit": limit})).one()
    return FanOut(events=int(row.events), deliveries=int(row.deliveries))


async def claim_messages(conn: AsyncConnection, lease: Lease) -> list[dict[str, Any]]:
    """Lease due messages, with what sending needs: the complaint's reference and contact data
    (resolved now, never copied into the outbox) and the staff recipient."""
    result = await conn.execute(text(_CLAIM_MESSAGES), lease.params())
    return [dict(r) for r in result.mappings()]


async def claim_webhook_deliveries(conn: AsyncConnection, lease: Lease) -> list[dict[str, Any]]:
    """Lease due webhook deliveries, with their event and subscription."""
    result = await conn.execute(text(_CLAIM_DELIVERIES), lease.params())
    return [dict(r) for r in result.mappings()]


def _settle_sql(table: Table) -> str:
    # Every row's outcome in one JSON document: a batch of sends is settled in one statement.
    status_code = ", last_status_code = s.status_code" if table == "webhook_deliveries" else ""
    return f"""
WITH s AS (
    SELECT * FROM jsonb_to_recordset(CAST(CAST(:doc AS text) AS jsonb)) AS s(
        id bigint, token uuid, status text, increment integer, next_attempt_at timestamptz,
        error text, status_code integer, now timestamptz, outbox_id bigint,
        delivery_id bigint, attempt integer, log boolean, attempted_at timestamptz,
        channel text, outcome text, attempt_status_code integer, attempt_error text,
        duration_ms integer, worker text)
),
u AS (
    UPDATE {table} AS t
    SET status = s.status,
        attempts = t.attempts + s.increment,
        next_attempt_at = COALESCE(s.next_attempt_at, t.next_attempt_at),
        last_error = s.error{status_code},
        delivered_at = CASE WHEN s.status = 'pending' THEN NULL ELSE s.now END,
        lease_expires_at = NULL, lease_token = NULL, leased_by = NULL,
        updated_at = s.now
    FROM s
    WHERE t.id = s.id AND t.status = 'pending'
      AND (t.lease_token = s.token OR s.status = 'delivered')
    RETURNING t.id
),
logged AS (
    INSERT INTO delivery_attempts (outbox_id, webhook_delivery_id, attempt, attempted_at,
                                   channel, outcome, status_code, error, duration_ms, worker)
    SELECT s.outbox_id, s.delivery_id, s.attempt, s.attempted_at, s.channel, s.outcome,
           s.attempt_status_code, s.attempt_error, s.duration_ms, s.worker
    FROM s WHERE s.log
    RETURNING 1
)
SELECT id FROM u
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A claimed row's outcome, to settle: where it goes next and the attempt to log."""

    row_id: int
    outbox_id: int
    token: uuid.UUID
    attempts_before: int
    settlement: Settlement
    attempt: Attempt | None
    now: datetime


def _outcome_row(table: Table, o: Outcome) -> dict[str, Any]:
    attempt, settlement = o.attempt, o.settlement
    return {
        "id": o.row_id,
        "token": o.token,
        "status": settlement.status,
        "increment": 1 if settlement.counted and attempt is not None else 0,
        "next_attempt_at": settlement.next_attempt_at,
        "error": settlement.error,
        "status_code": settlement.status_code,
        "now": o.now,
        "outbox_id": o.outbox_id,
        "delivery_id": o.row_id if table == "webhook_deliveries" else None,
        "attempt": o.attempts_before + 1,
        "log": attempt is not None,
        "attempted_at": attempt.attempted_at if attempt else o.now,
        "channel": attempt.channel if attempt else "",
        "outcome": attempt.outcome if attempt else "",
        "attempt_status_code": attempt.status_code if attempt else None,
        "attempt_error": attempt.error if attempt else None,
        "duration_ms": attempt.duration_ms if attempt else 0,
        "worker": attempt.worker if attempt else None,
    }


async def settle_many(conn: AsyncConnection, table: Table, outcomes: Sequence[Outcome]) -> set[int]:
    """Record claimed rows' outcomes and log their attempts, in one statement; returns the ids
    settled. A row missing from it had lost its lease (it was re-claimed after the lease
    expired: that worker's outcome wins, the attempt stays logged)."""
    if not outcomes:
        return set()
    doc = json_dumps([_outcome_row(table, o) for o in outcomes])
    result = await conn.execute(text(_settle_sql(table)), {"doc": doc})
    return {int(row_id) for (row_id,) in result}


async def settle(
    conn: AsyncConnection,
    table: Table,
    *,
    row_id: int,
    outbox_id: int,
    token: uuid.UUID,
    attempts_before: int,
    settlement: Settlement,
    attempt: Attempt | None,
    now: datetime,
) -> bool:
    """Record a claimed row's outcome and log the attempt (`settle_many` of one); False when
    the lease was lost."""
    outcome = Outcome(row_id, outbox_id, token, attempts_before, settlement, attempt, now)
    return bool(await settle_many(conn, table, [outcome]))


async def release(conn: AsyncConnection, table: Table, *, ids: list[int], token: uuid.UUID) -> int:
    """Hand back leased rows that were not sent (graceful shutdown): claimable at once."""
    if not ids:
        return 0
    result = await conn.execute(
        text(
            f"UPDATE {table} SET lease_expires_at = NULL, lease_token = NULL, leased_by = NULL "
            "WHERE id = ANY(:ids) AND lease_token = :token AND status = 'pending'"
        ),
        {"ids": ids, "token": token},
    )
    return int(result.rowcount)


async def disable_subscription(
    conn: AsyncConnection, subscription_id: uuid.UUID, *, reason: str, now: datetime
) -> bool:
    """A receiver answered 410 Gone: stop sending to it until an admin re-enables it."""
    result = await conn.execute(
        text(
            "UPDATE webhook_subscriptions SET active = false, disabled_reason = :reason, "
            "disabled_at = :now, updated_at = :now WHERE id = :id AND active"
        ),
        {"id": subscription_id, "reason": reason, "now": now},
    )
    return bool(result.rowcount)


_WAIT_FOR_GATEWAY = """
UPDATE outbox AS o
SET status = 'not_configured', waiting_for = w.channel, last_error = w.error,
    lease_expires_at = NULL, lease_token = NULL, leased_by = NULL, updated_at = :now
FROM unnest(CAST(:ids AS bigint[]), CAST(:channels AS text[]), CAST(:errors AS text[]))
    AS w(id, channel, error)
WHERE o.id = w.id AND o.status = 'pending' AND o.lease_token = :token
"""

# In slices, each its own short statement: a gateway configured after months of waiting must
# not hold one huge transaction at a worker's start-up.
_RESUME_SLICE = 5000
_RESUME = """
UPDATE outbox SET status = 'pending', waiting_for = NULL, next_attempt_at = :now,
    last_error = NULL, updated_at = :now
WHERE id IN (
    SELECT id FROM outbox
    WHERE status = 'not_configured' AND waiting_for = ANY(CAST(:channels AS text[]))
    LIMIT :slice
    FOR UPDATE SKIP LOCKED
)
"""

_WAITING_CHANNELS = """
SELECT c.channel FROM unnest(CAST(:channels AS text[])) AS c(channel)
WHERE EXISTS (
    SELECT 1 FROM outbox WHERE status = 'not_configured' AND waiting_for = c.channel
)
ORDER BY c.channel
"""


def not_configured_error(channel: str) -> str:
    return (
        f"no {channel} gateway is configured ({GATEWAY_SETTINGS[channel]}): waiting until a "
        "worker starts with one"
    )


async def wait_for_gateways(
    conn: AsyncConnection, waiting: Sequence[tuple[int, str]], *, token: uuid.UUID, now: datetime
) -> int:
    """Claimed messages (id, channel) whose channel has no gateway here: they wait as
    `not_configured`, unclaimed and with no attempt spent, and the lease ends."""
    if not waiting:
        return 0
    params = {
        "ids": [row_id for row_id, _ in waiting],
        "channels": [channel for _, channel in waiting],
        "errors": [not_configured_error(channel) for _, channel in waiting],
        "token": token,
        "now": now,
    }
    return int((await conn.execute(text(_WAIT_FOR_GATEWAY), params)).rowcount)


async def resume_not_configured(
    conn: AsyncConnection, channels: Sequence[str], *, now: datetime
) -> int:
    """The messages waiting for one of `channels`' gateways become pending, due now."""
    if not channels:
        return 0
    resumed = 0
    params = {"channels": list(channels), "now": now, "slice": _RESUME_SLICE}
    while (count := int((await conn.execute(text(_RESUME), params)).rowcount)) > 0:
        resumed += count
    return resumed


async def waiting_channels(conn: AsyncConnection, channels: Sequence[str]) -> list[str]:
    """Which of `channels` have messages waiting (`not_configured`) for their gateway."""
    rows = await conn.execute(text(_WAITING_CHANNELS), {"channels": list(channels)})
    return [str(r.channel) for r in rows]


_BACKLOG = """
SELECT
  (SELECT count(*) FROM outbox WHERE status = 'pending') AS outbox_pending,
  (SELECT count(*) FROM outbox WHERE status = 'pending' AND due_at <= :now) AS outbox_due,
  (SELECT min(due_at) FROM outbox WHERE status = 'pending' AND due_at <= :now)
      AS outbox_oldest_due_at,
  (SELECT count(*) FROM outbox WHERE status = 'dead') AS outbox_dead,
  (SELECT count(*) FROM outbox WHERE status = 'not_configured' AND waiting_for = 'sms')
      AS not_configured_sms,
  (SELECT count(*) FROM outbox WHERE status = 'not_configured' AND waiting_for = 'email')
      AS not_configured_email,
  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS webhooks_pending,
  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND due_at <= :now)
      AS webhooks_due,
  (SELECT min(due_at) FROM webhook_deliveries WHERE status = 'pending' AND due_at <= :now)
      AS webhooks_oldest_due_at,
  (SELECT count(*) FROM webhook_deliveries WHERE status = 'dead') AS webhooks_dead
"""


async def backlog(conn: AsyncConnection, *, now: datetime) -> dict[str, Any]:
    """What ops watch (积压): owed, overdue, the oldest overdue, dead letters (死信)."""
    row = (await conn.execute(text(_BACKLOG), {"now": now})).mappings().one()
    return dict(row)
