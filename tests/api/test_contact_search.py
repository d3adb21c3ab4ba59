"""Issue 15 point 4: no phone-number oracle. The list's `customer_phone` filter answered callers
who see only masked numbers (`139****4965`): 10,000 guesses recovered a number. Searching by
contact data needs access to contact data, is audited like a reveal, and is limited per caller."""

from __future__ import annotations

import httpx

from services.intake_api.app import create_app
from shared.config import Settings
from tests.conftest import Staff, make_settings
from tests.support.factories import complaint_body
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME, create_key, sign_in

PROBLEM = "application/problem+json"


async def test_callers_who_see_masked_numbers_cannot_search_by_phone(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    body = complaint_body()
    phone = body["customer"]["phone"]
    assert (await client.post("/api/v1/complaints", json=body)).status_code == 201
    masked_key = await create_key(
        anon, admin_headers, ["complaints:create", "complaints:read", "complaints:read:all"]
    )
    for headers in (masked_key.headers, admin_headers, staff.auditor.headers):
        search = await anon.get(
            "/api/v1/complaints", params={"customer_phone": phone}, headers=headers
        )
        assert search.status_code == 403, search.text
        assert search.headers["content-type"] == PROBLEM
        # The same callers still list without the filter (masked).
        listed = await anon.get("/api/v1/complaints", params={"limit": 1}, headers=headers)
        assert listed.status_code == 200, listed.text


async def test_a_search_by_phone_is_audited_without_the_number(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    body = complaint_body()
    phone = body["customer"]["phone"]
    created = await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)
    found = await anon.get(
        "/api/v1/complaints", params={"customer_phone": phone}, headers=staff.agent.headers
    )
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["items"]] == [created.json()["id"]]
    entries = (
        await anon.get(
            "/api/v1/audit-events",
            params={"action": "complaint.contact_search", "actor_id": staff.agent.id},
            headers=admin_headers,
        )
    ).json()["items"]
    entries = [e for e in entries if created.json()["id"] in e["details"]["found"]]
    assert len(entries) == 1
    assert entries[0]["details"] == {
        "filters": ["customer_phone"],
        "found": [created.json()["id"]],
    }
    assert phone[-8:] not in str(entries)


async def test_searches_by_phone_are_limited_per_caller(
    database_url: str, settings: Settings
) -> None:
    strict = create_app(
        make_settings(database_url, settings.require_redis_url(), contact_search_limit="3/day")
    )
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)
            key = await create_key(c, admin, ["complaints:read", "pii:read"])
            codes = [
                (
                    await c.get(
                        "/api/v1/complaints",
                        params={"customer_phone": f"1390000{i:04d}"},
                        headers=key.headers,
                    )
                ).status_code
                for i in range(4)
            ]
            assert codes == [200, 200, 200, 429]
            # Listing without the filter is not held up by it.
            listed = await c.get("/api/v1/complaints", headers=key.headers)
            assert listed.status_code == 200
