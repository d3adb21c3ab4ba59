"""The seed procedures end to end through the HTTP API: intake → triage → routing →
investigation → responsibility → solution → approval → customer agrees → resolved → survey →
closed, and the other paths (invalid, rejection, dissatisfied survey, repeat, regulator)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from services.intake_api.auth.secrets import survey_token
from shared.config import Settings
from shared.db import complaints as repo
from shared.db.engine import Database
from shared.domain.enums import Status
from shared.domain.events import replay
from shared.domain.lifecycle import Action, allowed_actions
from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile
from tests.support.flow import Flow


async def _register(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Flow:
    response = await client.post("/api/v1/complaints", json=complaint_body(**body), headers=headers)
    assert response.status_code == 201, response.text
    return Flow(client, response.json())


async def _survey_link(db: Database, settings: Settings, complaint_id: str) -> str:
    async with db.connect() as conn:
        nonce = (
            await conn.execute(
                text("SELECT survey_nonce FROM complaints WHERE id = :id"), {"id": complaint_id}
            )
        ).scalar_one()
    assert nonce, "resolving opens a survey invitation"
    return survey_token(settings.require_jwt_secret(), uuid.UUID(complaint_id), nonce)


async def _assert_rebuilds(db: Database, complaint_id: str) -> None:
    async with db.connect() as conn:
        stored = await repo.get_state(conn, uuid.UUID(complaint_id))
        log = await repo.list_events(conn, uuid.UUID(complaint_id))
    assert replay((e, m) for e, m, _ in log) == stored


async def test_full_seed_procedure_from_intake_to_closure(
    anon: httpx.AsyncClient, staff: Staff, db: Database, settings: Settings
) -> None:
    flow = await _register(anon, staff.agent.headers, category="product_quality")
    assert flow.complaint["department"] == "quality"  # routed by category at intake
    await flow.act("triage", staff.agent.headers, {"subcategory": "漏电", "cause_class": "quality"})
    await flow.act(
        "assign",
        staff.manager.headers,
        {"department": "quality", "assignee_id": staff.handler_quality.id},
    )
    assert flow.status == "assigned"
    handler = staff.handler_quality.headers
    await flow.act("start_investigation", handler, {"note": "安排检测"})
    await flow.act("log_contact", handler, {"method": "phone", "outcome": "已联系客户"})
    assert flow.complaint["contact_count"] == 1
    await flow.act(
        "record_findings",
        handler,
        {"findings": "底座绝缘层破损", "responsibility": "company", "fault_department": "quality"},
    )
    await flow.act("record_root_cause", handler, {"root_cause": "注塑工艺参数漂移"})
    await flow.act(
        "propose_solution",
        handler,
        {
            "remedies": [
                {"type": "replacement"},
                {"type": "compensation", "amount": "800.00", "description": "误工补偿"},
            ],
            "description": "为您更换新品并补偿800元",
        },
    )
    assert flow.complaint["solution"]["required_approval"] == "manager"
    # Implementing before approval and agreement is refused.
    await flow.act("implement_solution", handler, {}, expect=422)
    await flow.act("approve_solution", handler, {}, expect=403)  # handlers do not approve
    await flow.act("approve_solution", staff.manager.headers, {"comment": "同意"})
    await flow.act("customer_agrees", handler, {"note": "客户同意"})
    await flow.act("implement_solution", handler, {"note": "已换新并付款"})
    await flow.act("resolve", handler, {"result": "已为您换新并补偿，感谢您的耐心等待"})
    assert flow.status == "resolved"
    # 四不放过: a company-fault complaint needs a corrective action before it closes.
    await flow.act("close", staff.manager.headers, {}, expect=422)
    await flow.act(
        "add_corrective_action",
        handler,
        {"description": "调整注塑参数并增加耐压测试", "owner": "质量部 王工",
         "due_date": "2026-12-31"},
    )  # fmt: skip
    token = await _survey_link(db, settings, flow.id)
    survey = await anon.post("/api/v1/public/survey", json={"token": token, "score": 2})
    assert survey.status_code == 204
    again = await anon.post("/api/v1/public/survey", json={"token": token, "score": 1})
    assert again.status_code == 404  # single use
    current = await anon.get(f"/api/v1/complaints/{flow.id}", headers=staff.manager.headers)
    flow.complaint, flow.version = current.json(), current.json()["version"]
    assert flow.complaint["satisfaction"] == 2
    await flow.act("close", staff.manager.headers, {"summary": "结案"})
    assert flow.status == "closed"
    events = (
        await anon.get(f"/api/v1/complaints/{flow.id}/events", headers=staff.manager.headers)
    ).json()
    assert [e["type"] for e in events][-3:] == [
        "complaint.corrective_action_added",
        "complaint.satisfaction_recorded",
        "complaint.closed",
    ]
    assert events[-2]["actor"]["kind"] == "customer"
    await _assert_rebuilds(db, flow.id)


async def test_director_approval_needed_above_the_higher_limit(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await _register(anon, staff.agent.headers)
    await flow.act("assign", staff.manager.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    await flow.act(
        "propose_solution",
        staff.handler_quality.headers,
        {"remedies": [{"type": "compensation", "amount": "8000.00"}], "description": "赔偿8000元"},
    )
    assert flow.complaint["solution"]["required_approval"] == "director"
    await flow.act("approve_solution", staff.manager.headers, {}, expect=403)
    await flow.act("approve_solution", staff.director.headers, {"comment": "同意"})
    assert flow.complaint["solution"]["approvals"][0]["role"] == "director"


async def test_invalid_path_when_the_customer_is_at_fault(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await _register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    # Not invalid while the company might be at fault.
    await flow.act("record_findings", staff.handler_quality.headers,
                   {"findings": "待定", "responsibility": "undetermined"})  # fmt: skip
    await flow.act("mark_invalid", staff.handler_quality.headers,
                   {"explanation": "经核实非产品问题"}, expect=422)  # fmt: skip
    await flow.act("record_findings", staff.handler_quality.headers,
                   {"findings": "用户自行拆机导致损坏", "responsibility": "customer"})  # fmt: skip
    await flow.act("mark_invalid", staff.handler_quality.headers,
                   {"explanation": "经核实，损坏系自行拆机所致，感谢您的理解"})  # fmt: skip
    assert flow.status == "invalid"
    await _assert_rebuilds(db, flow.id)


async def test_customer_rejects_the_solution(anon: httpx.AsyncClient, staff: Staff) -> None:
    flow = await _register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    await flow.act("propose_solution", staff.handler_quality.headers,
                   {"remedies": [{"type": "repair"}], "description": "免费维修"})  # fmt: skip
    await flow.act("customer_rejects", staff.handler_quality.headers, {"reason": "要求换新"})
    assert flow.status == "investigating"
    assert flow.complaint["solution"]["customer_response"] == "rejected"
    # A new proposal replaces the rejected one.
    await flow.act("propose_solution", staff.handler_quality.headers,
                   {"remedies": [{"type": "replacement"}], "description": "为您换新"})  # fmt: skip
    assert flow.complaint["solution"]["customer_response"] is None


async def test_dissatisfied_survey_reopens_and_escalates(
    anon: httpx.AsyncClient, staff: Staff, db: Database, settings: Settings
) -> None:
    flow = await _register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    await flow.act("resolve", staff.agent.headers, {"result": "已为您处理完毕"})
    assert flow.complaint["level"] == 1
    token = await _survey_link(db, settings, flow.id)
    assert (
        await anon.post("/api/v1/public/survey", json={"token": token, "score": 4})
    ).status_code == 204
    current = (
        await anon.get(f"/api/v1/complaints/{flow.id}", headers=staff.manager.headers)
    ).json()
    assert current["status"] == "reopened"
    assert current["level"] == 2
    assert current["satisfaction"] == 4
    assert current["management_review"] is False


async def test_level3_rated_badly_is_flagged_for_management(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await _register(anon, staff.agent.headers, content="产品起火导致受伤，我要找媒体曝光")
    assert flow.complaint["level"] == 3
    assert any(r.startswith("keyword:") for r in flow.complaint["level_reasons"])
    await flow.act("assign", staff.director.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("resolve", staff.handler_quality.headers, {"result": "已处理"})
    await flow.act("record_satisfaction", staff.director.headers, {"score": 5})
    assert flow.status == "reopened"
    assert flow.complaint["level"] == 3
    assert flow.complaint["management_review"] is True


async def test_repeat_complaint_is_linked_and_at_least_level_2(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    phone = mobile()
    first_body = complaint_body()
    first_body["customer"]["phone"] = phone
    first = await anon.post("/api/v1/complaints", json=first_body, headers=staff.agent.headers)
    second_body = complaint_body(content="同一个问题还没解决，第二次投诉")
    second_body["customer"]["phone"] = phone
    second_body["product"]["order_number"] = first_body["product"]["order_number"]
    second = await anon.post("/api/v1/complaints", json=second_body, headers=staff.agent.headers)
    assert second.json()["repeat_of"] == first.json()["id"]
    assert second.json()["level"] >= 2
    assert "repeat" in second.json()["level_reasons"]
    other = complaint_body()  # same phone, another product: not a repeat
    other["customer"]["phone"] = phone
    other["product"]["model"] = "ZZ-900"
    third = await anon.post("/api/v1/complaints", json=other, headers=staff.agent.headers)
    assert third.json()["repeat_of"] is None


async def test_regulator_case_is_level_3_and_records_the_reply(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await _register(
        anon,
        staff.agent.headers,
        channel="regulator",
        channel_meta={
            "regulator": "12315",
            "regulator_case_number": f"1231520261125{uuid.uuid4().hex[:6]}",
        },
    )
    assert flow.complaint["level"] == 3
    assert "channel:regulator" in flow.complaint["level_reasons"]
    await flow.act(
        "regulator_reply",
        staff.agent.headers,
        {"replied_at": "2026-11-25T10:00:00+08:00", "content": "已协商"},
        expect=403,
    )
    await flow.act("regulator_reply", staff.director.headers,
                   {"replied_at": "2026-11-25T10:00:00+08:00", "content": "已与消费者协商一致",
                    "outcome": "调解成功"})  # fmt: skip
    assert flow.complaint["regulator_reply"]["outcome"] == "调解成功"


async def test_manual_escalation_and_pause(anon: httpx.AsyncClient, staff: Staff) -> None:
    flow = await _register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    await flow.act("await_customer", staff.agent.headers, {"reason": "等待客户提供照片"})
    assert flow.status == "awaiting_customer"
    assert flow.complaint["paused_at"] is not None
    await flow.act("customer_responded", staff.agent.headers, {"summary": "已收到照片"})
    assert flow.status == "assigned"
    assert flow.complaint["paused_at"] is None
    await flow.act("escalate", staff.agent.headers, {"reason": "客户情绪激动"})
    assert flow.complaint["level"] == 2
    # A level-2 case is beyond an agent's tier for tier decisions.
    await flow.act("withdraw", staff.agent.headers, {"reason": "客户撤诉"}, expect=403)
    await flow.act("withdraw", staff.manager.headers, {"reason": "客户撤诉"})
    assert flow.status == "withdrawn"


async def test_every_disallowed_transition_is_409_with_the_allowed_actions(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await _register(anon, staff.agent.headers)
    allowed = {a.value for a in allowed_actions(Status.REGISTERED)}
    from services.intake_api.examples import ACTION_EXAMPLES

    for action in Action:
        if action.value in allowed:
            continue
        response = await flow.act(
            action.value, staff.director.headers, ACTION_EXAMPLES[action.value], expect=409
        )
        problem = response.json()
        assert problem["type"] == "/problems/invalid-transition"
        assert set(problem["allowed_actions"]) == allowed


async def test_if_match_is_required_and_concurrent_actions_have_one_winner(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await _register(anon, staff.agent.headers)
    url = f"/api/v1/complaints/{flow.id}/add-note"
    missing = await anon.post(url, json={"text": "无 If-Match"}, headers=staff.agent.headers)
    assert missing.status_code == 428
    stale = await anon.post(
        url, json={"text": "旧版本"}, headers={**staff.agent.headers, "If-Match": '"99"'}
    )
    assert stale.status_code == 412
    racers = [staff.agent, staff.agent2, staff.manager, staff.director]
    # agent2 cannot see the complaint (404); the others race on the same version.
    responses = await asyncio.gather(
        *(
            anon.post(url, json={"text": f"并发 {i}"},
                      headers={**who.headers, "If-Match": f'"{flow.version}"'})
            for i, who in enumerate(racers)
        )
    )  # fmt: skip
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1
    assert codes.count(412) == 2
    assert codes.count(404) == 1
