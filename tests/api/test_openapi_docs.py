"""The OpenAPI document is complete, its examples are accepted as they stand, and the docs pages
work with no internet access."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.intake_api.examples import COMPLAINT_EXAMPLES
from tests.support.principals import Account

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
}


async def test_every_documented_example_is_accepted_as_it_stands(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    integration: Account,
    schema: dict[str, Any],
) -> None:
    posted = 0
    for method, path, op in _operations(schema):
        body = op.get("requestBody")
        if body is None or "{" in path or "application/json" not in body["content"]:
            continue
        if path.startswith(RULES):  # they would change every other test's rules: see below
            continue
        # Intake as the integration client; configuration and ops as the admin.
        intake = {"complaints", "public"} & set(op.get("tags", []))
        headers = integration.headers if intake else admin_headers
        for name, example in body["content"]["application/json"]["examples"].items():
            response = await anon.request(method, path, json=example["value"], headers=headers)
            expected = ACCEPTED_OTHERWISE.get(path)
            if expected is not None:
                assert response.status_code == expected, (path, name, response.text)
            else:
                assert 200 <= response.status_code < 300, (path, name, response.text)
            posted += 1
    assert posted >= len(COMPLAINT_EXAMPLES) + 3


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
