"""Issue 15 point 1: every field of the intake schema is answered 201 or a 4xx problem, never a
5xx, and no complaint is ever stored behind an answer that is not 2xx (a client that gets an
error retries, and without an Idempotency-Key a stored complaint would be registered twice)."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from shared.db.engine import Database
from shared.domain.intake import ComplaintIntake
from tests.conftest import Staff
from tests.support.factories import complaint_body
from tests.support.flow import Flow
from tests.support.schema_strategy import from_schema

PROBLEM = "application/problem+json"
SCHEMA = ComplaintIntake.model_json_schema()
# Every field present with plausible values (most are registered), or anything the schema allows.
INTAKES = from_schema(SCHEMA, plausible=True) | from_schema(SCHEMA)


async def _count(db: Database) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM complaints"))).scalar_one())


async def test_a_source_url_is_stored_and_answered(client: httpx.AsyncClient) -> None:
    """Point 1: a registration with `channel_meta.source_url` was stored, then answered 500
    (the answer was built from the domain's URL objects, not from what is stored)."""
    body = complaint_body(channel_meta={"source_url": "https://a.cn/x"})
    created = await client.post("/api/v1/complaints", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["channel_meta"]["source_url"] == "https://a.cn/x"
    read = await client.get(f"/api/v1/complaints/{created.json()['id']}")
    assert read.json() == created.json()


async def test_an_action_on_a_complaint_with_a_source_url_is_answered(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Point 1: actions answered from the new state had the same fault as registration."""
    body = complaint_body(channel_meta={"source_url": "https://a.cn/x"})
    body["attachments"] = [{"name": "照片", "url": "https://files.example.com/1.jpg"}]
    registered = await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)
    assert registered.status_code == 201, registered.text
    flow = Flow(anon, registered.json())
    note = await flow.act("add_note", staff.agent.headers, {"text": "已联系客户"})
    assert note.json()["channel_meta"]["source_url"] == "https://a.cn/x"
    read = await anon.get(f"/api/v1/complaints/{flow.id}", headers=staff.agent.headers)
    assert read.json() == note.json()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(body=INTAKES, key=st.none() | st.sampled_from(["fuzz-1", "fuzz-2"]))
async def test_every_intake_field_gets_201_or_a_problem_and_nothing_behind_a_refusal(
    client: httpx.AsyncClient, db: Database, body: dict[str, object], key: str | None
) -> None:
    before = await _count(db)
    headers = {"Idempotency-Key": key} if key else {}
    response = await client.post("/api/v1/complaints", json=body, headers=headers)
    after = await _count(db)
    if response.status_code == 201:
        replayed = response.headers.get("idempotent-replayed") == "true"
        assert after == before + (0 if replayed else 1)
        read = await client.get(response.headers["location"])
        assert read.status_code == 200, read.text
        if not replayed:
            assert read.json() == response.json()
    else:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == PROBLEM
        assert after == before
