"""The access matrix: every complaint `{id}` endpoint × every kind of principal × several kinds
of complaint → read with contact data in clear, read masked, hidden (404, existence not
revealed) or unauthenticated (401); then who may act, exactly.

The expected cells come from the policy (SPEC §7, issue 3, shared.domain.access's docstring),
written out by hand here, never computed by the code under test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest

from services.intake_api.examples import ACTION_EXAMPLES
from shared.domain.lifecycle import Action
from tests.conftest import Staff
from tests.support.factories import complaint_body
from tests.support.principals import Account, create_key, create_user

CLEAR, MASKED, HIDDEN, ANONYMOUS = "C", "M", "-", "401"

# The complaints (columns). All but `q1n` name `subject` (a manager) as the staff member
# complained about; `q1n` is the control that shows the subject's blank row is recusal.
#   q1   quality (product_quality → 质量部), level 1, registered by agent
#   q1n  the same, naming no one
#   q2   quality, level 2 (态度), registered by agent
#   q3   quality, level 3 (受伤), registered by agent
#   l1   logistics (→ 物流部), level 1, registered by agent2
#   q1a  quality, level 1, registered by agent, assigned to agent2 by the director
#   i1   quality, level 1, registered by creator_integration (a key with pii:read)
#   i2   quality, level 1, registered by integration (a key without pii:read)
COLUMNS = ["q1", "q1n", "q2", "q3", "l1", "q1a", "i1", "i2"]
MATRIX: dict[str, str] = {
    #                      q1  q1n q2  q3  l1  q1a i1  i2
    # what it registered, and tier 1's queue: every unassigned level-1 case (seed 002 §5.1.1.1)
    "agent": "C   C   C   C   C   C   C   C",
    "agent2": "C   C   -   -   C   C   C   C",  # registered l1, assigned q1a; the level-1 queue
    "handler_quality": "C   C   C   C   -   C   C   C",  # its department, any level
    "handler_logistics": "-   -   -   -   C   -   -   -",
    # company-wide, level ≤ 2, and level 3 reported to managers (seed 002 §5.1.1.3)
    "manager": "C   C   C   C   C   C   C   C",
    "manager_quality": "C   C   C   C   -   C   C   C",  # its department, every level
    "director": "C   C   C   C   C   C   C   C",
    "auditor": "M   M   M   M   M   M   M   M",
    "clerk": "C   C   C   C   C   C   C   C",  # 事务文员: the records, and calls customers back
    "admin": "M   M   M   M   M   M   M   M",
    "integration": "-   -   -   -   -   -   -   M",  # its own, no pii:read
    "integration_all": "M   M   M   M   M   M   M   M",  # complaints:read:all
    "creator_integration": "-  -   -   -   -   -   C   -",  # its own, with pii:read
    "subject": "-   C   -   -   -   -   -   -",  # recusal beats the manager's grant
    "anonymous": "401 401 401 401 401 401 401 401",
}
# Integrations reveal personal data only with pii:read; every staff role may reveal (audited).
CANNOT_REVEAL = {"integration", "integration_all"}
# Who sees contact data only masked, and so may not search by it (issue 15: an oracle).
NO_CONTACT_SEARCH = {"auditor", "admin", "integration", "integration_all"}

CONTENT = {
    1: "电水壶使用一周后底座开裂漏电，要求退货。",
    2: "客服态度很差，电水壶底座开裂也不处理。",
    3: "电水壶底座开裂，孩子被烫受伤，要求赔偿。",
}


def expected(who: str, column: str) -> str:
    return MATRIX[who].split()[COLUMNS.index(column)]


@dataclass
class Created:
    id: str
    reference: str
    version: int
    phone: str  # as sent: the national number

    @property
    def e164(self) -> str:
        return "+86" + self.phone


async def register(
    anon: httpx.AsyncClient,
    headers: dict[str, str],
    staff: Staff,
    *,
    category: str = "product_quality",
    level: int = 1,
    named: bool = True,
) -> Created:
    subject = {"staff_user_id": staff.subject.id, "staff_name": "被投诉经理"} if named else None
    body = complaint_body(category=category, content=CONTENT[level], subject=subject)
    response = await anon.post("/api/v1/complaints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["level"] == level  # the content's keywords set the level
    return Created(data["id"], data["reference"], data["version"], body["customer"]["phone"])


@pytest.fixture(scope="module")
async def principals(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str], integration: Account
) -> dict[str, dict[str, str]]:
    own = await create_key(anon, admin_headers, ["complaints:create", "complaints:read"])
    everything = await create_key(anon, admin_headers, ["complaints:read:all"])
    manager_quality = await create_user(anon, admin_headers, role="manager", department="quality")
    return {
        "agent": staff.agent.headers,
        "agent2": staff.agent2.headers,
        "handler_quality": staff.handler_quality.headers,
        "handler_logistics": staff.handler_logistics.headers,
        "manager": staff.manager.headers,
        "manager_quality": manager_quality.headers,
        "director": staff.director.headers,
        "auditor": staff.auditor.headers,
        "clerk": staff.clerk.headers,
        "admin": admin_headers,
        "integration": own.headers,
        "integration_all": everything.headers,
        "creator_integration": integration.headers,
        "subject": staff.subject.headers,
        "anonymous": {},
    }


@pytest.fixture(scope="module")
async def complaints(
    anon: httpx.AsyncClient, staff: Staff, principals: dict[str, dict[str, str]]
) -> dict[str, Created]:
    agent = staff.agent.headers
    made = {
        "q1": await register(anon, agent, staff),
        "q1n": await register(anon, agent, staff, named=False),
        "q2": await register(anon, agent, staff, level=2),
        "q3": await register(anon, agent, staff, level=3),
        "l1": await register(anon, staff.agent2.headers, staff, category="logistics"),
        "q1a": await register(anon, agent, staff),
        "i1": await register(anon, principals["creator_integration"], staff),
        "i2": await register(anon, principals["integration"], staff),
    }
    q1a = made["q1a"]
    assigned = await anon.post(
        f"/api/v1/complaints/{q1a.id}/assign",
        json={"department": "quality", "assignee_id": staff.agent2.id},
        headers={**staff.director.headers, "If-Match": f'"{q1a.version}"'},
    )
    assert assigned.status_code == 200, assigned.text
    return made


def test_the_matrix_has_a_cell_for_every_principal_and_complaint() -> None:
    for who, row in MATRIX.items():
        assert len(row.split()) == len(COLUMNS), who
        assert set(row.split()) <= {CLEAR, MASKED, HIDDEN, ANONYMOUS}, who


def _check(response: httpx.Response, cell: str, where: tuple[str, ...]) -> None:
    if cell in (CLEAR, MASKED):
        assert response.status_code == 200, (*where, response.text)
        assert response.headers["content-type"].startswith("application/json")
        return
    assert response.status_code == (401 if cell == ANONYMOUS else 404), (*where, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    if cell == ANONYMOUS:
        assert response.headers["www-authenticate"].startswith("Bearer")


READ_PATHS = [
    "/api/v1/complaints/{id}",
    "/api/v1/complaints/by-reference/{reference}",
    "/api/v1/complaints/{id}/events",
    "/api/v1/complaints/{id}/deadlines",
    "/api/v1/complaints/{id}/attachments",
    "/api/v1/complaints/{id}/similar",
]


@pytest.mark.parametrize("who", list(MATRIX))
async def test_reading_endpoints(
    anon: httpx.AsyncClient,
    principals: dict[str, dict[str, str]],
    complaints: dict[str, Created],
    who: str,
) -> None:
    headers = principals[who]
    for column in COLUMNS:
        complaint = complaints[column]
        cell = expected(who, column)
        for template in READ_PATHS:
            path = template.format(id=complaint.id, reference=complaint.reference)
            response = await anon.get(path, headers=headers)
            _check(response, cell, (who, column, path))
            if cell == MASKED:
                assert complaint.phone not in response.text, (who, column, path)
        if cell == ANONYMOUS:
            continue
        shown = (await anon.get(f"/api/v1/complaints/{complaint.id}", headers=headers)).json()
        if cell == CLEAR:
            assert shown["customer"]["phone"] == complaint.e164, (who, column)
        elif cell == MASKED:
            assert "****" in shown["customer"]["phone"], (who, column)
            assert "wang.fang" not in shown["customer"]["email"], (who, column)


@pytest.mark.parametrize("who", list(MATRIX))
async def test_lists_and_searches_show_exactly_the_readable_complaints(
    anon: httpx.AsyncClient,
    principals: dict[str, dict[str, str]],
    complaints: dict[str, Created],
    who: str,
) -> None:
    headers = principals[who]
    for column in COLUMNS:
        complaint = complaints[column]
        cell = expected(who, column)
        for params in ({"customer_phone": complaint.phone}, {"reference": complaint.reference}):
            listed = await anon.get("/api/v1/complaints", params=params, headers=headers)
            if cell == ANONYMOUS:
                assert listed.status_code == 401
                continue
            if "customer_phone" in params and who in NO_CONTACT_SEARCH:
                assert listed.status_code == 403, (who, listed.text)
                continue
            assert listed.status_code == 200, listed.text
            ids = [c["id"] for c in listed.json()["items"]]
            assert ids == ([complaint.id] if cell in (CLEAR, MASKED) else []), (who, column)


@pytest.mark.parametrize("who", [w for w in MATRIX if w != "anonymous"])
async def test_full_text_search_never_returns_what_the_list_hides(
    anon: httpx.AsyncClient,
    principals: dict[str, dict[str, str]],
    complaints: dict[str, Created],
    who: str,
) -> None:
    """Issue 13: access rules apply to `q` exactly as to the list, recusal included. For each
    principal, a search returns the listed complaints that contain the term (decided here
    from their text) and, of the matrix's complaints, exactly the readable cells; a phone
    number finds its complaint only for those who see contact data in clear."""
    headers = principals[who]
    director = principals["director"]
    made = [
        (await anon.get(f"/api/v1/complaints/{c.id}", headers=director)).json()
        for c in complaints.values()
    ]
    window = {"created_from": min(c["created_at"] for c in made), "limit": 200}
    listed = await anon.get("/api/v1/complaints", params=window, headers=headers)
    assert listed.status_code == 200, listed.text
    searched = await anon.get(
        "/api/v1/complaints", params={**window, "q": "电水壶"}, headers=headers
    )
    assert searched.status_code == 200, searched.text
    found = {c["id"] for c in searched.json()["items"]}
    assert found == {c["id"] for c in listed.json()["items"] if "电水壶" in c["content"]}
    readable = {complaints[col].id for col in COLUMNS if expected(who, col) in (CLEAR, MASKED)}
    assert found & {c.id for c in complaints.values()} == readable, who
    for column in COLUMNS:
        complaint = complaints[column]
        by_phone = await anon.get(
            "/api/v1/complaints", params={"q": complaint.phone}, headers=headers
        )
        assert by_phone.status_code == 200, by_phone.text
        ids = [c["id"] for c in by_phone.json()["items"]]
        assert ids == ([complaint.id] if expected(who, column) == CLEAR else []), (who, column)


@pytest.mark.parametrize("who", list(MATRIX))
async def test_reveal(
    anon: httpx.AsyncClient,
    principals: dict[str, dict[str, str]],
    complaints: dict[str, Created],
    admin_headers: dict[str, str],
    who: str,
) -> None:
    for column in COLUMNS:
        complaint = complaints[column]
        cell = expected(who, column)
        response = await anon.post(
            f"/api/v1/complaints/{complaint.id}/reveal", headers=principals[who]
        )
        if cell in (CLEAR, MASKED) and who in CANNOT_REVEAL:
            assert response.status_code == 403, (who, column, response.text)
            continue
        _check(response, cell, (who, column, "reveal"))
        if cell in (HIDDEN, ANONYMOUS):
            continue
        assert response.json()["customer"]["phone"] == complaint.e164
        assert response.headers["cache-control"] == "no-store"
    me = await anon.get("/api/v1/me", headers=principals[who])
    if me.status_code != 200:
        return
    audit = await anon.get(
        "/api/v1/audit-events",
        params={"action": "complaint.reveal", "actor_id": me.json()["id"], "limit": 200},
        headers=admin_headers,
    )
    revealed = {e["target_id"] for e in audit.json()["items"]}
    readable = {
        complaints[c].id
        for c in COLUMNS
        if expected(who, c) in (CLEAR, MASKED) and who not in CANNOT_REVEAL
    }
    assert readable <= revealed
    for entry in audit.json()["items"]:
        assert entry["details"] == {"fields": ["customer_type", "email", "phone"]}
        assert all(c.phone not in str(entry) for c in complaints.values())


async def test_another_departments_handler_sees_what_it_is_assigned(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str]
) -> None:
    """A quality handler assigned a case, then moved to logistics, still sees that case (it is
    theirs) but no longer the rest of quality's cases."""
    mover = await create_user(anon, admin_headers, role="handler", department="quality")
    mine = await register(anon, staff.agent.headers, staff)
    other = await register(anon, staff.agent.headers, staff)
    assigned = await anon.post(
        f"/api/v1/complaints/{mine.id}/assign",
        json={"department": "quality", "assignee_id": mover.id},
        headers={**staff.director.headers, "If-Match": f'"{mine.version}"'},
    )
    assert assigned.status_code == 200, assigned.text
    moved = await anon.patch(
        f"/api/v1/users/{mover.id}", json={"department": "logistics"}, headers=admin_headers
    )
    assert moved.status_code == 200, moved.text
    me = await anon.get("/api/v1/me", headers=mover.headers)
    assert me.json()["department"] == "logistics"
    seen = await anon.get(f"/api/v1/complaints/{mine.id}", headers=mover.headers)
    unseen = await anon.get(f"/api/v1/complaints/{other.id}", headers=mover.headers)
    assert seen.status_code == 200
    assert unseen.status_code == 404


# --- acting on a complaint ---------------------------------------------------------------------

# Who may take each action (handling.py's docstring; seeds 000 and 002): tier decisions by the
# tiers, approvals and the regulator's reply by managers and directors, "not our fault" by those
# who investigate, everything else by every handling role.
TIERS = frozenset({"agent", "manager", "director"})
LEADS = frozenset({"manager", "director"})
HANDLING = frozenset({"agent", "handler", "manager", "director"})
FOLLOW_UP = frozenset({"agent", "clerk", "manager", "director"})
ROLES_FOR: dict[str, frozenset[str]] = {
    "triage": TIERS,
    "assign": TIERS,
    "reassign": TIERS,
    "withdraw": TIERS,
    "reopen": TIERS,
    # The sign-off chain (seed 002 §3.2, §5.1.1): the clerk archives; reviewers are leads; the
    # 回访 is done by anyone but the handler (agents, the clerk, leads); tiers claim.
    "close": frozenset({"clerk"}),
    "record_satisfaction": FOLLOW_UP,
    "log_followup_attempt": FOLLOW_UP,
    "record_unreachable": FOLLOW_UP,
    "review": LEADS,
    "send_back": LEADS,
    "claim": TIERS,
    "approve_solution": LEADS,
    "reject_solution": LEADS,
    "regulator_reply": LEADS,
    "mark_invalid": frozenset({"handler", "manager", "director"}),
}
# A freshly registered level-1 case with the documented example body: what a permitted role
# gets. The lifecycle allows only these in `registered` (seed 000: triage, assign; records that
# never move the status; escalation; withdrawal) — everything else is 409. A regulator reply on
# a web complaint is refused by its rule (422).
ON_REGISTERED: dict[str, int] = {
    "triage": 200,
    "assign": 200,
    "log_contact": 200,
    "add_note": 200,
    "reply_to_customer": 200,
    "escalate": 200,
    "withdraw": 200,
    "regulator_reply": 409,  # not a regulator case: a state conflict
    "claim": 200,  # nobody holds it yet: the caller takes it
    "link_repeat": 422,  # the example's complaint id names no stored complaint
    "unlink_repeat": 409,  # nothing is linked yet: a state conflict
}
# The staff who may read the case and their role; the others get 404, 403 or 401.
ACTORS = {
    "agent": "agent",
    "handler_quality": "handler",
    "manager": "manager",
    "director": "director",
    "clerk": "clerk",
}
REFUSED = {
    "handler_logistics": 404,
    "integration": 404,
    "subject": 404,
    "auditor": 403,
    "admin": 403,
    "anonymous": 401,
}


def test_every_action_has_a_role_rule_and_the_tables_name_real_actions() -> None:
    names = {a.value for a in Action}
    assert set(ROLES_FOR) <= names
    assert set(ON_REGISTERED) <= names
    assert set(ACTION_EXAMPLES) == names


def expected_action_status(role: str, action: str) -> int:
    if role not in ROLES_FOR.get(action, HANDLING):
        return 403
    return ON_REGISTERED.get(action, 409)


@pytest.mark.parametrize("action", [a.value for a in Action])
async def test_who_may_take_each_action(
    anon: httpx.AsyncClient,
    staff: Staff,
    principals: dict[str, dict[str, str]],
    action: str,
) -> None:
    path = "/api/v1/complaints/{id}/" + action.replace("_", "-")

    async def attempt(who: str, complaint: Created) -> httpx.Response:
        return await anon.post(
            path.format(id=complaint.id),
            json=ACTION_EXAMPLES[action],
            headers={**principals[who], "If-Match": f'"{complaint.version}"'},
        )

    shared = await register(anon, staff.agent.headers, staff)
    for who, status in REFUSED.items():
        response = await attempt(who, shared)
        assert response.status_code == status, (who, action, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    unchanged = await anon.get(f"/api/v1/complaints/{shared.id}", headers=staff.agent.headers)
    assert unchanged.json()["version"] == shared.version
    # An integration never acts, even on a complaint it registered itself.
    own = await register(anon, principals["creator_integration"], staff)
    assert (await attempt("creator_integration", own)).status_code == 403
    for who, role in ACTORS.items():
        # Each acting principal gets a complaint of its own: its action changes it.
        complaint = await register(anon, staff.agent.headers, staff)
        response = await attempt(who, complaint)
        assert response.status_code == expected_action_status(role, action), (
            who,
            action,
            response.text,
        )


async def test_tier_decisions_on_a_level_3_case_need_a_director(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """The agent who registered a level-3 case still reads it, but may not triage it."""
    complaint = await register(anon, staff.agent.headers, staff, level=3)
    for account, status in ((staff.agent, 403), (staff.director, 200)):
        response = await anon.post(
            f"/api/v1/complaints/{complaint.id}/triage",
            json=ACTION_EXAMPLES["triage"],
            headers={**account.headers, "If-Match": f'"{complaint.version}"'},
        )
        assert response.status_code == status, response.text


# --- recusal (回避) ------------------------------------------------------------------------------


async def _assigned(anon: httpx.AsyncClient, staff: Staff) -> Created:
    complaint = await register(anon, staff.agent.headers, staff)
    response = await anon.post(
        f"/api/v1/complaints/{complaint.id}/assign",
        json={"department": "quality"},
        headers={**staff.director.headers, "If-Match": f'"{complaint.version}"'},
    )
    assert response.status_code == 200, response.text
    complaint.version = response.json()["version"]
    return complaint


@pytest.mark.parametrize("action", ["assign", "reassign"])
async def test_the_subject_can_never_be_assigned(
    anon: httpx.AsyncClient, staff: Staff, action: str
) -> None:
    complaint = (
        await register(anon, staff.agent.headers, staff)
        if action == "assign"
        else await _assigned(anon, staff)
    )
    body = {**ACTION_EXAMPLES[action], "department": "quality"}
    headers = {**staff.director.headers, "If-Match": f'"{complaint.version}"'}
    path = f"/api/v1/complaints/{complaint.id}/{action}"
    refused = await anon.post(path, json={**body, "assignee_id": staff.subject.id}, headers=headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "回避" in refused.text
    # Another manager, otherwise alike, may be assigned: the refusal is the recusal.
    allowed = await anon.post(path, json={**body, "assignee_id": staff.manager.id}, headers=headers)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["assignee_id"] == staff.manager.id


async def test_denied_reads_are_audited(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str]
) -> None:
    complaint = await register(anon, staff.agent.headers, staff)
    path = f"/api/v1/complaints/{complaint.id}"
    outsider = staff.handler_logistics
    assert (await anon.get(path, headers=outsider.headers)).status_code == 404
    audit = await anon.get(
        "/api/v1/audit-events",
        params={"action": "access.denied", "actor_id": outsider.id},
        headers=admin_headers,
    )
    assert any(e["target_id"] == f"GET {path}" for e in audit.json()["items"])


async def test_unknown_ids_look_exactly_like_hidden_ones(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    complaint = await register(anon, staff.agent.headers, staff)
    outsider = staff.handler_logistics.headers
    hidden = await anon.get(f"/api/v1/complaints/{complaint.id}", headers=outsider)
    unknown = await anon.get(f"/api/v1/complaints/{uuid.uuid4()}", headers=outsider)
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert hidden.status_code == unknown.status_code == 404
    assert strip(hidden) == strip(unknown)


# --- idempotency keys belong to the caller -----------------------------------------------------


async def test_two_callers_may_use_the_same_idempotency_key(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    key = f"retry-{uuid.uuid4().hex}"
    first = await create_key(anon, admin_headers, ["complaints:create", "complaints:read"])
    callers = [first.headers, staff.agent.headers]
    responses: list[httpx.Response] = []
    for headers in callers:
        responses.append(
            await anon.post(
                "/api/v1/complaints",
                json=complaint_body(),
                headers={**headers, "Idempotency-Key": key},
            )
        )
    for response in responses:
        assert response.status_code == 201, response.text
        assert "idempotent-replayed" not in response.headers
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 2
    # Each caller's key still guards its own retries: the same key, another body, is refused.
    again = await anon.post(
        "/api/v1/complaints",
        json=complaint_body(),
        headers={**first.headers, "Idempotency-Key": key},
    )
    assert again.status_code == 422
