"""Query parameters the database could not take (crafted cursors, ids past bigint, instants
outside the years PostgreSQL's driver can convert) are refused as problems, never a 500."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROBLEM = "application/problem+json"
BIGINT_MAX = 2**63 - 1  # PostgreSQL's bigint, written out so the test does not trust our constant

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
# Shaped like the cursors we issue, with anything in each field: the crafted ones worth trying.
CURSOR_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "t": JSON
        | st.sampled_from(
            [
                "2026-01-01T00:00:00+00:00",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "2026-01-01T00:00:00",
            ]
        ),
        "i": JSON | st.just(str(uuid.uuid4())),
        "d": JSON,
    },
)


def _cursor(value: Any) -> str:
    # The standard library's json: it writes integers of any size, as a crafted cursor may.
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _assert_problem(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == response.status_code


# Cursors we never issue: the audit's example, a time out of range in UTC, a naive time,
# and fields of the wrong types.
CRAFTED = [
    {"t": "2026-01-01T00:00:00+00:00", "i": 123, "d": True},
    {"t": "2026-01-01T00:00:00+00:00", "i": [], "d": True},
    {"t": "0001-01-01T00:00:00+14:00", "i": str(uuid.uuid4()), "d": True},
    {"t": "9999-12-31T23:59:59-14:00", "i": str(uuid.uuid4()), "d": True},
    {"t": "2026-01-01T00:00:00", "i": str(uuid.uuid4()), "d": True},
    {"t": 1767225600, "i": str(uuid.uuid4()), "d": True},
    {"t": "2026-01-01T00:00:00+00:00", "i": str(uuid.uuid4()), "d": "yes"},
    ["2026-01-01T00:00:00+00:00", str(uuid.uuid4()), True],
    "cursor",
]


@pytest.mark.parametrize("payload", CRAFTED)
async def test_a_crafted_cursor_is_422(client: httpx.AsyncClient, payload: Any) -> None:
    response = await client.get("/api/v1/complaints", params={"cursor": _cursor(payload)})
    _assert_problem(response, 422)
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "cursor"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=JSON | CURSOR_LIKE)
async def test_no_cursor_shape_gets_a_server_error(client: httpx.AsyncClient, payload: Any) -> None:
    response = await client.get("/api/v1/complaints", params={"cursor": _cursor(payload)})
    if response.status_code != 200:  # the fuzzer may well build a cursor we could have issued
        _assert_problem(response, 422)


async def test_audit_cursor_past_bigint_is_422(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    path = "/api/v1/audit-events"

    # The cursor format (base64 of a JSON object, the next page's `b`efore id) written out.
    def cursor(before: int) -> str:
        return base64.urlsafe_b64encode(json.dumps({"b": before}).encode()).decode()

    top = await anon.get(path, params={"cursor": cursor(BIGINT_MAX)}, headers=admin_headers)
    assert top.status_code == 200, top.text
    past = await anon.get(path, params={"cursor": cursor(BIGINT_MAX + 1)}, headers=admin_headers)
    _assert_problem(past, 422)
    assert [e["loc"] for e in past.json()["errors"]] == [["query", "cursor"]]


@pytest.fixture(scope="module")
async def datetime_queries(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Every (path, query parameter) of the API that takes an instant, from the OpenAPI."""
    schema = (await client.get("/openapi.json")).json()
    found = []
    for path, item in schema["paths"].items():
        for param in item.get("get", {}).get("parameters", []):
            types = [param["schema"], *param["schema"].get("anyOf", [])]
            if param["in"] == "query" and any(t.get("format") == "date-time" for t in types):
                found.append((path, param["name"]))
    return found


# Each is a valid RFC 3339 instant whose UTC form falls outside the years 1–9999.
UNREPRESENTABLE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
EXTREME_BUT_FINE = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"]


@pytest.mark.parametrize("value", UNREPRESENTABLE)
async def test_instants_outside_the_representable_range_are_422(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    datetime_queries: list[tuple[str, str]],
    value: str,
) -> None:
    assert {
        ("/api/v1/complaints", "created_from"),
        ("/api/v1/complaints", "created_to"),
        ("/api/v1/audit-events", "occurred_from"),
        ("/api/v1/audit-events", "occurred_to"),
    } <= set(datetime_queries)
    for path, name in datetime_queries:
        response = await anon.get(path, params={name: value}, headers=admin_headers)
        _assert_problem(response, 422)
        assert [e["loc"] for e in response.json()["errors"]] == [["query", name]], (path, name)


@pytest.mark.parametrize("value", EXTREME_BUT_FINE)
async def test_the_first_and_last_representable_instants_are_accepted(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    datetime_queries: list[tuple[str, str]],
    value: str,
) -> None:
    for path, name in datetime_queries:
        response = await anon.get(path, params={name: value}, headers=admin_headers)
        assert response.status_code == 200, (path, name, response.text)
