"""An OpenAPI document that generates good clients: stable readable operationIds, summaries that
are whole sentences, realistic answer examples, the lifecycle actions grouped after intake and
queries, and one shape for every list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.intake_api.examples import ACTION_EXAMPLES

METHODS = {"get", "post", "put", "patch", "delete"}
CAMEL = re.compile(r"^[a-z][a-z0-9]*([A-Z][a-z0-9]*)*$")
PLACEHOLDERS = {"string", "", "foo", "bar", "example", "test", "xxx", "lorem ipsum"}


@pytest.fixture(scope="module")
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method, path, op


def _examples(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every `example` / `examples` value anywhere in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example":
                yield f"{where}.example", value
            elif key == "examples" and isinstance(value, list):
                for i, item in enumerate(value):
                    yield f"{where}.examples[{i}]", item
            elif key == "examples" and isinstance(value, dict):
                for name, item in value.items():
                    yield f"{where}.examples.{name}", item.get("value", item)
            else:
                yield from _examples(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _examples(item, f"{where}[{i}]")


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_every_operation_has_a_unique_camel_case_operation_id(schema: dict[str, Any]) -> None:
    ids = [op.get("operationId", "") for _, _, op in _operations(schema)]
    assert all(CAMEL.match(i) for i in ids), [i for i in ids if not CAMEL.match(i)]
    assert len(ids) == len(set(ids))
    by_route = {(m, p): op["operationId"] for m, p, op in _operations(schema)}
    assert by_route[("post", "/api/v1/complaints")] == "registerComplaint"
    assert by_route[("get", "/api/v1/complaints/{complaint_id}")] == "getComplaint"
    assert by_route[("get", "/api/v1/staff")] == "listStaff"
    # Generated for each action from its name: a new action gets one the same way.
    for action in ACTION_EXAMPLES:
        first, *rest = action.split("_")
        expected = first + "".join(w.capitalize() for w in rest) + "Complaint"
        path = "/api/v1/complaints/{complaint_id}/" + action.replace("_", "-")
        assert by_route[("post", path)] == expected
    assert by_route[("post", "/api/v1/complaints/{complaint_id}/triage")] == "triageComplaint"


def test_every_summary_is_a_whole_sentence(schema: dict[str, Any]) -> None:
    for method, path, op in _operations(schema):
        summary = op.get("summary", "")
        assert summary[:1].isupper(), (method, path, summary)
        assert summary.endswith((".", "。")), (method, path, summary)
        assert len(summary.split()) >= 3, (method, path, summary)


def test_no_example_is_a_placeholder(schema: dict[str, Any]) -> None:
    found = list(_examples(schema))
    assert len(found) > 50
    for where, example in found:
        for leaf in _leaves(example):
            assert not (isinstance(leaf, str) and leaf.strip().lower() in PLACEHOLDERS), where


def test_complaint_answers_carry_a_realistic_example(schema: dict[str, Any]) -> None:
    """Registration, the reads and every action answer with a complaint example made by the
    domain: a reference number, Chinese content, +08:00 times, what its reader may do."""
    complaint_answers = 0
    for method, path, op in _operations(schema):
        for status in ("200", "201"):
            content = op["responses"].get(status, {}).get("content", {}).get("application/json")
            ref = (content or {}).get("schema", {}).get("$ref", "")
            if ref.endswith("/ComplaintOut"):
                complaint_answers += 1
                example = content["example"]
                assert re.match(r"^KS-\d{8}-\d{6}$", example["reference"]), (method, path)
                assert "漏水" in example["content"]
                assert example["created_at"].endswith("+08:00")
                assert example["allowed_actions"]
                assert example["assignee_name"] == "李娜"
    assert complaint_answers >= len(ACTION_EXAMPLES) + 3
    page = schema["paths"]["/api/v1/complaints/{complaint_id}/events"]["get"]
    events = page["responses"]["200"]["content"]["application/json"]["example"]
    assert events["items"][0]["type"] == "complaint.registered"
    assert events["items"][0]["actor"]["name"]


def test_lifecycle_actions_come_after_intake_and_queries(schema: dict[str, Any]) -> None:
    tags = [t["name"] for t in schema["tags"]]
    assert tags.index("complaints") < tags.index("handling")
    assert tags.index("staff") < tags.index("handling")
    assert tags.index("handling") < tags.index("admin")
    used = {tag for _, _, op in _operations(schema) for tag in op.get("tags", [])}
    assert used <= set(tags), used - set(tags)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    resolved: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


def test_every_list_answers_one_page_shape(schema: dict[str, Any]) -> None:
    """No operation answers a bare array; every page has `items`, `next_cursor` and `total`
    and takes `cursor`, `limit` and `count`."""
    pages = 0
    for method, path, op in _operations(schema):
        content = op["responses"].get("200", {}).get("content", {}).get("application/json")
        if content is None:
            continue
        answer = _resolve(schema, content["schema"])
        assert answer.get("type") != "array", (method, path)
        if "items" in answer.get("properties", {}):
            pages += 1
            assert {"items", "next_cursor", "total"} <= set(answer["properties"]), path
            params = {p["name"] for p in op.get("parameters", [])}
            assert {"cursor", "limit", "count"} <= params, (path, params)
    assert pages >= 17
