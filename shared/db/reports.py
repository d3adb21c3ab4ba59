"""The reports' SQL (统计分析, SPEC §6): aggregates and reference numbers (受理号) only.

No statement here reads a customer's name, phone, e-mail or address: the reports hold counts,
amounts and 受理号, whoever reads them. Every statement takes the period as UTC instants
`[start, end)` (shared.domain.reports.Period) and the department scope (NULL: every department).

The indexes these statements use are in migration 0020 (closed_at, resolved_at, the met and
breached deadlines by the moment they were settled, the withdrawal and pause events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import fetch
from shared.domain.lifecycle import OPEN_STATES
from shared.domain.reports import WorkingClock

Row = Mapping[str, Any]
_EPOCH_DAY = date(1970, 1, 1).toordinal()

_SCOPE = "($3::text IS NULL OR c.department = $3::text)"
# The lifecycle's open states (all but closed, invalid, withdrawn), as SQL: `status IN (…)`
# can use the status index, `NOT IN` cannot.
_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATES))

# What was received in the period, counted along every dimension the weekly and monthly
# reports break it down by: one scan of the period's complaints into narrow rows of the
# dimensions' values (so that the grouping works on a few bytes a row, not on whole rows), one
# grouping set per dimension. The scan also lists the received cases a manager must look at by
# name — level 3 (三级投诉) and those flagged for the management meeting (提交总经理例会) — as
# rows of the dimensions `level3` and `management_review` whose key is the 受理号.
RECEIVED_BY = f"""
WITH received AS MATERIALIZED (
    SELECT c.kind, c.category, coalesce(c.subcategory, '') AS subcategory, c.channel,
           c.level::text AS level, coalesce(c.department, '') AS department,
           coalesce(c.product ->> 'model', '') AS product_model,
           coalesce(c.customer ->> 'customer_type', 'consumer') AS customer_type,
           CASE WHEN c.status = 'invalid' THEN 'invalid' ELSE 'valid' END AS validity,
           coalesce(c.investigation ->> 'responsibility', 'undetermined') AS responsibility,
           CASE WHEN c.repeat_of IS NULL THEN 'first' ELSE 'repeat' END AS repeat,
           CASE WHEN c.level = 3 OR c.management_review THEN c.reference END AS notable,
           c.management_review
    FROM complaints AS c
    WHERE c.created_at >= $1 AND c.created_at < $2 AND {_SCOPE}
)
SELECT CASE
           WHEN GROUPING(kind) = 0 THEN 'kind'
           WHEN GROUPING(category) = 0 THEN 'category'
           WHEN GROUPING(subcategory) = 0 THEN 'subcategory'
           WHEN GROUPING(channel) = 0 THEN 'channel'
           WHEN GROUPING(level) = 0 THEN 'level'
           WHEN GROUPING(department) = 0 THEN 'department'
           WHEN GROUPING(product_model) = 0 THEN 'product_model'
           WHEN GROUPING(customer_type) = 0 THEN 'customer_type'
           WHEN GROUPING(validity) = 0 THEN 'validity'
           WHEN GROUPING(responsibility) = 0 THEN 'responsibility'
           ELSE 'repeat'
       END AS dimension,
       CASE
           WHEN GROUPING(kind) = 0 THEN kind
           WHEN GROUPING(category) = 0 THEN category
           WHEN GROUPING(subcategory) = 0 THEN subcategory
           WHEN GROUPING(channel) = 0 THEN channel
           WHEN GROUPING(level) = 0 THEN level
           WHEN GROUPING(department) = 0 THEN department
           WHEN GROUPING(product_model) = 0 THEN product_model
           WHEN GROUPING(customer_type) = 0 THEN customer_type
           WHEN GROUPING(validity) = 0 THEN validity
           WHEN GROUPING(responsibility) = 0 THEN responsibility
           ELSE repeat
       END AS key,
       count(*) AS n
FROM received
GROUP BY GROUPING SETS (
    (kind), (category), (subcategory), (channel), (level), (department), (product_model),
    (customer_type), (validity), (responsibility), (repeat)
)
UNION ALL
SELECT 'level3', notable, 1 FROM received WHERE level = '3'
UNION ALL
SELECT 'management_review', notable, 1 FROM received WHERE management_review
"""

# Closed in the period: how many, their 回访 answers (1–5, unreachable, neither) and the first
# `$4` 受理号 — counted here, not returned one row per case.
CLOSED = f"""
WITH closed AS MATERIALIZED (
    SELECT c.reference, c.satisfaction, c.id
    FROM complaints AS c
    WHERE c.closed_at >= $1 AND c.closed_at < $2 AND {_SCOPE}
), answered AS (
    SELECT coalesce(k.satisfaction::text,
                    CASE WHEN (SELECT u.followup ->> 'unreachable_at' FROM complaints AS u
                               WHERE u.id = k.id) IS NOT NULL THEN 'unreachable'
                         ELSE 'unrated' END) AS answer
    FROM closed AS k
)
SELECT (SELECT count(*) FROM closed) AS closed_count,
       (SELECT coalesce(jsonb_object_agg(a.answer, a.n), '{{}}'::jsonb)
        FROM (SELECT answer, count(*) AS n FROM answered GROUP BY answer) AS a) AS answers,
       ARRAY(SELECT reference FROM closed ORDER BY reference LIMIT $4) AS closed_references
"""

WITHDRAWN = f"""
SELECT DISTINCT c.reference
FROM complaint_events AS e
JOIN complaints AS c ON c.id = e.complaint_id
WHERE e.type = 'complaint.withdrawn' AND e.occurred_at >= $1 AND e.occurred_at < $2
  AND {_SCOPE}
ORDER BY c.reference
"""

# Open now (not closed, invalid or withdrawn) and received before the period ended; overdue
# when one of its deadlines was breached. Counted here; the first `$3` 受理号 of each returned.
STILL_OPEN = f"""
WITH open AS MATERIALIZED (
    SELECT c.reference,
           EXISTS (SELECT 1 FROM deadlines AS d
                   WHERE d.complaint_id = c.id AND d.status = 'breached') AS overdue
    FROM complaints AS c
    WHERE c.status IN ({_OPEN}) AND c.created_at < $1
      AND ($2::text IS NULL OR c.department = $2::text)
)
SELECT (SELECT count(*) FROM open) AS open_count,
       (SELECT count(*) FROM open WHERE overdue) AS overdue_count,
       ARRAY(SELECT reference FROM open ORDER BY reference LIMIT $3) AS open_references,
       ARRAY(SELECT reference FROM open WHERE overdue ORDER BY reference LIMIT $3)
           AS overdue_references
"""

# Deadlines settled in the period: met in time, or breached (seed 002 §5.4: against whoever
# held the case when it was breached). Per stage and per handler. Counted per (stage, handler)
# before the handlers' names are joined: the join to who holds each complaint is the costly
# part (a month's met deadlines meet the whole holder index), the grouping of its rows by a
# uuid and a stage is cheap, and the names are looked up for the few dozen groups only
# (bench/reports.py: the month's 227,000 deadlines were sorted with their handlers' names).
SETTLED_DEADLINES = f"""
WITH settled AS (
    SELECT d.stage, c.assignee_id AS handler_id, 'met' AS outcome, count(*) AS n
    FROM deadlines AS d JOIN complaints AS c ON c.id = d.complaint_id
    WHERE d.status = 'met' AND d.met_at >= $1 AND d.met_at < $2 AND {_SCOPE}
    GROUP BY d.stage, c.assignee_id
    UNION ALL
    SELECT d.stage, coalesce(d.breached_assignee_id, c.assignee_id), 'breached', count(*)
    FROM deadlines AS d JOIN complaints AS c ON c.id = d.complaint_id
    WHERE d.status = 'breached' AND d.breached_at >= $1 AND d.breached_at < $2 AND {_SCOPE}
    GROUP BY 1, 2
)
SELECT s.stage, s.handler_id, u.display_name AS handler, s.outcome, s.n
FROM settled AS s
LEFT JOIN users AS u ON u.id = s.handler_id
"""


def _local(t: str) -> str:
    """The instant `t` as local seconds since 1970-01-01 00:00 (the wall clock of the time zone
    $6: date_part of a local timestamp is plain float arithmetic, no conversion per use)."""
    return f"date_part('epoch', {t} AT TIME ZONE $6::text)"


def _position(local: str) -> str:
    """SQL for the working seconds from the clock's first day to the moment `local` (local
    seconds, `_local`): the domain's `WorkingClock.position`, on its `table()` passed as $5
    (the first day, in days since 1970-01-01), $7 (working seconds before each day), $8
    (working day or not) and $9 (the working hours' bounds, seconds of the day: morning start
    and end, afternoon start and end)."""
    day = f"(floor({local} / 86400)::integer - $5::integer + 1)"
    second = f"({local} - floor({local} / 86400) * 86400)"
    a1, b1, a2, b2 = (f"($9::float8[])[{i}]" for i in range(1, 5))
    within = (
        f"greatest(0, least({second}, {b1}) - {a1}) + greatest(0, least({second}, {b2}) - {a2})"
    )
    return f"(($7::float8[])[{day}] + CASE WHEN ($8::bool[])[{day}] THEN {within} ELSE 0 END)"


def _paid(remedy: str) -> str:
    return (
        "coalesce((SELECT sum((x ->> 'amount')::numeric) FROM jsonb_array_elements(r.remedies) AS x"
        f" WHERE x ->> 'type' = '{remedy}'), 0)"
    )


# Resolved in the period, counted in one statement: handling time from registration to
# resolution in working days of the business calendar (the WorkingClock's table, $4 seconds a
# working day), the pauses awaiting the customer excluded (an 等待客户 paired with the reply
# that follows it; one still running has no end and a resolved complaint has none), its median
# and 90th percentile (`percentile_cont`: shared.domain.reports.percentile), and what was paid
# (refunds, compensation: implemented solutions).
RESOLVED = f"""
WITH resolved AS MATERIALIZED (
    SELECT c.id, {_local("c.created_at")} AS created, {_local("c.resolved_at")} AS resolved
    FROM complaints AS c
    WHERE c.resolved_at >= $1 AND c.resolved_at < $2 AND {_SCOPE}
), paused AS (
    SELECT p.complaint_id, sum({_position("p.until")} - {_position("p.since")}) AS seconds
    FROM (
        SELECT e.complaint_id, e.type, {_local("e.occurred_at")} AS since,
               lead(e.type) OVER w AS next_type, {_local("lead(e.occurred_at) OVER w")} AS until
        FROM complaint_events AS e
        WHERE e.complaint_id IN (SELECT id FROM resolved)
          AND e.type IN ('complaint.awaiting_customer', 'complaint.customer_responded')
        WINDOW w AS (PARTITION BY e.complaint_id ORDER BY e.seq)
    ) AS p
    WHERE p.type = 'complaint.awaiting_customer' AND p.next_type = 'complaint.customer_responded'
    GROUP BY p.complaint_id
), handled AS (
    SELECT ({_position("r.resolved")} - {_position("r.created")}
            - coalesce(p.seconds, 0)) / $4::float8 AS days
    FROM resolved AS r
    LEFT JOIN paused AS p ON p.complaint_id = r.id
), paid AS (
    SELECT c.solution -> 'remedies' AS remedies
    FROM complaints AS c
    WHERE c.resolved_at >= $1 AND c.resolved_at < $2 AND {_SCOPE}
      AND (c.solution ->> 'implemented_at') IS NOT NULL
)
SELECT (SELECT count(*) FROM handled) AS resolved,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FROM handled) AS median_days,
       (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY days) FROM handled) AS p90_days,
       (SELECT coalesce(sum({_paid("refund")}), 0) FROM paid AS r) AS refunds,
       (SELECT coalesce(sum({_paid("compensation")}), 0) FROM paid AS r) AS compensation
"""

# The oldest complaint's registration: where a handling-time clock may have to start.
FIRST_RECEIVED = "SELECT min(created_at) AS first FROM complaints"

# Group complaints received in the period (集体投诉, issue 11 §5): those linked to a group found
# at intake (`group_id`: several customers about one product model or batch), and those
# registered for enough customers to be a group on their own (the registration's level reasons
# say `group:N`, as the rules then in force decided). The second kind is found through the
# partial index of registrations for more than one customer (revision 0045), whose predicate
# is repeated here word for word. Counted, with the groups, the customers they speak for and
# the first `$4` 受理号.
GROUPS = f"""
WITH members AS (
    SELECT c.id
    FROM complaints AS c
    WHERE c.group_id IS NOT NULL AND c.created_at >= $1 AND c.created_at < $2
    UNION
    SELECT e.complaint_id
    FROM complaint_events AS e
    WHERE e.type = 'complaint.registered'
      AND (e.payload #>> '{{intake,customer_count}}')::integer > 1
      AND e.occurred_at >= $1 AND e.occurred_at < $2
      AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(e.payload -> 'level_reasons') AS r(reason)
                  WHERE r.reason LIKE 'group:%')
), grouped AS MATERIALIZED (
    SELECT c.reference, coalesce(c.group_id, c.id) AS grp,
           coalesce((SELECT (e.payload #>> '{{intake,customer_count}}')::integer
                     FROM complaint_events AS e
                     WHERE e.complaint_id = c.id AND e.type = 'complaint.registered'), 1)
               AS customers
    FROM members AS m
    JOIN complaints AS c ON c.id = m.id
    WHERE {_SCOPE}
)
SELECT (SELECT count(*) FROM grouped) AS complaints,
       (SELECT count(DISTINCT grp) FROM grouped) AS groups,
       (SELECT coalesce(sum(customers), 0) FROM grouped) AS customers,
       ARRAY(SELECT reference FROM grouped ORDER BY reference LIMIT $4) AS group_references
"""

# Complaints received per period, for the trend line: the bounds are the periods' starts and
# ends, oldest first.
TREND = """
SELECT b.i, n.n
FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS b(s, e, i)
CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM complaints AS c
    WHERE c.created_at >= b.s AND c.created_at < b.e
      AND ($3::text IS NULL OR c.department = $3::text)
) AS n
ORDER BY b.i
"""


async def received_by(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> Sequence[Row]:
    return await fetch(conn, RECEIVED_BY, start, end, department)


async def closed(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None, *, listed: int
) -> Row:
    """How many were closed, their 回访 answers as {answer: count} (JSON), the first `listed`
    受理号."""
    (row,) = await fetch(conn, CLOSED, start, end, department, listed)
    return row


async def withdrawn(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> list[str]:
    return [r["reference"] for r in await fetch(conn, WITHDRAWN, start, end, department)]


async def still_open(
    conn: AsyncConnection, end: datetime, department: str | None, *, listed: int
) -> Row:
    """Counts of the open and the overdue, and the first `listed` 受理号 of each."""
    (row,) = await fetch(conn, STILL_OPEN, end, department, listed)
    return row


async def settled_deadlines(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> Sequence[Row]:
    return await fetch(conn, SETTLED_DEADLINES, start, end, department)


async def resolved(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    department: str | None,
    *,
    clock: WorkingClock,
    zone: str,
) -> Row:
    """The complaints resolved in the period: how many, the median and 90th percentile of their
    handling time in working days (on `clock`, in the calendar's time zone `zone`), and the
    refunds and compensation paid."""
    first, before, working, bounds = clock.table()
    (row,) = await fetch(
        conn,
        RESOLVED,
        start,
        end,
        department,
        clock.day_seconds,
        first.toordinal() - _EPOCH_DAY,
        zone,
        before,
        working,
        bounds,
    )
    return row


async def first_received(conn: AsyncConnection) -> datetime | None:
    (row,) = await fetch(conn, FIRST_RECEIVED)
    first: datetime | None = row["first"]
    return first


async def groups(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None, *, listed: int
) -> Row:
    """The group complaints received: counts of them, of their groups and of the customers
    they speak for, and the first `listed` 受理号."""
    (row,) = await fetch(conn, GROUPS, start, end, department, listed)
    return row


async def trend(
    conn: AsyncConnection, bounds: Sequence[tuple[datetime, datetime]], department: str | None
) -> list[int]:
    rows = await fetch(conn, TREND, [s for s, _ in bounds], [e for _, e in bounds], department)
    return [int(r["n"]) for r in rows]


# The received complaints' causes, responsibility and corrective actions (质量分析 / 责任分析).
CAUSES = f"""
SELECT c.category, coalesce(c.investigation ->> 'fault_department', c.department, '') AS department,
       coalesce(c.investigation ->> 'responsibility', 'undetermined') AS responsibility,
       coalesce(c.cause_class, '') AS cause_class, c.root_cause,
       CASE WHEN jsonb_array_length(c.corrective_actions) > 0 THEN c.corrective_actions END
           AS actions
FROM complaints AS c
WHERE c.created_at >= $1 AND c.created_at < $2 AND {_SCOPE}
"""

# What the received complaints asked for and were given, and how they were rated; the repeat
# customers are grouped by a digest of the phone number computed here, never returned.
EXPECTATIONS = f"""
SELECT c.reference, c.category, c.status, c.satisfaction,
       coalesce(c.desired_resolution -> 'types', '[]'::jsonb) AS asked,
       coalesce((SELECT jsonb_agg(DISTINCT r ->> 'type')
                 FROM jsonb_array_elements(c.solution -> 'remedies') AS r), '[]'::jsonb) AS given,
       c.solution IS NOT NULL AS has_solution,
       md5(coalesce(c.customer_phone, c.id::text)) AS customer_key
FROM complaints AS c
WHERE c.created_at >= $1 AND c.created_at < $2 AND {_SCOPE}
ORDER BY c.reference
"""


async def causes(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> Sequence[Row]:
    return await fetch(conn, CAUSES, start, end, department)


async def expectations(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> Sequence[Row]:
    return await fetch(conn, EXPECTATIONS, start, end, department)


# The previous period's headline figures only (环比): counts, no breakdowns, no 受理号.
RECEIVED_TOTALS = f"""
SELECT count(*) AS received,
       count(*) FILTER (WHERE c.status = 'invalid') AS invalid,
       count(*) FILTER (WHERE c.level = 3) AS level3,
       count(*) FILTER (WHERE c.repeat_of IS NOT NULL) AS repeats
FROM complaints AS c
WHERE c.created_at >= $1 AND c.created_at < $2 AND {_SCOPE}
"""

SETTLED_TOTALS = """
SELECT
    (SELECT count(*) FROM deadlines AS d
     WHERE d.status = 'met' AND d.met_at >= $1 AND d.met_at < $2
       AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM complaints AS c
                                        WHERE c.id = d.complaint_id AND c.department = $3)))
        AS met,
    (SELECT count(*) FROM deadlines AS d
     WHERE d.status = 'breached' AND d.breached_at >= $1 AND d.breached_at < $2
       AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM complaints AS c
                                        WHERE c.id = d.complaint_id AND c.department = $3)))
        AS breached,
    (SELECT count(*) FROM complaints AS c
     WHERE c.closed_at >= $1 AND c.closed_at < $2
       AND ($3::text IS NULL OR c.department = $3::text)) AS closed
"""


async def received_totals(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> Row:
    (row,) = await fetch(conn, RECEIVED_TOTALS, start, end, department)
    return row


async def settled_totals(
    conn: AsyncConnection, start: datetime, end: datetime, department: str | None
) -> Row:
    (row,) = await fetch(conn, SETTLED_TOTALS, start, end, department)
    return row


# One report, one snapshot: its statements run concurrently on several connections, each in a
# read-only REPEATABLE READ transaction, the first exporting its snapshot and the others taking
# it (SET TRANSACTION SNAPSHOT), so that every figure of a report counts the same committed
# changes — a change committed while the report runs is in all of its figures or in none.
# Each is the first statement of its transaction.
_REPEATABLE_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"


async def export_snapshot(conn: AsyncConnection) -> str:
    """Begins `conn`'s transaction on a snapshot of its own and returns the snapshot's id, for
    `share_snapshot` (valid while this transaction stays open)."""
    await conn.exec_driver_sql(_REPEATABLE_READ)
    (row,) = await fetch(conn, "SELECT pg_export_snapshot() AS snapshot")
    snapshot: str = row["snapshot"]
    return snapshot


async def share_snapshot(conn: AsyncConnection, snapshot: str) -> None:
    """Begins `conn`'s transaction on the snapshot `export_snapshot` exported."""
    await conn.exec_driver_sql(_REPEATABLE_READ)
    # SET TRANSACTION SNAPSHOT takes no parameter; the id is PostgreSQL's own (hex digits and
    # dashes), checked here before it is quoted.
    if not all(ch in "0123456789ABCDEFabcdef-" for ch in snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    await conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
