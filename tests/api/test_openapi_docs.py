"""The OpenAPI document is complete, its examples are accepted as they stand, and the docs pages
work with no internet access."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.support.desk import Desk
from tests.support.principals import create_user

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


async def test_every_operation_has_a_summary_and_declares_its_errors(
    schema: dict[str, Any],
) -> None:
    operations = _operations(schema)
    assert len(operations) >= 8
    for method, path, op in operations:
        assert op.get("summary"), f"{method} {path} has no summary"
        if path in ("/healthz",):
            continue
        errors = [code for code in op["responses"] if code.startswith(("4", "5"))]
        assert errors, f"{method} {path} declares no error response"
        for code in errors:
            content = op["responses"][code].get("content", {})
            assert "application/problem+json" in content, f"{method} {path} {code}"


async def test_every_request_body_has_a_chinese_example(schema: dict[str, Any]) -> None:
    for method, path, op in _operations(schema):
        body = op.get("requestBody")
        if body is None:
            continue
        for media_type, content in body["content"].items():
            if media_type != "application/json":
                continue
            examples = content.get("examples")
            assert examples, f"{method} {path} has no example"
            for example in examples.values():
                assert re.search(r"[\u4e00-\u9fff]", str(example)), f"{method} {path}"


# Examples naming things that do not exist here are accepted with these answers (a validation
# failure would be 400/422): the lookup's reference and the refresh token are placeholders.
# The rule sets' examples are put on a database of their own (tests/api/test_rule_sets.py).
RULES = "/api/v1/rules/"
ACCEPTED_OTHERWISE = {
    "/api/v1/public/status-lookup": 404,
    "/api/v1/public/survey": 404,
    "/api/v1/auth/refresh": 401,
    # 考核 is entered and voided by managers and directors, not by the admin posting these.
    "/api/v1/assessment/entries": 403,
    "/api/v1/assessment/entries/{entry_id}/void": 403,
    # A subscription names its recipients: the example's user does not exist here.
    "/api/v1/report-subscriptions": 422,
    "/api/v1/report-subscriptions/{subscription_id}": 404,
}
# The lifecycle actions' examples only make sense in handling order, on one complaint, by the
# right staff: the actions' own tests post them, not this one.
ACTIONS = "/api/v1/complaints/{complaint_id}/"
TEMPLATE_KEY = "complaint_acknowledged"  # the documented override is its 受理回执


def _examples(op: dict[str, Any]) -> list[tuple[str, Any]]:
    examples = op["requestBody"]["content"]["application/json"]["examples"]
    return [(name, example["value"]) for name, example in examples.items()]


def _fresh_code() -> str:
    """A department or calendar code no other test uses, so the first PUT creates it."""
    return f"ex{uuid.uuid4().hex[:12]}"


class Resources:
    """The path parameters of each operation whose examples need something to exist first,
    made through the API with that resource's own first documented example where it has one."""

    def __init__(self, anon: httpx.AsyncClient, admin: dict[str, str], schema: dict[str, Any]):
        self.anon, self.admin, self.schema = anon, admin, schema

    async def _created(self, method: str, path: str, **params: str) -> dict[str, Any]:
        [(_, body), *_] = _examples(self.schema["paths"][path][method])
        url = path.format(**params)
        response = await self.anon.request(method, url, json=body, headers=self.admin)
        assert response.status_code == 201, (url, response.text)
        data: dict[str, Any] = response.json()
        return data

    async def params(self, path: str) -> dict[str, str]:
        if path == "/api/v1/users/{user_id}":
            user = await create_user(self.anon, self.admin, role="handler", department="quality")
            return {"user_id": user.id}
        if path == "/api/v1/webhook-subscriptions/{subscription_id}":
            return {"subscription_id": (await self._created("post", path.rsplit("/", 1)[0]))["id"]}
        if path == "/api/v1/sla-policies/{policy_id}":
            return {"policy_id": (await self._created("post", path.rsplit("/", 1)[0]))["id"]}
        if path == "/api/v1/notification-templates/{key}":
            return {"key": TEMPLATE_KEY}
        if path in ("/api/v1/departments/{code}", "/api/v1/calendars/{code}"):
            return {"code": _fresh_code()}
        if path.startswith("/api/v1/calendars/{code}/"):
            code = _fresh_code()
            await self._created("put", "/api/v1/calendars/{code}", code=code)
            return {"code": code}
        if path in (
            "/api/v1/assessment/entries/{entry_id}/void",
            "/api/v1/report-subscriptions/{subscription_id}",
        ):
            return {}  # their documented examples will do (refused: see ACCEPTED_OTHERWISE)
        raise AssertionError(f"{path}: say here what its examples need to exist first")


def _documented(op: dict[str, Any], name: str) -> str:
    [param] = [p for p in op.get("parameters", []) if p["in"] == "path" and p["name"] == name]
    return str(param["schema"]["examples"][0])


async def _path_of(path: str, op: dict[str, Any], resources: Resources) -> str:
    if "{" not in path:
        return path
    params = await resources.params(path)
    for name in re.findall(r"{(\w+)}", path):
        if name not in params:  # e.g. the calendar day: its documented example will do
            params[name] = _documented(op, name)
    return path.format(**params)


async def test_every_documented_example_is_accepted_as_it_stands(
    desk: Desk, schema: dict[str, Any]
) -> None:
    """And answered with a status the operation declares (a PUT that creates says 201). On a
    database of the module's own (`desk`): the examples make what they document — the user
    `li.na` with the sign-in form's example password, departments, policies, a template
    override — which no other test may meet (tests/api/test_auth.py signs in with that
    example and expects no such account)."""
    anon, admin_headers, integration = desk.client, desk.admin, desk.integration
    resources = Resources(anon, admin_headers, schema)
    posted: set[str] = set()
    try:
        for method, path, op in _operations(schema):
            body = op.get("requestBody")
            if body is None or "application/json" not in body["content"]:
                continue
            if path.startswith((RULES, ACTIONS)):  # posted elsewhere: see above
                continue
            # Intake as the integration client; configuration and ops as the admin.
            intake = {"complaints", "public"} & set(op.get("tags", []))
            headers = integration if intake else admin_headers
            url = await _path_of(path, op, resources)
            for name, example in _examples(op):
                response = await anon.request(method, url, json=example, headers=headers)
                expected = ACCEPTED_OTHERWISE.get(path)
                if expected is not None:
                    assert response.status_code == expected, (path, name, response.text)
                else:
                    assert 200 <= response.status_code < 300, (path, name, response.text)
                declared = op["responses"]
                assert str(response.status_code) in declared, (method, path, response.status_code)
                posted.add(f"{method} {path}")
    finally:  # the module's other messages use the default 受理回执
        await anon.delete(f"/api/v1/notification-templates/{TEMPLATE_KEY}", headers=admin_headers)
    with_path_parameters = {
        "patch /api/v1/users/{user_id}",
        "put /api/v1/departments/{code}",
        "patch /api/v1/webhook-subscriptions/{subscription_id}",
        "put /api/v1/notification-templates/{key}",
        "put /api/v1/calendars/{code}",
        "put /api/v1/calendars/{code}/days/{day}",
        "post /api/v1/calendars/{code}/years",
        "put /api/v1/sla-policies/{policy_id}",
    }
    assert with_path_parameters <= posted
    assert "post /api/v1/complaints" in posted


async def test_docs_pages_load_their_assets_from_the_service(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        assert response.status_code == 200
        html = response.text
        external = re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", html)
        assert not external, f"{page} loads from outside: {external}"
        assert "cdn" not in html.lower()
        for asset in re.findall(r"""(?:src|href)=["'](/[^"']+)""", html):
            asset_response = await client.get(asset)
            assert asset_response.status_code == 200, asset
            assert len(asset_response.content) > 100
