"""The access matrix: every `{id}` endpoint × every kind of principal → allowed, denied (404,
existence not revealed), forbidden (403), unauthenticated (401), with contact data masked or not.

The complaint: registered by `agent`, about product quality (so routed to the quality
department), level 1, naming the `subject` (a manager) as the staff member complained about.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.intake_api.examples import ACTION_EXAMPLES
from shared.domain.lifecycle import Action
from tests.conftest import Staff
from tests.support.factories import complaint_body
from tests.support.principals import Account, create_key

OK, HIDDEN, FORBIDDEN, ANONYMOUS = "ok", "404", "403", "401"
MASKED, CLEAR = "masked", "clear"

# principal → (read result, contact data, may act)
MATRIX: dict[str, tuple[str, str | None, bool]] = {
    "agent": (OK, CLEAR, True),  # registered it
    "agent2": (HIDDEN, None, False),
    "handler_quality": (OK, CLEAR, True),  # its department's case
    "handler_logistics": (HIDDEN, None, False),
    "manager": (OK, CLEAR, True),  # level 1 ≤ tier 2, company-wide
    "director": (OK, CLEAR, True),
    "auditor": (OK, MASKED, False),
    "admin": (OK, MASKED, False),
    "integration": (HIDDEN, None, False),  # did not create it
    "creator_integration": (OK, CLEAR, False),  # created one of its own: see below
    "subject": (HIDDEN, None, False),  # recusal beats the manager's tier
    "anonymous": (ANONYMOUS, None, False),
}


@pytest.fixture(scope="module")
async def principals(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str], integration: Account
) -> dict[str, dict[str, str]]:
    other = await create_key(anon, admin_headers, ["complaints:create", "complaints:read"])
    return {
        "agent": staff.agent.headers,
        "agent2": staff.agent2.headers,
        "handler_quality": staff.handler_quality.headers,
        "handler_logistics": staff.handler_logistics.headers,
        "manager": staff.manager.headers,
        "director": staff.director.headers,
        "auditor": staff.auditor.headers,
        "admin": admin_headers,
        "integration": other.headers,
        "creator_integration": integration.headers,
        "subject": staff.subject.headers,
        "anonymous": {},
    }


async def _complaint(
    anon: httpx.AsyncClient, headers: dict[str, str], staff: Staff
) -> dict[str, Any]:
    body = complaint_body(
        category="product_quality",
        subject={"staff_user_id": staff.subject.id, "staff_name": "被投诉经理"},
    )
    response = await anon.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return {**response.json(), "phone": body["customer"]["phone"]}


@pytest.mark.parametrize("who", list(MATRIX))
async def test_reading_endpoints(
    anon: httpx.AsyncClient,
    staff: Staff,
    integration: Account,
    principals: dict[str, dict[str, str]],
    who: str,
) -> None:
    creator = integration.headers if who == "creator_integration" else staff.agent.headers
    complaint = await _complaint(anon, creator, staff)
    headers = principals[who]
    expected, contact, _ = MATRIX[who]
    paths = [
        f"/api/v1/complaints/{complaint['id']}",
        f"/api/v1/complaints/by-reference/{complaint['reference']}",
        f"/api/v1/complaints/{complaint['id']}/events",
    ]
    for path in paths:
        response = await anon.get(path, headers=headers)
        assert response.headers["content-type"].startswith(
            "application/problem+json" if expected != OK else "application/json"
        )
        if expected == OK:
            assert response.status_code == 200, (who, path, response.text)
        else:
            assert response.status_code == int(expected), (who, path, response.text)
    listed = await anon.get(
        "/api/v1/complaints", params={"customer_phone": complaint["phone"]}, headers=headers
    )
    if expected == ANONYMOUS:
        assert listed.status_code == 401
        assert listed.headers["www-authenticate"].startswith("Bearer")
        return
    ids = [c["id"] for c in listed.json()["items"]]
    assert (complaint["id"] in ids) == (expected == OK), who
    if expected != OK:
        return
    shown = (await anon.get(paths[0], headers=headers)).json()
    full = "+86" + complaint["phone"]
    if contact == CLEAR:
        assert shown["customer"]["phone"] == full
    else:
        assert shown["customer"]["phone"] != full
        assert "****" in shown["customer"]["phone"]
        assert "****" in shown["customer"]["email"] or "***" in shown["customer"]["email"]


@pytest.mark.parametrize("who", list(MATRIX))
async def test_reveal(
    anon: httpx.AsyncClient,
    staff: Staff,
    integration: Account,
    principals: dict[str, dict[str, str]],
    admin_headers: dict[str, str],
    who: str,
) -> None:
    creator = integration.headers if who == "creator_integration" else staff.agent.headers
    complaint = await _complaint(anon, creator, staff)
    response = await anon.post(
        f"/api/v1/complaints/{complaint['id']}/reveal", headers=principals[who]
    )
    expected, _, _ = MATRIX[who]
    if expected != OK:
        assert response.status_code == int(expected)
        return
    assert response.status_code == 200, response.text
    assert response.json()["customer"]["phone"] == "+86" + complaint["phone"]
    assert response.headers["cache-control"] == "no-store"
    audit = await anon.get(
        "/api/v1/audit-events",
        params={"action": "complaint.reveal", "target_id": complaint["id"]},
        headers=admin_headers,
    )
    [entry] = audit.json()["items"]
    assert entry["details"] == {"fields": ["customer_type", "email", "phone"]}
    assert complaint["phone"] not in str(entry)


ACTIONS = [a.value for a in Action]


@pytest.mark.parametrize("action", ACTIONS)
async def test_who_may_reach_each_action(
    anon: httpx.AsyncClient,
    staff: Staff,
    principals: dict[str, dict[str, str]],
    action: str,
) -> None:
    """Denied principals never reach an action, whatever it is; the others get past access
    control (the action itself may still be refused by the state machine or a rule)."""
    shared = await _complaint(anon, staff.agent.headers, staff)
    for who, (expected, _, may_act) in MATRIX.items():
        if who == "creator_integration":
            continue
        # Principals who may act get a complaint of their own: their action changes it.
        complaint = await _complaint(anon, staff.agent.headers, staff) if may_act else shared
        response = await anon.post(
            f"/api/v1/complaints/{complaint['id']}/{action.replace('_', '-')}",
            json=ACTION_EXAMPLES[action],
            headers={**principals[who], "If-Match": f'"{complaint["version"]}"'},
        )
        if expected in (HIDDEN, ANONYMOUS):
            assert response.status_code == int(expected), (who, action, response.text)
        elif not may_act:
            assert response.status_code == 403, (who, action, response.text)
        else:
            # Reachable: any refusal is about the state or the rules, not about access.
            assert response.status_code in (200, 403, 409, 422), (who, action, response.text)


async def test_visible_staff_may_add_notes_and_integrations_may_not(
    anon: httpx.AsyncClient, staff: Staff, integration: Account
) -> None:
    complaint = await _complaint(anon, staff.agent.headers, staff)
    version = complaint["version"]
    for account in (staff.agent, staff.handler_quality, staff.manager, staff.director):
        response = await anon.post(
            f"/api/v1/complaints/{complaint['id']}/add-note",
            json={"text": "内部备注"},
            headers={**account.headers, "If-Match": f'"{version}"'},
        )
        assert response.status_code == 200, response.text
        version = response.json()["version"]
    own = await _complaint(anon, integration.headers, staff)
    response = await anon.post(
        f"/api/v1/complaints/{own['id']}/add-note",
        json={"text": "集成不能处理投诉"},
        headers={**integration.headers, "If-Match": f'"{own["version"]}"'},
    )
    assert response.status_code == 403


async def test_the_subject_can_never_be_assigned(anon: httpx.AsyncClient, staff: Staff) -> None:
    complaint = await _complaint(anon, staff.agent.headers, staff)
    response = await anon.post(
        f"/api/v1/complaints/{complaint['id']}/assign",
        json={"assignee_id": staff.subject.id},
        headers={**staff.director.headers, "If-Match": f'"{complaint["version"]}"'},
    )
    assert response.status_code == 422
    assert "回避" in response.text


async def test_denied_reads_are_audited(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str]
) -> None:
    complaint = await _complaint(anon, staff.agent.headers, staff)
    path = f"/api/v1/complaints/{complaint['id']}"
    assert (await anon.get(path, headers=staff.agent2.headers)).status_code == 404
    audit = await anon.get(
        "/api/v1/audit-events",
        params={"action": "access.denied", "actor_id": staff.agent2.id},
        headers=admin_headers,
    )
    assert any(e["target_id"] == f"GET {path}" for e in audit.json()["items"])


async def test_unknown_ids_look_exactly_like_hidden_ones(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    complaint = await _complaint(anon, staff.agent.headers, staff)
    hidden = await anon.get(f"/api/v1/complaints/{complaint['id']}", headers=staff.agent2.headers)
    unknown = await anon.get(f"/api/v1/complaints/{uuid.uuid4()}", headers=staff.agent2.headers)
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert hidden.status_code == unknown.status_code == 404
    assert strip(hidden) == strip(unknown)
