"""Registering complaints: reference numbers, the stored event, reading back, idempotency."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text

from shared.db.engine import Database
from tests.support.factories import complaint_body, mobile

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_register_returns_reference_location_and_etag(client: httpx.AsyncClient) -> None:
    body = complaint_body()
    response = await client.post("/api/v1/complaints", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    today = datetime.now(SHANGHAI).strftime("%Y%m%d")
    assert re.fullmatch(rf"KS-{today}-\d{{6}}", data["reference"])
    assert response.headers["location"] == f"/api/v1/complaints/{data['id']}"
    assert response.headers["etag"] == '"1"'
    assert uuid.UUID(data["id"]).version == 4
    assert data["status"] == "registered"
    assert data["customer"]["phone"] == "+86" + body["customer"]["phone"]
    assert data["created_at"].endswith("+08:00")


async def test_registered_complaint_reads_back_by_id_reference_and_events(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/api/v1/complaints", json=complaint_body())).json()
    by_id = await client.get(f"/api/v1/complaints/{created['id']}")
    assert by_id.status_code == 200
    assert by_id.json() == created
    assert by_id.headers["etag"] == '"1"'
    by_ref = await client.get(f"/api/v1/complaints/by-reference/{created['reference']}")
    assert by_ref.json() == created
    events = (await client.get(f"/api/v1/complaints/{created['id']}/events")).json()["items"]
    assert [e["seq"] for e in events] == [1]
    assert events[0]["type"] == "complaint.registered"
    assert events[0]["payload"]["reference"] == created["reference"]
    assert events[0]["payload"]["intake"]["content"] == created["content"]


async def test_concurrent_registrations_get_distinct_references(
    client: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/complaints", json=complaint_body()) for _ in range(40))
    )
    assert all(r.status_code == 201 for r in responses)
    references = [r.json()["reference"] for r in responses]
    assert len(set(references)) == 40
    numbers = sorted(int(ref.rsplit("-", 1)[1]) for ref in references)
    assert numbers == list(range(numbers[0], numbers[0] + 40))  # no gaps without failures


async def test_idempotent_retry_returns_the_same_complaint(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = complaint_body()
    key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    first = await client.post("/api/v1/complaints", json=body, headers=key)
    second = await client.post("/api/v1/complaints", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert await _count_for_phone(db, body["customer"]["phone"]) == 1


async def test_same_key_with_another_body_is_refused(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": f"reuse-{uuid.uuid4()}"}
    first = await client.post("/api/v1/complaints", json=complaint_body(), headers=key)
    assert first.status_code == 201
    other = await client.post("/api/v1/complaints", json=complaint_body(), headers=key)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_concurrent_duplicates_create_one_complaint(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = complaint_body()
    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/complaints", json=body, headers=key) for _ in range(12))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count_for_phone(db, body["customer"]["phone"]) == 1


async def test_phone_call_id_deduplicates_retries(client: httpx.AsyncClient, db: Database) -> None:
    phone = mobile()
    call = {"call_id": f"CALL-{uuid.uuid4()}", "caller_number": phone, "agent_id": "A7"}
    body = complaint_body(channel="phone", channel_meta=call)
    body["customer"]["phone"] = phone
    responses = await asyncio.gather(
        *(client.post("/api/v1/complaints", json=body) for _ in range(5))
    )
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count_for_phone(db, phone) == 1
    changed = dict(body, content="同一通电话，不同内容")
    assert (await client.post("/api/v1/complaints", json=changed)).status_code == 422


async def _count_for_phone(db: Database, phone: str) -> int:
    async with db.connect() as conn:
        result = await conn.execute(
            text("SELECT count(*) FROM complaints WHERE customer_phone = :p"), {"p": "+86" + phone}
        )
        return int(result.scalar_one())
