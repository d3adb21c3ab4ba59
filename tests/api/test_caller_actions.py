"""`allowed_actions` is what THIS caller may do now: role, tier (一级/二级/三级受理人, seed 002
§4.2), approval state (审批) and each action's own rules included, spelled as the URLs are.

Checked against the API itself: an action offered is never refused for the caller or the state
(403, 409), and an action not offered always is."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.intake_api.examples import ACTION_EXAMPLES
from tests.conftest import Staff
from tests.support.flow import Flow, drive_to, register

KEBAB = re.compile(r"^[a-z]+(-[a-z]+)*$")
COMPENSATION = {
    "remedies": [{"type": "compensation", "amount": "800.00"}],
    "description": "赔偿地板维修费用800元",
}


async def _offered(flow: Flow, headers: dict[str, str]) -> list[str]:
    view = await flow.client.get(f"/api/v1/complaints/{flow.id}", headers=headers)
    assert view.status_code == 200, view.text
    offered: list[str] = view.json()["allowed_actions"]
    return offered


async def test_an_agent_is_not_offered_triage_on_a_level_2_complaint(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Seed 002 §4.2 / §5.1.1: a level-2 case is decided by 二级受理人 (a manager), so the agent
    who registered it is not offered the tier decisions, and is refused them with the code."""
    flow = await register(anon, staff.agent.headers)
    await flow.act("triage", staff.director.headers, {"level": 2, "level_reason": "客户多次投诉"})
    offered = await _offered(flow, staff.agent.headers)
    assert "triage" not in offered
    assert "withdraw" not in offered
    assert {"log-contact", "add-note"} <= set(offered)
    refused = await flow.act("triage", staff.agent.headers, {}, expect=403)
    assert refused.json()["code"] == "tier-too-low"
    assert refused.json()["type"] == "/problems/tier-too-low"
    assert "triage" in await _offered(flow, staff.manager.headers)


async def test_implement_solution_is_offered_only_once_approved_and_agreed(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """审批 then 客户确认 OK before 实施 (seed 004): before either, the handler is not offered
    implement-solution, and posting it is a state conflict (409) naming what is awaited."""
    handler = staff.handler_quality.headers
    flow = await drive_to(await register(anon, staff.agent.headers), "investigating", staff)
    await flow.act("propose_solution", handler, COMPENSATION)
    assert flow.complaint["solution"]["required_approval"] == "manager"
    offered = await _offered(flow, handler)
    assert "implement-solution" not in offered
    assert "customer-agrees" in offered
    assert "approve-solution" not in offered  # a handler never approves
    awaiting = await flow.act("implement_solution", handler, {}, expect=409)
    assert awaiting.json()["code"] == "awaiting-approval"

    assert "approve-solution" in await _offered(flow, staff.manager.headers)
    await flow.act("approve_solution", staff.manager.headers, {"comment": "同意"})
    assert "approve-solution" not in await _offered(flow, staff.director.headers)
    assert "implement-solution" not in await _offered(flow, handler)
    not_agreed = await flow.act("implement_solution", handler, {}, expect=409)
    assert not_agreed.json()["code"] == "state-conflict"

    await flow.act("customer_agrees", handler, {})
    assert "implement-solution" in await _offered(flow, handler)
    await flow.act("implement_solution", handler, {"note": "已转账"})


async def test_the_proposer_is_not_offered_approval_of_their_own_solution(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """四眼原则: the manager who proposed is not offered approve-solution; another manager is."""
    flow = await drive_to(await register(anon, staff.agent.headers), "investigating", staff)
    await flow.act("propose_solution", staff.manager.headers, COMPENSATION)
    assert "approve-solution" not in await _offered(flow, staff.manager.headers)
    own = await flow.act("approve_solution", staff.manager.headers, {}, expect=403)
    assert own.json()["code"] == "four-eyes"
    assert "approve-solution" in await _offered(flow, staff.director.headers)


async def test_closure_requirements_withhold_close(anon: httpx.AsyncClient, staff: Staff) -> None:
    """四不放过 (seed 004): company fault without a root cause and a corrective action cannot be
    archived, so the clerk (seed 002 §3.2) is not offered close; the refusal lists what is
    missing (409). Nor is review offered to the manager before the case is complete."""
    handler = staff.handler_quality.headers
    flow = await drive_to(await register(anon, staff.agent.headers), "investigating", staff)
    await flow.act(
        "record_findings", handler, {"findings": "密封圈不良", "responsibility": "company"}
    )
    await flow.act("resolve", handler, {"result": "已为您更换"})
    assert "close" not in await _offered(flow, staff.clerk.headers)
    assert "review" not in await _offered(flow, staff.manager.headers)
    refused = await flow.act("close", staff.clerk.headers, {}, expect=409)
    assert refused.json()["code"] == "closure-requirements"
    assert "root_cause_missing" in refused.json()["detail"]
    # The handler never records the 回访 of their own case (seed 002 §5.4.1.3): not offered.
    assert "record-satisfaction" not in await _offered(flow, handler)
    assert "record-satisfaction" in await _offered(flow, staff.clerk.headers)


def _owners(staff: Staff) -> dict[str, dict[str, str]]:
    return {
        "agent": staff.agent.headers,
        "handler": staff.handler_quality.headers,
        "manager": staff.manager.headers,
        "director": staff.director.headers,
        "clerk": staff.clerk.headers,
    }


async def test_offered_actions_pass_and_others_are_refused_for_caller_or_state(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """For each status on the usual path and each handling role: every action offered, posted
    with its documented example on a fresh complaint in that status, is not refused for the
    caller or the state (not 403 / 409: at most its body is, 422); every action not offered is
    (403 or 409). Offered actions are the URLs' kebab-case names."""
    every = {name.replace("_", "-"): body for name, body in ACTION_EXAMPLES.items()}
    for status in ("registered", "investigating", "solution_proposed", "resolved"):
        for role, headers in _owners(staff).items():
            flow = await drive_to(await register(anon, staff.agent.headers), status, staff)
            offered = await _offered(flow, headers)
            assert all(KEBAB.match(a) for a in offered), offered
            assert set(offered) <= set(every)
            for action in sorted(set(every) - set(offered)):
                response = await _post(flow, action, every[action], headers)
                assert response.status_code in (403, 409), (status, role, action, response.text)
            for action in offered:
                fresh = await drive_to(await register(anon, staff.agent.headers), status, staff)
                response = await _post(fresh, action, every[action], headers)
                assert response.status_code not in (403, 409), (status, role, action, response.text)


async def _post(flow: Flow, action: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return await flow.client.post(
        f"/api/v1/complaints/{flow.id}/{action}",
        json=body,
        headers={**headers, "If-Match": f'"{flow.version}"'},
    )


async def test_refusals_and_the_diagram_spell_actions_as_urls(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers)
    refused = await flow.act("start_investigation", staff.agent.headers, {}, expect=409)
    problem = refused.json()
    assert problem["code"] == "invalid-transition"
    assert "start-investigation" in problem["detail"]
    assert problem["allowed_actions"]
    assert all(KEBAB.match(a) for a in problem["allowed_actions"])
    assert "log-contact" in problem["allowed_actions"]
    page = (await anon.get("/docs/lifecycle")).text
    assert "start-investigation" in page
    assert "start_investigation" not in page
