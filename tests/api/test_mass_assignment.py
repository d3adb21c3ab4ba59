"""Mass assignment: a client can never set a server-owned field through a create, update or
action body (status, level, assignee, reference, ids, versions, timestamps, secrets). Each try
is a 422 problem document naming the field, and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.intake_api.examples import ACTION_EXAMPLES
from tests.conftest import Staff
from tests.support.factories import complaint_body
from tests.support.principals import STAFF_PASSWORD, create_user, sign_in

NOW = "2026-11-25T10:00:00+08:00"


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    locs = [e["loc"] for e in response.json()["errors"]]
    assert any(field in loc for loc in locs), locs


COMPLAINT_FIELDS: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "assignee_id": str(uuid.uuid4()),
    "created_at": NOW,
    "updated_at": NOW,
    "version": 7,
    "department": "quality",
    "status_before_pause": "investigating",
}


@pytest.mark.parametrize("field", list(COMPLAINT_FIELDS))
async def test_registration_cannot_set_server_owned_fields(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str], field: str
) -> None:
    body = complaint_body(**{field: COMPLAINT_FIELDS[field]})
    _refused(await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers), field)
    listed = await anon.get(
        "/api/v1/complaints",
        params={"customer_phone": body["customer"]["phone"]},
        headers=staff.director.headers,  # reads every complaint, contact data included
    )
    assert listed.json()["items"] == []


USER_FIELDS: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
    "token_version": 0,
    "created_at": NOW,
    "updated_at": NOW,
    "username": "renamed-user",
}


@pytest.mark.parametrize("field", list(USER_FIELDS))
async def test_a_user_update_cannot_set_server_owned_fields(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    account = await create_user(anon, admin_headers, role="agent", department="service")
    path = f"/api/v1/users/{account.id}"
    before = (await anon.get(path, headers=admin_headers)).json()
    body = {"display_name": "改名", field: USER_FIELDS[field]}
    _refused(await anon.patch(path, json=body, headers=admin_headers), field)
    assert (await anon.get(path, headers=admin_headers)).json() == before
    # The password and the tokens issued are untouched.
    assert (await anon.get("/api/v1/me", headers=account.headers)).status_code == 200
    await sign_in(anon, account.name, STAFF_PASSWORD)


@pytest.mark.parametrize("field", ["id", "password_hash", "token_version", "is_active"])
async def test_creating_a_user_cannot_set_server_owned_fields(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    username = f"mass-{uuid.uuid4().hex[:8]}"
    body = {
        "username": username,
        "display_name": "坐席",
        "role": "agent",
        "department": "service",
        "password": STAFF_PASSWORD,
        field: {**USER_FIELDS, "is_active": False}[field],
    }
    _refused(await anon.post("/api/v1/users", json=body, headers=admin_headers), field)
    users = (await anon.get("/api/v1/users", headers=admin_headers)).json()["items"]
    assert username not in {u["username"] for u in users}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "kk_chosen-by-the-client"),
        ("prefix", "kk_abcd"),
        ("revoked_at", NOW),
        ("id", str(uuid.uuid4())),
    ],
)
async def test_an_api_key_cannot_be_chosen_by_the_client(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], field: str, value: Any
) -> None:
    name = f"集成-{uuid.uuid4().hex[:6]}"
    body = {"name": name, "scopes": ["complaints:read"], field: value}
    _refused(await anon.post("/api/v1/api-keys", json=body, headers=admin_headers), field)
    keys = (await anon.get("/api/v1/api-keys", headers=admin_headers)).json()["items"]
    assert name not in {k["name"] for k in keys}


# An action's body carries what the action is about; the status, the level (except triage's),
# the assignee (except assignment's) and the bookkeeping are the server's.
ACTION_FIELDS = [
    ("add_note", "status", "closed"),
    ("triage", "status", "assigned"),
    ("assign", "level", 3),
    ("escalate", "level", 3),
    ("log_contact", "assignee_id", str(uuid.uuid4())),
    ("reply_to_customer", "reference", "KS-20260101-000001"),
    ("withdraw", "version", 9),
    ("add_note", "created_at", NOW),
]


@pytest.mark.parametrize(("action", "field", "value"), ACTION_FIELDS)
async def test_an_action_body_cannot_set_server_owned_fields(
    anon: httpx.AsyncClient, staff: Staff, action: str, field: str, value: Any
) -> None:
    created = await anon.post(
        "/api/v1/complaints", json=complaint_body(), headers=staff.director.headers
    )
    complaint = created.json()
    body = {**ACTION_EXAMPLES[action], field: value}
    response = await anon.post(
        f"/api/v1/complaints/{complaint['id']}/{action.replace('_', '-')}",
        json=body,
        headers={**staff.director.headers, "If-Match": f'"{complaint["version"]}"'},
    )
    _refused(response, field)
    after = await anon.get(f"/api/v1/complaints/{complaint['id']}", headers=staff.director.headers)
    for unchanged in ("version", "status", "level", "assignee_id", "reference"):
        assert after.json()[unchanged] == complaint[unchanged], unchanged


async def test_a_staff_member_cannot_make_themselves_admin(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    account = await create_user(anon, admin_headers, role="agent", department="service")
    response = await anon.patch(
        f"/api/v1/users/{account.id}", json={"role": "admin"}, headers=account.headers
    )
    assert response.status_code == 403
    me = await anon.get("/api/v1/me", headers=account.headers)
    assert me.json()["role"] == "agent"
