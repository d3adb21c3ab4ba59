"""The configurable rule sets (规则配置): staff read them, admins replace them, and a replacement
changes what happens to the next complaint — on a database of this module's own, since a rule
change applies to every complaint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import text

from services.intake_api.app import create_app
from shared.db.engine import Database
from shared.db.rule_sets import RulesCache, RuleSetName, rules_from
from shared.domain.rules import ApprovalRules, LevelRules
from tests.conftest import make_settings
from tests.support.factories import complaint_body
from tests.support.flow import Flow
from tests.support.principals import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    create_user,
    ensure_department,
    sign_in,
)
from tests.support.servers import Servers

BASE = "/api/v1/rules"


@pytest_asyncio.fixture(scope="module")
async def env(own_url: str, test_servers: Servers) -> AsyncIterator[dict[str, Any]]:
    app = create_app(make_settings(own_url, test_servers.redis_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as client:
            admin = await sign_in(client, ADMIN_USERNAME, ADMIN_PASSWORD)
            await ensure_department(client, admin, "quality", "质量部")
            yield {
                "client": client,
                "admin": admin,
                "url": own_url,
                "agent": await create_user(client, admin, role="agent"),
                "manager": await create_user(client, admin, role="manager"),
                "handler": await create_user(client, admin, role="handler", department="quality"),
            }


async def _put(env: dict[str, Any], name: str, body: dict[str, Any], **headers: str) -> Any:
    return await env["client"].put(f"{BASE}/{name}", json=body, headers={**env["admin"], **headers})


async def _register(env: dict[str, Any], **body: Any) -> Flow:
    response = await env["client"].post(
        "/api/v1/complaints", json=complaint_body(**body), headers=env["agent"].headers
    )
    assert response.status_code == 201, response.text
    return Flow(env["client"], response.json())


async def test_unchanged_rule_sets_are_the_seeds_defaults_at_version_0(env: dict[str, Any]) -> None:
    response = await env["client"].get(BASE, headers=env["agent"].headers)
    assert response.status_code == 200
    by_name = {r["name"]: r for r in response.json()["items"]}
    assert set(by_name) == {"level", "repeat", "routing", "approval", "closure", "assessment"}
    approval = by_name["approval"]
    assert approval["is_default"] is True
    assert approval["version"] == 0
    assert ApprovalRules.model_validate(approval["document"]) == ApprovalRules()
    one = await env["client"].get(f"{BASE}/level", headers=env["agent"].headers)
    assert one.headers["etag"] == '"0"'
    assert LevelRules.model_validate(one.json()["document"]) == LevelRules()


async def test_only_admins_replace_rules(env: dict[str, Any]) -> None:
    body = {"window_days": 45}
    denied = await env["client"].put(f"{BASE}/repeat", json=body, headers=env["manager"].headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    anonymous = await env["client"].put(f"{BASE}/repeat", json=body)
    assert anonymous.status_code == 401
    unknown = await env["client"].get(f"{BASE}/nonsense", headers=env["agent"].headers)
    assert unknown.status_code == 422


async def test_invalid_documents_are_refused_and_nothing_is_stored(env: dict[str, Any]) -> None:
    cases = [
        ("approval", {"manager_above": "5000.00", "director_above": "100.00"}),  # inverted
        ("approval", {"manager_above": "-1"}),
        ("repeat", {"window_days": 0}),
        ("level", {"very_serious_keywords": [""]}),
        ("level", {"unknown_field": True}),
        ("routing", {"tier_by_level": {"1": "admin", "2": "manager", "3": "director"}}),
        # Every category needs a department that exists.
        ("routing", {"department_by_category": {"product_quality": "quality"}}),
        (
            "routing",
            {
                "department_by_category": {
                    "product_quality": "nowhere",
                    "after_sales_service": "service",
                    "logistics": "logistics",
                    "price_marketing": "sales",
                    "other": "service",
                }
            },
        ),
    ]
    for name, body in cases:
        response = await _put(env, name, body)
        assert response.status_code == 422, (name, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    nowhere = await _put(env, *cases[-1])
    assert "nowhere" in nowhere.text
    db = Database(env["url"], pool_size=1, max_overflow=0)
    try:
        async with db.connect() as conn:
            stored = (await conn.execute(text("SELECT name FROM rule_sets"))).scalars().all()
    finally:
        await db.dispose()
    assert "routing" not in stored
    assert "approval" not in stored


async def test_raised_approval_limits_apply_to_the_next_solution(env: dict[str, Any]) -> None:
    async def proposed(amount: str) -> Any:
        flow = await _register(env)
        await flow.act("assign", env["manager"].headers, {"assignee_id": env["handler"].id})
        await flow.act("start_investigation", env["handler"].headers, {})
        await flow.act(
            "propose_solution",
            env["handler"].headers,
            {"remedies": [{"type": "compensation", "amount": amount}], "description": "补偿"},
        )
        return flow.complaint["solution"]["required_approval"]

    assert await proposed("800.00") == "manager"  # the default limit is 500
    response = await _put(
        env,
        "approval",
        # A company whose handlers settle small sums: no kind needs a manager by itself.
        {"manager_above": "1000.00", "director_above": "10000.00", "manager_types": []},
        **{"If-Match": '"0"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.headers["etag"] == '"1"'
    assert await proposed("800.00") is None
    assert await proposed("1200.00") == "manager"
    assert await proposed("12000.00") == "director"

    stale = await _put(env, "approval", {"manager_above": "2000.00"}, **{"If-Match": '"0"'})
    assert stale.status_code == 412
    audit = await env["client"].get(
        "/api/v1/audit-events", params={"action": "rule_set.update"}, headers=env["admin"]
    )
    entries = [e for e in audit.json()["items"] if e["target_id"] == "approval"]
    assert len(entries) == 1
    assert entries[0]["details"]["document"]["manager_above"] == "1000.00"


async def test_a_new_keyword_and_window_change_the_suggested_level(env: dict[str, Any]) -> None:
    content = "在黑猫投诉平台发帖了，产品一直没人处理。"
    before = await _register(env, content=content)
    assert before.complaint["level"] == 1
    level = LevelRules().model_dump(mode="json")
    level["very_serious_keywords"].append("黑猫投诉")
    assert (await _put(env, "level", level)).status_code == 200
    after = await _register(env, content=content)
    assert after.complaint["level"] == 3
    assert "keyword:黑猫投诉" in after.complaint["level_reasons"]


async def test_routing_follows_the_replaced_departments(env: dict[str, Any]) -> None:
    await ensure_department(env["client"], env["admin"], "qa-center", "品质中心")
    routing = {
        "department_by_category": {
            "product_quality": "qa-center",
            "after_sales_service": "service",
            "logistics": "logistics",
            "price_marketing": "sales",
            "other": "service",
        },
        "tier_by_level": {"1": "agent", "2": "manager", "3": "director"},
    }
    response = await _put(env, "routing", routing)
    assert response.status_code == 200, response.text
    flow = await _register(env, category="product_quality")
    assert flow.complaint["department"] == "qa-center"


async def test_other_processes_see_a_change_after_their_recheck(env: dict[str, Any]) -> None:
    """Another API or worker process has its own cache; it re-reads once the versions differ."""
    other = RulesCache(recheck_after=0.0)
    db = Database(env["url"], pool_size=1, max_overflow=0)
    try:
        async with db.connect() as conn:
            before = (await other.get(conn)).repeat.window_days
        target = 90 if before != 90 else 60
        assert (await _put(env, "repeat", {"window_days": target})).status_code == 200
        async with db.connect() as conn:
            assert (await other.get(conn)).repeat.window_days == target
    finally:
        await db.dispose()


async def test_two_admins_saving_at_once_one_wins_the_other_gets_412(env: dict[str, Any]) -> None:
    current = await env["client"].get(f"{BASE}/closure", headers=env["admin"])
    etag = current.headers["etag"]
    bodies = [{"require_verified_actions": True}, {"require_satisfaction": True}]
    responses = await asyncio.gather(
        *(_put(env, "closure", body, **{"If-Match": etag}) for body in bodies)
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200)
    after = await env["client"].get(f"{BASE}/closure", headers=env["admin"])
    assert after.json()["document"] == winner.json()["document"]
    assert after.json()["version"] == int(etag.strip('"')) + 1


async def test_every_documented_example_is_accepted_as_it_stands(env: dict[str, Any]) -> None:
    schema = (await env["client"].get("/openapi.json")).json()
    puts = {p: i["put"] for p, i in schema["paths"].items() if p.startswith(BASE) and "put" in i}
    assert len(puts) == len(RuleSetName)
    for path, op in puts.items():
        for example in op["requestBody"]["content"]["application/json"]["examples"].values():
            response = await env["client"].put(path, json=example["value"], headers=env["admin"])
            assert response.status_code == 200, (path, response.text)


DEPARTMENTS = {
    "product_quality": "quality",
    "after_sales_service": "service",
    "logistics": "logistics",
    "price_marketing": "sales",
    "other": "service",
}


async def _escalation_recipients(env: dict[str, Any], complaint_id: str) -> set[str]:
    db = Database(env["url"], pool_size=1, max_overflow=0)
    try:
        async with db.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT recipient_user_id FROM outbox WHERE complaint_id = CAST(:id AS uuid) "
                    "AND template_key = 'escalation'"
                ),
                {"id": complaint_id},
            )
            return {str(r) for (r,) in rows}
    finally:
        await db.dispose()


async def test_the_tier_per_level_decides_who_sees_a_level_and_hears_of_escalations(
    env: dict[str, Any],
) -> None:
    """一级/二级/三级受理人 as configured: a company that gives level 3 to its service managers
    lets them read level-3 cases; one that trusts agents with level 2 tells them of escalations
    to level 2 (and not the managers). By default a level-3 case is reported to the managers
    (seed 002 §5.1.1.3), who read it; a company may turn that off."""
    client, agent, manager = env["client"], env["agent"], env["manager"]
    loud = await _register(env, content="消费者称将向媒体曝光此事")  # keyword 曝光: level 3
    assert loud.complaint["level"] == 3
    path = f"/api/v1/complaints/{loud.id}"
    assert (await client.get(path, headers=manager.headers)).status_code == 200  # reported
    quiet = await _register(env)
    assert quiet.complaint["level"] == 1
    try:
        unreported = {
            "department_by_category": DEPARTMENTS,
            "tier_by_level": {"1": "agent", "2": "manager", "3": "director"},
            "report_to_manager_from": None,
        }
        assert (await _put(env, "routing", unreported)).status_code == 200
        assert (await client.get(path, headers=manager.headers)).status_code == 404
        routing = {
            "department_by_category": DEPARTMENTS,
            "tier_by_level": {"1": "agent", "2": "agent", "3": "manager"},
            "report_to_manager_from": None,
        }
        assert (await _put(env, "routing", routing)).status_code == 200
        assert (await client.get(path, headers=manager.headers)).status_code == 200
        listed = await client.get(
            "/api/v1/complaints",
            params={"reference": loud.complaint["reference"]},
            headers=manager.headers,
        )
        assert [c["id"] for c in listed.json()["items"]] == [loud.id]
        await quiet.act("escalate", agent.headers, {"reason": "客户情绪激动"})
        assert quiet.complaint["level"] == 2
        told = await _escalation_recipients(env, quiet.id)
        assert agent.id in told
        assert manager.id not in told
    finally:
        default = {
            "department_by_category": DEPARTMENTS,
            "tier_by_level": {"1": "agent", "2": "manager", "3": "director"},
        }
        assert (await _put(env, "routing", default)).status_code == 200
    assert (await client.get(path, headers=manager.headers)).status_code == 200


def test_a_stored_rule_set_that_no_longer_validates_falls_back_to_the_default() -> None:
    rules = rules_from(
        {
            "approval": {"manager_above": "900.00", "director_above": "100.00"},
            "repeat": {"window_days": 60},
            "retired": {},
        }
    )
    assert rules.approval == ApprovalRules()
    assert rules.repeat.window_days == 60


async def test_a_company_with_another_sign_off_chain_changes_the_closure_rules(
    env: dict[str, Any],
) -> None:
    """Seed 002 §5.1.1 is the default (reviewed by the tier above, archived by the clerk); a
    company where managers archive what they reviewed, and that accepts one attempt to reach
    the customer, says so in the `closure` rule set."""
    agent, manager = env["agent"], env["manager"]
    flow = await _register(env)
    await flow.act("claim", agent.headers, {})
    await flow.act("resolve", agent.headers, {"result": "已电话指导客户操作，问题解决"})
    await flow.act("log_followup_attempt", manager.headers, {"method": "phone"})
    await flow.act("record_unreachable", manager.headers, {}, expect=409)  # 3 working days
    await flow.act("close", manager.headers, {}, expect=403)  # the clerk archives
    try:
        closure = {"archivist_roles": ["clerk", "manager"], "followup_attempts": 1}
        assert (await _put(env, "closure", closure)).status_code == 200
        await flow.act("record_unreachable", manager.headers, {})
        await flow.act("close", manager.headers, {}, expect=409)  # still reviewed first
        await flow.act("review", manager.headers, {})
        await flow.act("close", manager.headers, {})
        assert flow.status == "closed"
    finally:
        assert (await _put(env, "closure", {})).status_code == 200
