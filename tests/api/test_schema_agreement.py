"""Issue 15 point 6: requests that break the published OpenAPI schema were accepted (found by
schemathesis' negative_data_rejection check): a number where the schema says a date or an
instant (read as a Unix time), a number where it says a boolean. They are refused as the schema
says, with a 422 problem naming the field."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.intake_api.examples import ACTION_EXAMPLES
from tests.conftest import Staff
from tests.support.factories import complaint_body

PROBLEM = "application/problem+json"
SOME_COMPLAINT = f"/api/v1/complaints/{uuid.uuid4()}"


def _assert_refused(response: httpx.Response, loc: list[str | int]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert loc in [e["loc"] for e in response.json()["errors"]], response.json()


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/api/v1/complaints", {"created_to": "0.5"}, "created_to"),
        ("/api/v1/complaints", {"created_from": "1767225600"}, "created_from"),
        ("/api/v1/audit-events", {"occurred_to": "0.5"}, "occurred_to"),
        ("/api/v1/calendars/default/days", {"to": "0"}, "to"),
        ("/api/v1/calendars/default/days", {"from": "20260101"}, "from"),
    ],
)
async def test_a_number_is_no_date_in_a_query(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    path: str,
    params: dict[str, str],
    name: str,
) -> None:
    response = await anon.get(path, params=params, headers=admin_headers)
    _assert_refused(response, ["query", name])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("notify_customer", 0),
        ("notify_customer", "yes"),
        ("occurred_at", 1767225600),
    ],
)
async def test_registration_takes_the_types_the_schema_names(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    response = await client.post("/api/v1/complaints", json=complaint_body(**{field: value}))
    _assert_refused(response, ["body", field])


async def test_a_boolean_is_no_size(client: httpx.AsyncClient) -> None:
    body = complaint_body(attachments=[{"name": "照片", "url": "https://a.cn/1.jpg"}])
    body["attachments"][0]["size_bytes"] = False
    response = await client.post("/api/v1/complaints", json=body)
    _assert_refused(response, ["body", "attachments", 0, "size_bytes"])


async def test_a_number_is_no_purchase_date(client: httpx.AsyncClient) -> None:
    body = complaint_body()
    body["product"]["purchase_date"] = 20260101
    response = await client.post("/api/v1/complaints", json=body)
    _assert_refused(response, ["body", "product", "purchase_date"])


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [
        ("verify_corrective_action", "effective", 1),
        ("add_corrective_action", "due_date", 0),
        ("await_customer", "expected_by", 20261201),
        ("log_contact", "contacted_at", 1767225600.5),
        ("regulator_reply", "replied_at", 0),
    ],
)
async def test_actions_take_the_types_the_schema_names(
    anon: httpx.AsyncClient, staff: Staff, action: str, field: str, value: Any
) -> None:
    body = {**ACTION_EXAMPLES[action], field: value}
    response = await anon.post(
        f"{SOME_COMPLAINT}/{action.replace('_', '-')}",
        json=body,
        headers={**staff.director.headers, "If-Match": '"1"'},
    )
    _assert_refused(response, ["body", field])


async def test_a_number_is_no_boolean_in_an_sla_policy(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    stage = {
        "stage": "resolution",
        "amount": 2,
        "unit": "working_days",
        "warn_ratio": 0.5,
        "on_breach": {"escalate": 0, "notify": ["director"]},
    }
    body = {"name": "布尔值测试", "kind": "suggestion", "level": 3, "stages": [stage]}
    response = await anon.post("/api/v1/sla-policies", json=body, headers=admin_headers)
    _assert_refused(response, ["body", "stages", 0, "on_breach", "escalate"])
