"""The customer's public status lookup: reference + phone, nothing else disclosed."""

from __future__ import annotations

import httpx

from tests.support.factories import complaint_body, mobile


async def test_lookup_with_reference_and_phone_shows_only_the_status(
    client: httpx.AsyncClient,
) -> None:
    body = complaint_body()
    created = (await client.post("/api/v1/complaints", json=body)).json()
    response = await client.post(
        "/api/v1/public/status-lookup",
        json={"reference": created["reference"], "phone": body["customer"]["phone"]},
    )
    assert response.status_code == 200
    data = response.json()
    assert data["reference"] == created["reference"]
    assert data["status"] == "registered"
    assert data["stage"] == "已受理"
    assert set(data) == {
        "reference",
        "kind",
        "status",
        "stage",
        "registered_at",
        "updated_at",
        "next_deadline",
    }
    text = response.text
    for secret in (body["customer"]["name"], body["customer"]["phone"], body["content"]):
        assert secret not in text


async def test_wrong_phone_and_unknown_reference_get_the_same_404(
    client: httpx.AsyncClient,
) -> None:
    body = complaint_body()
    created = (await client.post("/api/v1/complaints", json=body)).json()
    wrong_phone = await client.post(
        "/api/v1/public/status-lookup", json={"reference": created["reference"], "phone": mobile()}
    )
    unknown = await client.post(
        "/api/v1/public/status-lookup",
        json={"reference": "KS-20200101-999999", "phone": body["customer"]["phone"]},
    )
    garbage = await client.post(
        "/api/v1/public/status-lookup", json={"reference": created["reference"], "phone": "abc"}
    )
    assert wrong_phone.status_code == unknown.status_code == garbage.status_code == 404
    assert wrong_phone.json() == {**unknown.json(), "instance": wrong_phone.json()["instance"]}
    assert wrong_phone.json()["detail"] == garbage.json()["detail"]
