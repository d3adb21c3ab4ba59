"""Every action's documented example (services.intake_api.examples.ACTION_EXAMPLES) is accepted as
it stands, posted by a principal whose role does that action, on a complaint driven to a status
that allows it.

The one substitution: `update_corrective_action` and `verify_corrective_action` name the
corrective action by the id the server gave it when it was added, which no example written in
advance can know; the test puts the real id in `action_id` and leaves the rest as documented."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.intake_api.examples import ACTION_EXAMPLES
from shared.domain.lifecycle import Action
from tests.conftest import Staff
from tests.support.flow import drive_to, register

REGULATOR_CASE = {
    "channel": "regulator",
    "channel_meta": {"regulator": "12315", "regulator_case_number": "1231520261202000777"},
}
# Findings of customer fault: the only way to `invalid` (the documented findings are company's).
CUSTOMER_FAULT = {"findings": "经核实，进水管系用户自行安装未拧紧", "responsibility": "customer"}
PROPOSED = (("propose_solution", None),)
ADDED = (("add_corrective_action", None),)
# action: (status the flow helpers drive the complaint to, who posts the example, the steps
# after that, by the quality handler: (action, body), None meaning that action's example)
RECIPES: dict[str, tuple[str, str, tuple[tuple[str, dict[str, Any] | None], ...]]] = {
    "triage": ("registered", "agent", ()),
    "assign": ("registered", "agent", ()),
    "reassign": ("assigned", "agent", ()),
    "start_investigation": ("assigned", "handler_quality", ()),
    "log_contact": ("registered", "agent", ()),
    "await_customer": ("assigned", "handler_quality", ()),
    "customer_responded": ("awaiting_customer", "handler_quality", ()),
    "record_findings": ("investigating", "handler_quality", ()),
    "record_root_cause": ("investigating", "handler_quality", ()),
    "propose_solution": ("investigating", "handler_quality", ()),
    # The documented proposal (800 yuan of compensation) is the one a manager approves.
    "approve_solution": ("investigating", "manager", PROPOSED),
    "reject_solution": ("investigating", "manager", PROPOSED),
    "customer_agrees": ("solution_proposed", "handler_quality", ()),
    "customer_rejects": ("solution_proposed", "handler_quality", ()),
    "implement_solution": ("solution_proposed", "handler_quality", (("customer_agrees", None),)),
    "resolve": ("investigating", "handler_quality", ()),
    "record_satisfaction": ("resolved", "agent", ()),
    "add_corrective_action": ("investigating", "handler_quality", ()),
    "update_corrective_action": ("investigating", "handler_quality", ADDED),
    "verify_corrective_action": ("investigating", "handler_quality", ADDED),
    "escalate": ("registered", "agent", ()),
    "withdraw": ("registered", "agent", ()),
    "mark_invalid": ("investigating", "handler_quality", (("record_findings", CUSTOMER_FAULT),)),
    "reopen": ("resolved", "agent", ()),
    "close": ("reviewed", "clerk", ()),
    "claim": ("registered", "agent2", ()),
    "review": ("rated", "manager", ()),
    "send_back": ("resolved", "manager", ()),
    "log_followup_attempt": ("resolved", "agent", ()),
    # Three failed attempts on different working days first (by an agent, not the handler).
    "record_unreachable": ("resolved", "agent", ()),
    "regulator_reply": ("registered", "director", ()),
    "add_note": ("registered", "agent", ()),
    "reply_to_customer": ("registered", "agent", ()),
    "link_repeat": ("registered", "manager", ()),
    "unlink_repeat": ("registered", "manager", (("link_repeat", None),)),
}


def test_every_action_has_an_example_and_a_recipe() -> None:
    assert set(ACTION_EXAMPLES) == {a.value for a in Action} == set(RECIPES)


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_the_documented_example_is_accepted(
    anon: httpx.AsyncClient, staff: Staff, action: str
) -> None:
    status, who, steps = RECIPES[action]
    regulator = action == "regulator_reply"
    flow = await register(anon, staff.agent.headers, **(REGULATOR_CASE if regulator else {}))
    await drive_to(flow, status, staff)
    # A repeat links to a complaint that exists: the example's id stands for one.
    earlier = await register(anon, staff.agent.headers)
    for step, step_body in steps:
        given = dict(step_body or ACTION_EXAMPLES[step])
        if "repeat_of" in given:
            given["repeat_of"] = earlier.id
            await flow.act(step, staff.manager.headers, given)
            continue
        await flow.act(step, staff.handler_quality.headers, given)
    if action == "record_unreachable":
        for day in ("2026-11-23", "2026-11-24", "2026-11-25"):  # Mon–Wed, working days
            attempt = {"method": "phone", "attempted_at": f"{day}T10:00:00+08:00"}
            await flow.act("log_followup_attempt", staff.agent.headers, attempt)
    body: dict[str, Any] = dict(ACTION_EXAMPLES[action])
    if "repeat_of" in body:
        body["repeat_of"] = earlier.id
    if "action_id" in body:  # the id the server gave the corrective action (module docstring)
        body["action_id"] = flow.complaint["corrective_actions"][-1]["id"]
    version = flow.version
    await flow.act(action, getattr(staff, who).headers, body)  # asserts 200 and the new ETag
    assert flow.version > version


async def test_each_action_documents_which_error_comes_first(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for action in Action:
        path = f"/api/v1/complaints/{{complaint_id}}/{action.value.replace('_', '-')}"
        description = paths[path]["post"]["description"]
        order = [description.index(f"**{code}**") for code in ("422", "403", "409")]
        assert order == sorted(order), action
        assert "allowed_actions" in description
