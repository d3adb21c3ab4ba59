"""Reading the audit log (审计日志), newest first, a page at a time."""

from __future__ import annotations

from typing import Any

from shared.db import audit as audit_log
from shared.db.audit import AuditFilters
from shared.db.engine import Database


async def audit_page(
    db: Database, filters: AuditFilters, *, before_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The page of entries before `before_id`, and the id to pass for the next page (None on
    the last one)."""
    async with db.connect() as conn:
        rows = await audit_log.page(conn, filters, before_id=before_id, limit=limit)
    more = len(rows) > limit  # the repository reads one row more than a page
    rows = rows[:limit]
    return rows, rows[-1]["id"] if more and rows else None
