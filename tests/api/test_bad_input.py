"""Bad input gets an RFC 9457 problem with the right status, and nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from services.intake_api.examples import ACTION_EXAMPLES
from shared.db.engine import Database
from tests.support.factories import complaint_body, mobile

PROBLEM = "application/problem+json"


# Every table a registration writes to: a refused request leaves each count unchanged.
WRITTEN_BY_INTAKE = ("complaints", "complaint_events", "idempotency_keys", "outbox", "deadlines")


async def _counts(db: Database) -> dict[str, int]:
    async with db.connect() as conn:
        return {
            table: int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
            for table in WRITTEN_BY_INTAKE
        }


def _with(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a nested field (dotted path) of a body."""

    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return change


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for p in parents:
            node = node[p]
        del node[last]

    return change


tomorrow_plus = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=3)).isoformat()

INVALID_BODIES = [
    ("wrong type", _with("product.quantity", "three"), ["body", "product", "quantity"]),
    ("unknown enum", _with("channel", "pigeon"), ["body", "channel"]),
    ("unknown category", _with("category", "weather"), ["body", "category"]),
    ("missing content", _without("content"), ["body", "content"]),
    ("missing customer", _without("customer"), ["body", "customer"]),
    ("empty content", _with("content", "   "), ["body", "content"]),
    ("content over limit", _with("content", "投" * 20001), ["body", "content"]),
    ("name over limit", _with("customer.name", "张" * 101), ["body", "customer", "name"]),
    ("invalid mobile", _with("customer.phone", "12345678901"), ["body", "customer", "phone"]),
    ("short mobile", _with("customer.phone", "1381234567"), ["body", "customer", "phone"]),
    (
        "future purchase",
        _with("product.purchase_date", tomorrow_plus),
        ["body", "product", "purchase_date"],
    ),
    ("bad email", _with("customer.email", "not-an-email"), ["body", "customer", "email"]),
    ("server-owned status", _with("status", "closed"), ["body", "status"]),
    ("server-owned level", _with("level", 3), ["body", "level"]),
    ("server-owned reference", _with("reference", "KS-20260101-000001"), ["body", "reference"]),
    ("nul character", _with("content", "坏了\x00"), ["body", "content"]),
    ("regulator without case number", _with("channel", "regulator"), ["body"]),
    ("no contact at all", _with("customer", {"name": "匿名"}), ["body", "customer"]),
    ("naive occurred_at", _with("occurred_at", "2026-11-01T10:00:00"), ["body"]),
]


@pytest.mark.parametrize(
    ("case", "change", "loc"), INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES]
)
async def test_invalid_bodies_get_422_with_field_details_and_write_nothing(
    client: httpx.AsyncClient,
    db: Database,
    case: str,
    change: Callable[[dict[str, Any]], None],
    loc: list[str],
) -> None:
    body = complaint_body()
    change(body)
    before = await _counts(db)
    response = await client.post("/api/v1/complaints", json=body)
    assert response.status_code == 422, (case, response.text)
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"]
    assert any(err["loc"][: len(loc)] == loc for err in problem["errors"]), problem["errors"]
    assert "Traceback" not in response.text
    assert await _counts(db) == before


async def test_malformed_json_is_400(client: httpx.AsyncClient, db: Database) -> None:
    before = await _counts(db)
    response = await client.post(
        "/api/v1/complaints",
        content=b'{"channel": "web", "customer": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/malformed-json"
    assert await _counts(db) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_non_json_media_type_is_415(
    client: httpx.AsyncClient, db: Database, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    before = await _counts(db)
    # A valid complaint, so only the media type can be why nothing is written.
    content = httpx.Request("POST", "/", json=complaint_body()).content
    response = await client.post("/api/v1/complaints", content=content, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert await _counts(db) == before


async def test_reused_idempotency_key_with_another_body_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = {"Idempotency-Key": f"reuse-{uuid.uuid4()}"}
    empty = await _counts(db)
    first = await client.post("/api/v1/complaints", json=complaint_body(), headers=key)
    assert first.status_code == 201, first.text
    before = await _counts(db)
    # A registration writes to every table counted, so "unchanged" below means something.
    assert all(before[table] > empty[table] for table in WRITTEN_BY_INTAKE), (empty, before)
    other = await client.post("/api/v1/complaints", json=complaint_body(), headers=key)
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert await _counts(db) == before


async def test_reused_call_id_with_another_body_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    call = {"call_id": f"CALL-{uuid.uuid4()}", "caller_number": mobile(), "agent_id": "A7"}
    body = complaint_body(channel="phone", channel_meta=call)
    first = await client.post("/api/v1/complaints", json=body)
    assert first.status_code == 201, first.text
    before = await _counts(db)
    other = await client.post(
        "/api/v1/complaints",
        json=complaint_body(channel="phone", channel_meta=call, content="同一通电话，另一段内容"),
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert await _counts(db) == before


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient, db: Database) -> None:
    before = await _counts(db)
    body = complaint_body(content="x")
    raw = httpx.Request("POST", "/", json=body).content
    padded = raw[:-1] + b', "pad": "' + b"a" * (1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/complaints", content=padded, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert await _counts(db) == before


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient, db: Database) -> None:
    """Chunked, with no Content-Length to refuse it by: a complaint padded past 1 MiB."""
    raw = httpx.Request("POST", "/", json=complaint_body()).content

    async def chunks() -> Any:
        yield raw[:-1] + b', "pad": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    before = await _counts(db)
    response = await client.post(
        "/api/v1/complaints", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert await _counts(db) == before


NON_UUIDS = ["12345", "not-a-uuid", "0000000-0000-4000-8000-00000000000g", "投诉", "9" * 300]
# Valid bodies (their documented examples) and an If-Match: only the id is wrong.
NON_UUID_CALLS = [
    ("GET", "", None),
    ("GET", "/events", None),
    ("GET", "/deadlines", None),
    ("POST", "/reveal", None),
    ("POST", "/triage", ACTION_EXAMPLES["triage"]),
    ("POST", "/assign", ACTION_EXAMPLES["assign"]),
    ("POST", "/add-note", ACTION_EXAMPLES["add_note"]),
]


@pytest.mark.parametrize("bad_id", NON_UUIDS)
async def test_non_uuid_id_is_a_404_problem(client: httpx.AsyncClient, bad_id: str) -> None:
    """A malformed id names no complaint: the same 404 as an unknown one, on every route."""
    for method, suffix, body in NON_UUID_CALLS:
        response = await client.request(
            method, f"/api/v1/complaints/{bad_id}{suffix}", json=body, headers={"If-Match": '"1"'}
        )
        assert response.status_code == 404, (method, suffix, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 404


async def test_unknown_ids_and_references_are_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/complaints/00000000-0000-4000-8000-000000000000",
        "/api/v1/complaints/00000000-0000-4000-8000-000000000000/events",
        "/api/v1/complaints/by-reference/KS-20200101-000001",
        "/api/v1/complaints/by-reference/not-a-reference",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["status"] == 404


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 1000},
        {"level": 7},
        {"status": "sleeping"},
        {"created_from": "yesterday"},
        {"created_from": "2026-11-01T00:00:00"},
        {"cursor": "!!!"},
        {"customer_phone": "123"},
        {"assignee_id": "bob"},
        {"sort": "reference"},
    ],
)
async def test_bad_list_queries_are_422(client: httpx.AsyncClient, query: dict[str, Any]) -> None:
    response = await client.get("/api/v1/complaints", params=query)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"]


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    wrong = await client.delete("/api/v1/complaints")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == PROBLEM
