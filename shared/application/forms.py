"""The printed 《投诉处理单》 of a complaint: its rows loaded, then rendered
(shared.documents.form). The API prints it for a reader; the yearly case file (案宗) puts one
in each case's folder."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import accounts
from shared.db import complaints as repo
from shared.db import evidence as evidence_repo
from shared.documents.form import FormData, render_form


async def form_data(
    conn: AsyncConnection,
    complaint: dict[str, Any],
    *,
    contact_visible: bool,
    company_name: str,
    printed_at: datetime | None,
) -> FormData:
    events = await repo.event_rows(conn, complaint["id"])
    evidence = await evidence_repo.list_for_complaint(conn, complaint["id"])
    names = {str(u["id"]): u["display_name"] for u in await accounts.list_users(conn)}
    departments = {d["code"]: d["name"] for d in await accounts.list_departments(conn)}
    return FormData(
        complaint=complaint,
        events=events,
        evidence=evidence,
        names=names,
        departments=departments,
        contact_visible=contact_visible,
        company_name=company_name,
        printed_at=printed_at,
    )


async def print_form(
    conn: AsyncConnection,
    complaint: dict[str, Any],
    *,
    contact_visible: bool,
    company_name: str,
    printed_at: datetime | None,
) -> bytes:
    """The form as PDF bytes, rendered in a worker thread (CPU work of a few hundred
    milliseconds that must not hold the event loop)."""
    data = await form_data(
        conn,
        complaint,
        contact_visible=contact_visible,
        company_name=company_name,
        printed_at=printed_at,
    )
    return await anyio.to_thread.run_sync(render_form, data)
