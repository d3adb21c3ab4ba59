"""The assessment ledger (考核台账, seed 002 §5.4): manual entries, voiding, the pages of entries
and the monthly statement per handler and per department. Automatic entries are written by the
complaint changes themselves (`assessment_rows` in shared/db/changes.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import fetch

Row = Mapping[str, Any]

_COLUMNS = (
    "e.id, e.handler_id, u.display_name AS handler, e.department, e.complaint_id, e.reference, "
    "e.rule, e.amount, e.reason, e.occurred_at, e.source, e.created_by, e.created_at, "
    "e.voided_at, e.voided_by, e.void_reason"
)

# A manager's entry (§5.4.1.2), with the handler's department as it is now; no row when the
# handler is unknown.
ADD = f"""
WITH e AS (
    INSERT INTO assessment_entries (handler_id, department, complaint_id, reference, rule, amount,
                                    reason, occurred_at, source, created_by, created_at)
    SELECT u.id, u.department, $2, $3, $4, $5, $6, $7, 'manual', $8, $7
    FROM users AS u WHERE u.id = $1 AND ($9::text IS NULL OR u.department = $9::text)
    RETURNING *
)
SELECT {_COLUMNS} FROM e JOIN users AS u ON u.id = e.handler_id
"""

VOID = f"""
WITH e AS (
    UPDATE assessment_entries SET voided_at = $2, voided_by = $3, void_reason = $4
    WHERE id = $1 AND voided_at IS NULL AND ($5::text IS NULL OR department = $5::text)
    RETURNING *
)
SELECT {_COLUMNS} FROM e JOIN users AS u ON u.id = e.handler_id
"""

GET = f"""
SELECT {_COLUMNS} FROM assessment_entries AS e JOIN users AS u ON u.id = e.handler_id
WHERE e.id = $1
"""

# Newest first, before the cursor's id; one row more than a page tells whether there is another.
PAGE = f"""
SELECT {_COLUMNS} FROM assessment_entries AS e JOIN users AS u ON u.id = e.handler_id
WHERE e.occurred_at >= $1 AND e.occurred_at < $2
  AND ($3::uuid IS NULL OR e.handler_id = $3::uuid)
  AND ($4::text IS NULL OR e.department = $4::text)
  AND ($5::bigint IS NULL OR e.id < $5::bigint)
ORDER BY e.id DESC
LIMIT $6
"""

COUNT = """
SELECT count(*) AS n FROM assessment_entries AS e
WHERE e.occurred_at >= $1 AND e.occurred_at < $2
  AND ($3::uuid IS NULL OR e.handler_id = $3::uuid)
  AND ($4::text IS NULL OR e.department = $4::text)
"""

# The month's entries in force (voided ones left out), per handler and rule.
STATEMENT = """
SELECT e.handler_id, u.display_name AS handler, e.department, e.rule,
       count(*) AS entries, sum(e.amount) AS amount
FROM assessment_entries AS e JOIN users AS u ON u.id = e.handler_id
WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND e.voided_at IS NULL
  AND ($3::uuid IS NULL OR e.handler_id = $3::uuid)
  AND ($4::text IS NULL OR e.department = $4::text)
GROUP BY e.handler_id, u.display_name, e.department, e.rule
ORDER BY e.department NULLS LAST, u.display_name, e.handler_id, e.rule
"""


async def add(
    conn: AsyncConnection,
    *,
    handler_id: uuid.UUID,
    complaint_id: uuid.UUID | None,
    reference: str | None,
    rule: str,
    amount: Decimal,
    reason: str,
    now: datetime,
    created_by: str | None,
    within: str | None,
) -> Row | None:
    """A manual entry; None when the handler is unknown (or not of the department `within`)."""
    rows = await fetch(
        conn,
        ADD,
        handler_id,
        complaint_id,
        reference,
        rule,
        amount,
        reason,
        now,
        created_by,
        within,
    )
    return rows[0] if rows else None


async def void(
    conn: AsyncConnection,
    entry_id: int,
    *,
    now: datetime,
    by: str | None,
    reason: str,
    within: str | None,
) -> Row | None:
    """Void an entry in force (of the department `within`, if given); None when there is
    none (unknown, voided already, or another department's)."""
    rows = await fetch(conn, VOID, entry_id, now, by, reason, within)
    return rows[0] if rows else None


async def get(conn: AsyncConnection, entry_id: int) -> Row | None:
    rows = await fetch(conn, GET, entry_id)
    return rows[0] if rows else None


async def page(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    handler_id: uuid.UUID | None,
    department: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[Row]:
    return await fetch(conn, PAGE, start, end, handler_id, department, before_id, limit + 1)


async def count(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    handler_id: uuid.UUID | None,
    department: str | None,
) -> int:
    rows = await fetch(conn, COUNT, start, end, handler_id, department)
    return int(rows[0]["n"])


async def statement(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    handler_id: uuid.UUID | None,
    department: str | None,
) -> Sequence[Row]:
    return await fetch(conn, STATEMENT, start, end, handler_id, department)
