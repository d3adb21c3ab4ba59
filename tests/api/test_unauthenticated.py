"""No credentials, no entry: every operation of the OpenAPI schema except the public ones answers
an anonymous call with a 401 problem document, whatever the path, query and body."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.intake_api.app import create_app
from tests.conftest import make_settings

# Reachable without credentials: probes, signing in, and what customers use.
PUBLIC_PATHS = {"/healthz", "/readyz", "/api/v1/auth/token", "/api/v1/auth/refresh"}
PUBLIC_PREFIX = "/api/v1/public/"
# Plausible values for path parameters (an anonymous caller must not learn whether they exist).
PATH_VALUES = {
    "complaint_id": str(uuid.uuid4()),
    "attachment_id": str(uuid.uuid4()),
    "reference": "KS-20260101-000001",
    "user_id": str(uuid.uuid4()),
    "key_id": str(uuid.uuid4()),
    "code": "default",
    "subscription_id": str(uuid.uuid4()),
    "key": "progress_update",
    "outbox_id": "1",
    "delivery_id": "1",
    "day": "2026-10-01",
    "policy_id": "1",
    "name": "level",
    "entry_id": "1",
    "run_id": "1",
}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = create_app(make_settings("postgresql://unused", "redis://unused")).openapi()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


OPERATIONS = _operations()
PROTECTED = [
    (method, path, op)
    for method, path, op in OPERATIONS
    if path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIX)
]


def _ids(ops: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in ops]


def _url(path: str, fill: dict[str, str] | None = None) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace(f"{{{name}}}", (fill or {}).get(name, value))
    assert "{" not in path, f"give {path} a value in PATH_VALUES"
    return path


def _has_json_body(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def test_the_protected_operations_are_all_but_the_public_ones() -> None:
    """The schema says the same: protected operations declare a security scheme, 401 and 429
    (the limiter counts failed authentication too); the public ones declare none."""
    assert len(PROTECTED) > 80
    for method, path, operation in OPERATIONS:
        protected = (method, path, operation) in PROTECTED
        assert bool(operation.get("security")) == protected, (method, path)
        if protected:
            assert {"401", "429"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize(("method", "path", "operation"), PROTECTED, ids=_ids(PROTECTED))
async def test_anonymous_calls_get_401_problems(
    anon: httpx.AsyncClient, method: str, path: str, operation: dict[str, Any]
) -> None:
    body = {} if _has_json_body(operation) else None
    # Ids that exist or not, well-formed or not: the answer never depends on them.
    for url in (_url(path), _url(path, {name: "x" for name in PATH_VALUES})):
        response = await anon.request(method, url, json=body)
        assert response.status_code == 401, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["status"] == 401


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [op for op in PROTECTED if _has_json_body(op[2])],
    ids=_ids([op for op in PROTECTED if _has_json_body(op[2])]),
)
async def test_a_bad_or_invalid_body_without_credentials_is_still_401(
    anon: httpx.AsyncClient, method: str, path: str, operation: dict[str, Any]
) -> None:
    """Validation comes after authentication: an anonymous caller learns nothing about the body
    an endpoint expects."""
    response = await anon.request(
        method, _url(path), json={"unexpected": ["x" * 10]}, headers={"X-API-Key": ""}
    )
    assert response.status_code == 401, (method, path, response.text)
