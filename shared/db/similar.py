"""Similar complaints (相似投诉): candidates for linking a repeat the rules did not catch.

Three kinds of candidates, each limited, each under the reader's visibility (the list's rule,
recusal included):
- the same customer: the same phone (normalised, E.164) or the same e-mail (case-folded);
- the same order or the same product unit: the order number or the serial number;
- similar text: the newest complaints of the same category registered within `TEXT_WINDOW`
  of it (at most `TEXT_CANDIDATES`); the service scores them
  (shared.domain.search.text_similarity) and keeps the close ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.complaints import ROW_COLUMNS, complaints, visibility_clause
from shared.domain.access import Visibility

TEXT_WINDOW = timedelta(days=90)
TEXT_CANDIDATES = 500

_c = complaints.c
_EMAIL = func.lower(_c.customer["email"].astext)
_ORDER = _c.product["order_number"].astext
_SERIAL = _c.product["serial_number"].astext


async def _rows(
    conn: AsyncConnection, where: ColumnElement[bool], visible: Visibility, limit: int
) -> list[dict[str, Any]]:
    stmt = (
        select(*ROW_COLUMNS)
        .where(and_(visibility_clause(visible), where))
        .order_by(_c.created_at.desc(), _c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def same_customer(
    conn: AsyncConnection, row: dict[str, Any], visible: Visibility, *, limit: int
) -> list[dict[str, Any]]:
    conditions = []
    if row.get("customer_phone"):
        conditions.append(_c.customer_phone == row["customer_phone"])
    email = (row.get("customer") or {}).get("email")
    if email:
        conditions.append(email.lower() == _EMAIL)
    if not conditions:
        return []
    return await _rows(conn, and_(_c.id != row["id"], or_(*conditions)), visible, limit)


async def same_order_or_product(
    conn: AsyncConnection, row: dict[str, Any], visible: Visibility, *, limit: int
) -> list[dict[str, Any]]:
    product = row.get("product") or {}
    conditions = []
    if product.get("order_number"):
        conditions.append(product["order_number"] == _ORDER)
    if product.get("serial_number"):
        conditions.append(product["serial_number"] == _SERIAL)
    if not conditions:
        return []
    return await _rows(conn, and_(_c.id != row["id"], or_(*conditions)), visible, limit)


async def text_candidates(
    conn: AsyncConnection, row: dict[str, Any], visible: Visibility
) -> list[dict[str, Any]]:
    """The newest `TEXT_CANDIDATES` complaints of the same category registered within
    `TEXT_WINDOW` of it: a bounded read of the creation index that the
    service scores. (A bigram query for shared phrases was tried first: at 1,000,000
    complaints its common grams made it take seconds — bench/search.py.)"""
    at = row["created_at"]
    where = and_(
        _c.id != row["id"],
        _c.category == row["category"],
        _c.created_at >= at - TEXT_WINDOW,
        _c.created_at <= at + TEXT_WINDOW,
    )
    return await _rows(conn, where, visible, TEXT_CANDIDATES)
