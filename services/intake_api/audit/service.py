"""Reading the audit log (审计日志), newest first, a page at a time."""

from __future__ import annotations

from typing import Any

from shared.db import audit as audit_log
from shared.db.audit import AuditFilters
from shared.db.engine import Database


async def audit_page(
    db: Database, filters: AuditFilters, *, before_id: int | None, limit: int, count: bool
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    """The page of entries before `before_id`, the id the next page starts before (None on
    the last one), and with `count` how many entries match."""
    async with db.connect() as conn:
        rows = await audit_log.page(conn, filters, before_id=before_id, limit=limit)
        total = await audit_log.count(conn, filters) if count else None
    more = len(rows) > limit  # the repository reads one row more than a page
    rows = rows[:limit]
    return rows, rows[-1]["id"] if more and rows else None, total
