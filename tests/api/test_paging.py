"""One way to page: every list answers `{items, next_cursor, total}`; following `next_cursor`
visits every item once; `count=true` gives the total; a forged cursor is a 422."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import Staff
from tests.support.factories import mobile
from tests.support.flow import register
from tests.support.principals import ensure_department


async def _walk(
    anon: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> tuple[list[Any], int]:
    """Every item, following next_cursor with pages of 2; and the total the first page counted."""
    items: list[Any] = []
    query: dict[str, Any] = {**params, "limit": 2, "count": "true"}
    first = await anon.get(path, params=query, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    total = page["total"]
    while True:
        assert len(page["items"]) <= 2
        items += page["items"]
        if page["next_cursor"] is None:
            return items, total
        response = await anon.get(
            path, params={**params, "limit": 2, "cursor": page["next_cursor"]}, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] is None  # counted only when asked


async def test_a_list_read_whole_pages_by_position(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    for n in range(3):
        await ensure_department(anon, admin_headers, f"p{uuid.uuid4().hex[:6]}", f"部门{n}")
    whole = await anon.get("/api/v1/departments", params={"limit": 200}, headers=admin_headers)
    everything = whole.json()["items"]
    items, total = await _walk(anon, "/api/v1/departments", staff.agent.headers)
    assert items == everything
    assert total == len(everything) >= 3
    forged = await anon.get(
        "/api/v1/departments", params={"cursor": "eyJvIjotMX0"}, headers=admin_headers
    )
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_complaints_count_and_walk(anon: httpx.AsyncClient, staff: Staff) -> None:
    phone = mobile()
    ids = {
        (await register(anon, staff.agent.headers, customer={"name": "赵六", "phone": phone})).id
        for _ in range(5)
    }
    items, total = await _walk(
        anon, "/api/v1/complaints", staff.agent.headers, customer_phone=phone
    )
    assert total == 5
    assert [c["id"] for c in items if c["id"] in ids] == [c["id"] for c in items]
    assert {c["id"] for c in items} == ids
    assert len(items) == 5


async def test_events_audit_and_outbox_walk(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers)
    for n in range(4):
        await flow.act("add_note", staff.agent.headers, {"text": f"备注{n}"})
    events, total = await _walk(anon, f"/api/v1/complaints/{flow.id}/events", staff.agent.headers)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert total == 5
    audit, counted = await _walk(anon, "/api/v1/audit-events", admin_headers, target_id=flow.id)
    assert counted == len(audit) >= 5
    assert [a["id"] for a in audit] == sorted((a["id"] for a in audit), reverse=True)
    outbox, owed = await _walk(anon, "/api/v1/outbox", admin_headers, complaint_id=flow.id)
    assert owed == len(outbox) >= 1
