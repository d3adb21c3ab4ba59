"""Listing complaints: filters, sorting and cursor pages that stay stable under inserts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile
from tests.support.flow import Flow


async def _register_for(
    client: httpx.AsyncClient,
    phone: str,
    n: int,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> list[dict]:
    out = []
    for _ in range(n):
        body = complaint_body(**extra)
        body["customer"]["phone"] = phone
        response = await client.post("/api/v1/complaints", json=body, headers=headers)
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


async def test_filters_by_phone_kind_category_channel_and_reference(
    client: httpx.AsyncClient,
) -> None:
    phone = mobile()
    web = await _register_for(client, phone, 2, channel="web", category="logistics")
    app = await _register_for(client, phone, 1, channel="app", kind="inquiry")
    everything = (await client.get("/api/v1/complaints", params={"customer_phone": phone})).json()
    assert {c["id"] for c in everything["items"]} == {c["id"] for c in web + app}

    by_channel = await client.get(
        "/api/v1/complaints", params={"customer_phone": f"+86 {phone}", "channel": "web"}
    )
    assert {c["id"] for c in by_channel.json()["items"]} == {c["id"] for c in web}
    by_kind = await client.get(
        "/api/v1/complaints", params={"customer_phone": phone, "kind": "inquiry"}
    )
    assert [c["id"] for c in by_kind.json()["items"]] == [app[0]["id"]]
    by_category = await client.get(
        "/api/v1/complaints", params={"customer_phone": phone, "category": "logistics"}
    )
    assert {c["id"] for c in by_category.json()["items"]} == {c["id"] for c in web}
    by_ref = await client.get("/api/v1/complaints", params={"reference": app[0]["reference"]})
    assert [c["id"] for c in by_ref.json()["items"]] == [app[0]["id"]]
    by_status = await client.get(
        "/api/v1/complaints", params={"customer_phone": phone, "status": ["registered", "closed"]}
    )
    assert len(by_status.json()["items"]) == 3
    none = await client.get(
        "/api/v1/complaints", params={"customer_phone": phone, "status": "closed"}
    )
    assert none.json()["items"] == []


async def test_created_range_filter(client: httpx.AsyncClient) -> None:
    phone = mobile()
    [created] = await _register_for(client, phone, 1)
    at = datetime.fromisoformat(created["created_at"])
    inside = {
        "customer_phone": phone,
        "created_from": (at - timedelta(seconds=1)).isoformat(),
        "created_to": (at + timedelta(seconds=1)).isoformat(),
    }
    assert len((await client.get("/api/v1/complaints", params=inside)).json()["items"]) == 1
    later = {"customer_phone": phone, "created_from": (at + timedelta(seconds=1)).isoformat()}
    assert (await client.get("/api/v1/complaints", params=later)).json()["items"] == []
    utc = {"customer_phone": phone, "created_to": at.astimezone(UTC).isoformat()}  # exclusive
    assert (await client.get("/api/v1/complaints", params=utc)).json()["items"] == []


async def test_cursor_pages_cover_everything_once_while_rows_are_inserted(
    client: httpx.AsyncClient,
) -> None:
    phone = mobile()
    first = await _register_for(client, phone, 7)
    seen: list[str] = []
    params: dict[str, object] = {"customer_phone": phone, "limit": 3, "sort": "created_at"}
    pages = 0
    while True:
        page = (await client.get("/api/v1/complaints", params=params)).json()
        seen.extend(c["id"] for c in page["items"])
        pages += 1
        if pages == 1:  # complaints registered mid-way come after, never duplicate or skip
            await _register_for(client, phone, 2)
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 9
    assert seen[:7] == [c["id"] for c in first]


async def test_newest_first_by_default_and_descending_cursor(client: httpx.AsyncClient) -> None:
    phone = mobile()
    created = await _register_for(client, phone, 5)
    page1 = (
        await client.get("/api/v1/complaints", params={"customer_phone": phone, "limit": 2})
    ).json()
    assert [c["id"] for c in page1["items"]] == [created[4]["id"], created[3]["id"]]
    page2 = (
        await client.get(
            "/api/v1/complaints",
            params={"customer_phone": phone, "limit": 2, "cursor": page1["next_cursor"]},
        )
    ).json()
    assert [c["id"] for c in page2["items"]] == [created[2]["id"], created[1]["id"]]
    mixed = await client.get(
        "/api/v1/complaints",
        params={"customer_phone": phone, "sort": "created_at", "cursor": page1["next_cursor"]},
    )
    assert mixed.status_code == 422


async def test_concurrent_inserts_do_not_break_pagination(client: httpx.AsyncClient) -> None:
    phone = mobile()
    await _register_for(client, phone, 4)
    params: dict[str, object] = {"customer_phone": phone, "limit": 2}
    page = (await client.get("/api/v1/complaints", params=params)).json()
    extra = [complaint_body() for _ in range(6)]
    for body in extra:
        body["customer"]["phone"] = phone
    await asyncio.gather(*(client.post("/api/v1/complaints", json=b) for b in extra))
    page2 = (
        await client.get("/api/v1/complaints", params={**params, "cursor": page["next_cursor"]})
    ).json()
    # Newest first: the rows inserted after page 1 are newer, so page 2 continues where it was.
    ids = [c["id"] for c in page["items"] + page2["items"]]
    assert len(set(ids)) == 4


async def test_filters_by_level_department_and_assignee(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Each filter keeps exactly the caller's complaints that have the value, and the values
    differ among them, so a filter that were ignored would return them all."""
    phone, agent = mobile(), staff.agent.headers
    [quality] = await _register_for(anon, phone, 1, agent, category="product_quality")
    [logistics] = await _register_for(anon, phone, 1, agent, category="logistics")
    assert quality["department"] != logistics["department"]  # routed by category
    assign = {"assignee_id": staff.handler_quality.id}
    await Flow(anon, quality).act("assign", agent, assign)
    if quality["level"] == logistics["level"]:
        await Flow(anon, logistics).act("escalate", agent, {"reason": "客户要求加急处理"})

    async def listed(**params: object) -> list[dict]:
        response = await anon.get(
            "/api/v1/complaints", params={"customer_phone": phone, **params}, headers=agent
        )
        assert response.status_code == 200, response.text
        items: list[dict] = response.json()["items"]
        return items

    mine = await listed()
    assert {c["id"] for c in mine} == {quality["id"], logistics["id"]}
    assert len({c["level"] for c in mine}) == 2
    for name in ("level", "department", "assignee_id"):
        for value in {c[name] for c in mine if c[name] is not None}:
            expected = [c["id"] for c in mine if c[name] == value]
            assert [c["id"] for c in await listed(**{name: value})] == expected, (name, value)
    assert [c["id"] for c in await listed(assignee_id=staff.handler_quality.id)] == [quality["id"]]
