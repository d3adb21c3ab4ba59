"""The staff directory (员工通讯录, `GET /api/v1/staff`) any signed-in staff member reads to pick
an assignee, and the names shown next to ids in complaint answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import Staff
from tests.support.flow import register
from tests.support.principals import create_key, create_user, ensure_department

STAFF = "/api/v1/staff"
SHOWN = {
    "id",
    "display_name",
    "role",
    "department",
    "department_name",
    "work_phone",
}


async def _all(anon: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[Any]:
    """Every page, following next_cursor."""
    items: list[Any] = []
    query: dict[str, Any] = {"limit": 2, **params}
    while True:
        response = await anon.get(STAFF, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        query = {**query, "cursor": page["next_cursor"]}


async def test_every_staff_role_reads_the_directory_without_private_data(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    dept = f"d{uuid.uuid4().hex[:6]}"
    await ensure_department(anon, admin_headers, dept, "客服二部")
    made = await anon.post(
        "/api/v1/users",
        json={
            "username": f"wang-{uuid.uuid4().hex[:6]}",
            "display_name": "王芳",
            "role": "handler",
            "department": dept,
            "password": "staff-password-for-tests",
            "email": "wang.fang@example.com",
            "mobile": "13912345678",
        },
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    for reader in (staff.agent, staff.handler_quality, staff.manager, staff.auditor):
        listed = await _all(anon, reader.headers, department=dept)
        assert listed == [
            {
                "id": made.json()["id"],
                "display_name": "王芳",
                "role": "handler",
                "department": dept,
                "department_name": "客服二部",
                "work_phone": None,
            }
        ]
    everyone = await _all(anon, staff.agent.headers)
    assert all(set(member) == SHOWN for member in everyone)
    assert "13912345678" not in str(everyone)
    assert "wang.fang@example.com" not in str(everyone)
    assert "+8613912345678" not in str(everyone)


async def test_filters_paging_and_count(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    dept = f"d{uuid.uuid4().hex[:6]}"
    await ensure_department(anon, admin_headers, dept, "质量三部")
    ids = {
        (await create_user(anon, admin_headers, role=role, department=dept, name=f"{role}x")).id
        for role in ("handler", "handler", "handler", "agent", "manager")
    }
    everyone = await _all(anon, staff.manager.headers, department=dept)
    assert {m["id"] for m in everyone} == ids
    handlers = await _all(anon, staff.manager.headers, department=dept, role="handler")
    assert len(handlers) == 3
    assert {m["role"] for m in handlers} == {"handler"}
    counted = await anon.get(
        STAFF, params={"department": dept, "limit": 2, "count": "true"}, headers=staff.agent.headers
    )
    assert counted.json()["total"] == 5
    assert len(counted.json()["items"]) == 2
    assert counted.json()["next_cursor"] is not None
    uncounted = await anon.get(STAFF, params={"department": dept}, headers=staff.agent.headers)
    assert uncounted.json()["total"] is None


async def test_integrations_and_strangers_do_not_read_the_directory(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = await create_key(anon, admin_headers, ["complaints:read"])
    refused = await anon.get(STAFF, headers=key.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    unsigned = await anon.get(STAFF)
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "unauthenticated"
    forged = await anon.get(STAFF, params={"cursor": "not-a-cursor"}, headers=admin_headers)
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_complaints_show_names_next_to_ids(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    """The assignee, who registered the complaint and each event's actor, with their names."""
    registrar = await create_user(
        anon, admin_headers, role="agent", department="service", display_name="张伟"
    )
    handler = await create_user(
        anon, admin_headers, role="handler", department="quality", display_name="李娜"
    )
    flow = await register(anon, registrar.headers)
    assert flow.complaint["created_by"] == {"kind": "user", "id": registrar.id, "name": "张伟"}
    await flow.act(
        "assign", staff.manager.headers, {"department": "quality", "assignee_id": handler.id}
    )
    assert (flow.complaint["assignee_id"], flow.complaint["assignee_name"]) == (handler.id, "李娜")
    shown = await flow.refresh(staff.manager.headers)
    assert shown["assignee_name"] == "李娜"
    listed = await anon.get(
        "/api/v1/complaints", params={"assignee_id": handler.id}, headers=staff.manager.headers
    )
    assert [c["assignee_name"] for c in listed.json()["items"]] == ["李娜"]
    events = await flow.events(staff.manager.headers)
    assert [e["actor"]["name"] for e in events] == ["张伟", "manager"]
    assert events[1]["actor"]["id"] == staff.manager.id
