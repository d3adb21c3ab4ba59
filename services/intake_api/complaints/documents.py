"""The printed 《投诉处理单》 of one complaint and the 台帐 (ledger) export of the list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
import anyio.to_thread
from pydantic import Field
from sqlalchemy import Row, Select

from services.intake_api.complaints.schemas import ComplaintQuery
from services.intake_api.complaints.service import list_filters, visible_to
from shared.application.bootstrap import Collaborators
from shared.application.forms import print_form
from shared.db import audit as audit_repo
from shared.db import complaints as repo
from shared.db.audit import AuditContext
from shared.db.engine import Database
from shared.documents.labels import SHANGHAI
from shared.documents.ledger import csv_chunk, ledger_line, ledger_sheet
from shared.domain.access import Principal, sees_contact_data
from shared.domain.errors import FieldError, InvalidInput

BATCH = 2000  # rows fetched (server-side cursor) and written at a time
YEAR = timedelta(days=365)
TICK = timedelta(microseconds=1)
LONGEST_PERIOD = timedelta(days=366)


class ExportQuery(ComplaintQuery):
    """The list's filters, and the file format. The period (`created_from` … `created_to`) is
    at most a year; without one, the last 365 days."""

    format: Literal["xlsx", "csv"] = Field(default="xlsx", description="Excel or CSV (UTF-8)")


async def form_pdf(
    collab: Collaborators, principal: Principal, complaint: dict[str, Any], *, now: datetime
) -> bytes:
    """The complaint's 《投诉处理单》, personal data masked as the reader's access says."""
    async with collab.db.connect() as conn:
        return await print_form(
            conn,
            complaint,
            contact_visible=sees_contact_data(principal),
            company_name=collab.require_settings().company_name,
            printed_at=now,
        )


@dataclass(frozen=True)
class Export:
    file_name: str
    media_type: str
    chunks: AsyncIterator[bytes]


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def _shift(at: datetime, by: timedelta) -> datetime:
    """`at + by`, held at the first or last instant there is."""
    try:
        return at + by
    except OverflowError:
        return _LAST if by > timedelta(0) else _FIRST


def _period(query: ExportQuery, now: datetime) -> tuple[datetime, datetime]:
    """The export's period: as given, or a year from the given start (up to now), or the year
    up to the given end (or to now)."""
    since, until = query.created_from, query.created_to
    if until is None:
        until = _shift(since, YEAR) if since is not None else now
        if since is not None and since < now:
            until = min(until, now)
    if since is None:
        since = min(_shift(until, -YEAR), until)  # at the first instant: an empty period
    if until < since or (until == since and query.created_from is not None):
        raise InvalidInput([FieldError(("query", "created_to"), "must be after created_from")])
    if until - since > LONGEST_PERIOD:
        raise InvalidInput(
            [FieldError(("query", "created_from"), "the 台帐 covers at most one year at a time")]
        )
    return since, until


def _local_day(at: datetime) -> str:
    try:
        return f"{at.astimezone(SHANGHAI):%Y%m%d}"
    except OverflowError:
        return f"{at:%Y%m%d}"


async def export(
    collab: Collaborators,
    principal: Principal,
    query: ExportQuery,
    *,
    now: datetime,
    audit: AuditContext,
    guard_contact_search: Callable[[], Awaitable[None]],
) -> Export:
    """The list (same filters, same access rule) as a ledger file, streamed. Audited
    (`complaint.export`: the filters and the format, never a searched value)."""
    since, until = _period(query, now)
    query = query.model_copy(update={"created_from": since, "created_to": until})
    async with collab.db.connect() as conn:
        filters = await list_filters(
            conn, collab, principal, query, now=now, guard_contact_search=guard_contact_search
        )
        visible = await visible_to(conn, collab.caches, principal)
        given = query.model_dump(
            mode="json", exclude_none=True, exclude={"customer_phone", "cursor", "limit"}
        )
        record = audit.record(
            "complaint.export",
            target_type="complaint",
            details={"query": given, "contact_search": bool(query.contact_filters())},
        )
        await audit_repo.append(conn, [record])
    stmt = repo.ledger_query(filters, visible=visible)
    contact_visible = sees_contact_data(principal)
    name = f"投诉台帐_{_local_day(since)}-{_local_day(_shift(until, -TICK))}.{query.format}"
    if query.format == "csv":
        chunks = _csv(collab.db, stmt, contact_visible)
    else:
        chunks = _xlsx(collab.db, stmt, contact_visible, title=name)
    return Export(name, MEDIA_TYPES[query.format], chunks)


async def _batches(db: Database, stmt: Select[Any]) -> AsyncGenerator[Sequence[Row[Any]], None]:
    """The ledger's rows in batches, from a server-side cursor (one transaction). The next
    batch is read while the caller works on this one, so PostgreSQL's share of the work
    (reading, sorting, formatting the times) overlaps ours instead of adding to it."""
    async with db.begin() as conn:
        result = await conn.stream(stmt.execution_options(yield_per=BATCH))
        batches = aiter(result.partitions(BATCH))
        ahead = asyncio.ensure_future(anext(batches, None))
        try:
            while (rows := await ahead) is not None:
                ahead = asyncio.ensure_future(anext(batches, None))
                yield rows
        finally:
            if not ahead.done():  # closed early (a client gone): let the read end first
                with anyio.CancelScope(shield=True):
                    await asyncio.wait([ahead])
                if not ahead.cancelled():
                    ahead.exception()  # seen: nobody reads the export any more


async def _csv(db: Database, stmt: Select[Any], contact_visible: bool) -> AsyncIterator[bytes]:
    def chunk(rows: Sequence[Row[Any]]) -> bytes:
        return csv_chunk([ledger_line(r, contact_visible=contact_visible) for r in rows])

    yield csv_chunk([], header=True)
    async with aclosing(_batches(db, stmt)) as batches:
        async for rows in batches:
            yield await anyio.to_thread.run_sync(chunk, rows)


async def _xlsx(
    db: Database, stmt: Select[Any], contact_visible: bool, *, title: str
) -> AsyncIterator[bytes]:
    """The workbook as a stream (shared.documents.xlsx_stream): its first bytes before the
    first row is read, then each batch of rows deflated as it comes, then the zip's end."""
    sheet = ledger_sheet(title=title)

    def chunk(rows: Sequence[Row[Any]]) -> bytes:
        return sheet.rows([ledger_line(r, contact_visible=contact_visible) for r in rows])

    yield sheet.start()
    async with aclosing(_batches(db, stmt)) as batches:
        async for rows in batches:
            if data := await anyio.to_thread.run_sync(chunk, rows):
                yield data
    yield sheet.finish()
