"""Staff accounts and integration keys for tests, made through the API itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-for-tests"
STAFF_PASSWORD = "staff-password-for-tests"


@dataclass
class Account:
    name: str
    id: str
    headers: dict[str, str] = field(default_factory=dict)


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def ensure_department(
    client: httpx.AsyncClient, admin: dict[str, str], code: str, name: str
) -> None:
    response = await client.put(f"/api/v1/departments/{code}", json={"name": name}, headers=admin)
    assert response.status_code in (200, 201), response.text


async def create_user(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    role: str,
    department: str | None = None,
    name: str | None = None,
    display_name: str | None = None,
) -> Account:
    username = f"{name or role}-{uuid.uuid4().hex[:8]}"
    response = await client.post(
        "/api/v1/users",
        json={
            "username": username,
            "display_name": display_name or name or role,
            "role": role,
            "department": department,
            "password": STAFF_PASSWORD,
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    headers = await sign_in(client, username, STAFF_PASSWORD)
    return Account(name=username, id=response.json()["id"], headers=headers)


async def create_key(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    scopes: list[str],
    *,
    rate_limit_per_minute: int = 100_000,
) -> Account:
    response = await client.post(
        "/api/v1/api-keys",
        json={
            "name": f"集成-{uuid.uuid4().hex[:6]}",
            "scopes": scopes,
            "rate_limit_per_minute": rate_limit_per_minute,
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(name=body["name"], id=body["id"], headers={"X-API-Key": body["key"]})
