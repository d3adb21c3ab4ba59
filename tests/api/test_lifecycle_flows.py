"""The lifecycle through the HTTP API: the seed 000 happy path (intake → triage → routing →
investigation → responsibility → solution → approval → customer agrees → resolved → survey →
closed), the other paths (invalid, rejection, dissatisfied survey, repeat, regulator), every
action the audit found untested, and every disallowed transition. Seeds 002, 003 and 004 end to
end are in test_seed_procedures.py."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from services.intake_api.examples import ACTION_EXAMPLES
from shared.db.engine import Database
from shared.domain.enums import Status
from shared.domain.lifecycle import Action, allowed_actions
from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile
from tests.support.flow import assert_rebuilds, drive_to, register

SURVEY = "/api/v1/public/survey"


async def test_full_seed_procedure_from_intake_to_closure(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await register(anon, staff.agent.headers, category="product_quality")
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
    await flow.act("implement_solution", handler, {}, expect=409)
    await flow.act("approve_solution", handler, {}, expect=403)  # handlers do not approve
    await flow.act("approve_solution", staff.manager.headers, {"comment": "同意"})
    await flow.act("customer_agrees", handler, {"note": "客户同意"})
    await flow.act("implement_solution", handler, {"note": "已换新并付款"})
    await flow.act("resolve", handler, {"result": "已为您换新并补偿，感谢您的耐心等待"})
    assert flow.status == "resolved"
    # 四不放过: a company-fault complaint needs a corrective action before it closes (409); and
    # the clerk archives (seed 002 §3.2), never a manager alone.
    await flow.act("close", staff.manager.headers, {}, expect=403)
    await flow.act("close", staff.clerk.headers, {}, expect=409)
    await flow.act(
        "add_corrective_action",
        handler,
        {
            "description": "调整注塑参数并增加耐压测试",
            "owner": "质量部 王工",
            "due_date": "2026-12-31",
        },
    )
    token = await flow.survey_token(db)
    survey = await anon.post(SURVEY, json={"token": token, "score": 2})
    assert survey.status_code == 204
    again = await anon.post(SURVEY, json={"token": token, "score": 1})
    assert again.status_code == 404  # single use
    await flow.refresh(staff.manager.headers)
    assert flow.complaint["satisfaction"] == 2
    # Seed 002 §5.1.1.1: reviewed by the tier above (审核) before the clerk archives (存档).
    await flow.act("close", staff.clerk.headers, {}, expect=409)
    await flow.act("review", staff.manager.headers, {"comment": "同意存档"})
    await flow.act("close", staff.clerk.headers, {"summary": "结案"})
    assert flow.status == "closed"
    events = await flow.events(staff.manager.headers)
    assert [e["type"] for e in events][-4:] == [
        "complaint.corrective_action_added",
        "complaint.satisfaction_recorded",
        "complaint.reviewed",
        "complaint.closed",
    ]
    assert events[-3]["actor"]["kind"] == "customer"
    await assert_rebuilds(db, flow.id)


async def test_director_approval_needed_above_the_higher_limit(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers)
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
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    # Not invalid while the company might be at fault.
    await flow.act(
        "record_findings",
        staff.handler_quality.headers,
        {"findings": "待定", "responsibility": "undetermined"},
    )
    await flow.act(
        "mark_invalid",
        staff.handler_quality.headers,
        {"explanation": "经核实非产品问题"},
        expect=409,
    )
    await flow.act(
        "record_findings",
        staff.handler_quality.headers,
        {"findings": "用户自行拆机导致损坏", "responsibility": "customer"},
    )
    await flow.act(
        "mark_invalid",
        staff.handler_quality.headers,
        {"explanation": "经核实，损坏系自行拆机所致，感谢您的理解"},
    )
    assert flow.status == "invalid"
    await assert_rebuilds(db, flow.id)


async def test_customer_rejects_the_solution(anon: httpx.AsyncClient, staff: Staff) -> None:
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.handler_quality.id})
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    await flow.act(
        "propose_solution",
        staff.handler_quality.headers,
        {"remedies": [{"type": "repair"}], "description": "免费维修"},
    )
    await flow.act("customer_rejects", staff.handler_quality.headers, {"reason": "要求换新"})
    assert flow.status == "investigating"
    assert flow.complaint["solution"]["customer_response"] == "rejected"
    # A new proposal replaces the rejected one.
    await flow.act(
        "propose_solution",
        staff.handler_quality.headers,
        {"remedies": [{"type": "replacement"}], "description": "为您换新"},
    )
    assert flow.complaint["solution"]["customer_response"] is None


async def test_dissatisfied_survey_reopens_and_escalates(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await register(anon, staff.agent.headers)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id})
    await flow.act("resolve", staff.agent.headers, {"result": "已为您处理完毕"})
    assert flow.complaint["level"] == 1
    token = await flow.survey_token(db)
    assert (await anon.post(SURVEY, json={"token": token, "score": 4})).status_code == 204
    current = await flow.refresh(staff.manager.headers)
    assert current["status"] == "reopened"
    assert current["level"] == 2
    assert current["satisfaction"] == 4
    assert current["management_review"] is False


async def test_level3_rated_badly_is_flagged_for_management(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers, content="产品起火导致受伤，我要找媒体曝光")
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
    # Same phone, another product and another category: not a repeat (the same category would
    # be, issue 11 §5: tests/api/test_customer_informed.py).
    other = complaint_body(category="logistics")
    other["customer"]["phone"] = phone
    other["product"]["model"] = "ZZ-900"
    third = await anon.post("/api/v1/complaints", json=other, headers=staff.agent.headers)
    assert third.json()["repeat_of"] is None


async def test_regulator_case_is_level_3_and_records_the_reply(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(
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
    await flow.act(
        "regulator_reply",
        staff.director.headers,
        {
            "replied_at": "2026-11-25T10:00:00+08:00",
            "content": "已与消费者协商一致",
            "outcome": "调解成功",
        },
    )
    assert flow.complaint["regulator_reply"]["outcome"] == "调解成功"


async def test_manual_escalation_and_pause(anon: httpx.AsyncClient, staff: Staff) -> None:
    flow = await register(anon, staff.agent.headers)
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
    """Every status the flow helpers reach × every action the table refuses there, posted with
    its documented (valid) example by a director, who holds every tier (the clerk for `close`,
    which only the clerk takes): 409 and what is allowed. The refusal must change nothing."""
    for status in Status:
        flow = await drive_to(await register(anon, staff.agent.headers), status.value, staff)
        allowed = {a.slug for a in allowed_actions(status)}
        refused = [a.value for a in Action if a.slug not in allowed]
        assert refused, status
        for action in refused:
            who = staff.clerk if action == "close" else staff.director
            response = await flow.act(action, who.headers, ACTION_EXAMPLES[action], expect=409)
            problem = response.json()
            assert problem["type"] == "/problems/invalid-transition", (status, action)
            assert set(problem["allowed_actions"]) == allowed, (status, action)
        assert (await flow.refresh(staff.director.headers))["status"] == status.value


async def test_a_malformed_body_is_422_before_the_role_and_the_status_are_looked_at(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers)
    # close: refused in `registered` (409) and never a handler's (403); the body decides first.
    malformed = await flow.act("close", staff.handler_quality.headers, {"summary": 7}, expect=422)
    assert malformed.json()["type"] == "/problems/validation"
    await flow.act("close", staff.handler_quality.headers, {}, expect=403)
    await flow.act("close", staff.director.headers, {}, expect=403)  # the clerk archives
    await flow.act("close", staff.clerk.headers, {}, expect=409)


async def test_if_match_is_required_and_concurrent_actions_have_one_winner(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers)
    url = f"/api/v1/complaints/{flow.id}/add-note"
    missing = await anon.post(url, json={"text": "无 If-Match"}, headers=staff.agent.headers)
    assert missing.status_code == 428
    stale = await anon.post(
        url, json={"text": "旧版本"}, headers={**staff.agent.headers, "If-Match": '"99"'}
    )
    assert stale.status_code == 412
    racers = [staff.agent, staff.handler_logistics, staff.manager, staff.director]
    # The logistics handler cannot see a quality complaint (404); the others race on the same
    # version (another agent would see it: it is in tier 1's queue).
    responses = await asyncio.gather(
        *(
            anon.post(
                url,
                json={"text": f"并发 {i}"},
                headers={**who.headers, "If-Match": f'"{flow.version}"'},
            )
            for i, who in enumerate(racers)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1
    assert codes.count(412) == 2
    assert codes.count(404) == 1


# --- actions the audit found untested over HTTP, and the fixes that came with them -------------


async def test_reassign_to_another_department_and_handler(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    about_a_manager = {"staff_user_id": staff.subject.id, "staff_name": "赵经理"}
    flow = await register(anon, staff.agent.headers, subject=about_a_manager)
    await drive_to(flow, "investigating", staff)
    reason = {"reason": "检测发现是运输破损，转物流部"}
    # A department handler works for their own department only.
    await flow.act(
        "reassign",
        staff.agent.headers,
        {"department": "logistics", "assignee_id": staff.handler_quality.id, **reason},
        expect=422,
    )
    await flow.act(
        "reassign",
        staff.agent.headers,
        {"department": "logistics", "assignee_id": staff.handler_logistics.id, **reason},
    )
    assert flow.status == "investigating"  # reassigning does not restart the work
    assert (flow.complaint["department"], flow.complaint["assignee_id"]) == (
        "logistics",
        staff.handler_logistics.id,
    )
    await flow.act(
        "record_findings",
        staff.handler_logistics.headers,
        {"findings": "外箱压损", "responsibility": "third_party"},
    )
    # The subject of the complaint can never be given it, on reassignment either.
    await flow.act(
        "reassign", staff.director.headers, {"assignee_id": staff.subject.id, **reason}, expect=422
    )
    await assert_rebuilds(db, flow.id)


async def test_a_level_is_held_by_its_tier_or_a_department_handler(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await register(anon, staff.agent.headers, content="第二次投诉了，客服态度很差")
    assert flow.complaint["level"] == 2
    tiers = await flow.act(
        "assign", staff.manager.headers, {"assignee_id": staff.agent.id}, expect=422
    )
    assert "一级/二级/三级受理人" in tiers.text
    await flow.act("assign", staff.manager.headers, {"assignee_id": staff.manager.id})
    await flow.act(
        "reassign",
        staff.manager.headers,
        {"assignee_id": staff.handler_quality.id, "reason": "交质量部调查"},
    )
    assert flow.complaint["assignee_id"] == staff.handler_quality.id


async def test_reject_solution_and_four_eyes_on_approval(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await drive_to(await register(anon, staff.agent.headers), "investigating", staff)
    compensation = {
        "remedies": [{"type": "compensation", "amount": "800.00"}],
        "description": "赔偿地板维修费用800元",
    }
    await flow.act("propose_solution", staff.handler_quality.headers, compensation)
    await flow.act(
        "reject_solution", staff.handler_quality.headers, {"reason": "自己不能驳回"}, expect=403
    )
    await flow.act(
        "reject_solution", staff.manager.headers, {"reason": "赔偿依据不足，请补充地板维修报价单"}
    )
    assert flow.status == "investigating"
    # The manager proposes the amended solution: someone else approves it (四眼原则).
    await flow.act("propose_solution", staff.manager.headers, compensation)
    assert flow.complaint["solution"]["approvals"] == []
    assert flow.complaint["solution"]["proposed_by"] == staff.manager.id
    own = await flow.act("approve_solution", staff.manager.headers, {}, expect=403)
    assert "四眼原则" in own.json()["detail"]
    await flow.act("approve_solution", staff.director.headers, {"comment": "同意"})
    await flow.act("customer_agrees", staff.handler_quality.headers, {})
    await flow.act("implement_solution", staff.handler_quality.headers, {"note": "已转账"})
    implemented_at = flow.complaint["solution"]["implemented_at"]
    await flow.act(
        "implement_solution", staff.handler_quality.headers, {"note": "重复付款"}, expect=409
    )
    await flow.refresh(staff.manager.headers)
    assert flow.complaint["solution"]["implemented_at"] == implemented_at
    await assert_rebuilds(db, flow.id)


async def test_customer_responded_after_a_pause_from_solution_proposed(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow = await drive_to(await register(anon, staff.agent.headers), "solution_proposed", staff)
    solution = flow.complaint["solution"]
    await flow.act(
        "await_customer", staff.handler_quality.headers, {"reason": "等待客户确认上门时间"}
    )
    assert (flow.status, flow.complaint["status_before_pause"]) == (
        "awaiting_customer",
        "solution_proposed",
    )
    await flow.act(
        "customer_responded", staff.handler_quality.headers, {"summary": "客户约定周六上午"}
    )
    assert flow.status == "solution_proposed"
    assert flow.complaint["paused_at"] is None
    assert flow.complaint["solution"] == solution  # the proposal on the table is untouched
    await flow.act("customer_agrees", staff.handler_quality.headers, {})


async def test_manual_reopen_withdraws_the_survey_link(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await drive_to(await register(anon, staff.agent.headers), "resolved", staff)
    token = await flow.survey_token(db)
    await flow.act("reopen", staff.agent.headers, {"reason": "回访前客户来电反映问题再次出现"})
    assert flow.status == "reopened"
    stale = await anon.post(SURVEY, json={"token": token, "score": 2})
    forged = await anon.post(SURVEY, json={"token": token[:-4] + "0000", "score": 2})
    assert (stale.status_code, forged.status_code) == (404, 404)
    # The same problem as for a forged link: nothing internal (no allowed_actions, no status).
    assert stale.json() == forged.json()
    assert "allowed_actions" not in stale.json()
    assert "expired" not in stale.json()["detail"]  # links do not expire: the text says so
    await flow.refresh(staff.agent.headers)
    assert flow.complaint["satisfaction"] is None
    # Resolved again, the customer rates the new result with the new link.
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    await flow.act("resolve", staff.handler_quality.headers, {"result": "已再次上门检修"})
    fresh = await flow.survey_token(db)
    assert fresh != token
    assert (await anon.post(SURVEY, json={"token": fresh, "score": 1})).status_code == 204
    # A closed case can be reopened too (seed 002 §5.3.1.6: the customer contests the result).
    await flow.refresh(staff.agent.headers)
    await flow.act("review", staff.manager.headers, {})
    await flow.act("close", staff.clerk.headers, {})
    await flow.act("reopen", staff.agent.headers, {"reason": "客户对结果提出异议"})
    assert flow.status == "reopened"
    assert flow.complaint["closed_at"] is None
    await assert_rebuilds(db, flow.id)


async def test_the_events_never_show_the_survey_nonce(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    flow = await drive_to(await register(anon, staff.agent.headers), "resolved", staff)
    token = await flow.survey_token(db)
    for reader in (staff.agent, staff.manager, staff.auditor):
        events = await flow.events(reader.headers)
        resolved = [e for e in events if e["type"] == "complaint.resolved"]
        assert resolved[0]["payload"]["result"] == "已为您处理完毕"
        assert "survey_nonce" not in resolved[0]["payload"]
        # No part of the link's credential appears anywhere in the log.
        for part in token.split("."):
            if part != flow.id:
                assert part not in str(events)
