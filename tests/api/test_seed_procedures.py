"""Seeds 002, 003 and 004 end to end through the HTTP API, each as its procedure reads (seed
000's ordinary complaint is test_lifecycle_flows.test_full_seed_procedure_from_intake_to_closure).

Customers answer surveys with the link they were sent (the outbox row the worker delivers)."""

from __future__ import annotations

import uuid

import httpx

from shared.db.engine import Database
from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile
from tests.support.flow import assert_rebuilds, register
from tests.support.principals import Account

SURVEY = "/api/v1/public/survey"


def _types(events: list[dict[str, object]]) -> list[object]:
    return [e["type"] for e in events]


async def test_seed_002_levels_and_tiers_from_intake_to_closure(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 002 投诉分级: a repeat complaint with emotion (二级投诉) goes to the service manager
    (二级受理人), progress is reported, a rating of 4 (不满意) reopens it one level up to the
    director (三级受理人), the new result is rated 2 (满意) and the case closes. One complaint,
    an agent, a handler, a manager and a director, through the API alone."""
    agent, handler = staff.agent.headers, staff.handler_logistics.headers
    manager, director = staff.manager.headers, staff.director.headers
    phone, order = mobile(), f"TM{uuid.uuid4().hex[:10].upper()}"
    first = complaint_body(category="logistics", content="订单五天仍未送达。")
    first["customer"]["phone"], first["product"]["order_number"] = phone, order
    assert (await anon.post("/api/v1/complaints", json=first, headers=agent)).status_code == 201
    # 一级受理人 registers the second complaint about the same order (针对同一事件的二次投诉).
    flow = await register(
        anon,
        agent,
        category="logistics",
        customer={"name": "李娜", "phone": phone},
        product={"model": "KX-200", "order_number": order},
        content="同一订单第二次投诉：包裹外箱破损，快递员态度恶劣，至今没人处理。",
    )
    assert flow.complaint["level"] == 2
    assert flow.complaint["repeat_of"] is not None
    assert {"repeat", "keyword:态度"} <= set(flow.complaint["level_reasons"])
    assert flow.complaint["department"] == "logistics"  # 按投诉分类确定责任部门
    # §5.1.1.2: 二级投诉 交由二级受理人 — not the agent's decision, nor the agent's case.
    await flow.act("assign", agent, {"assignee_id": staff.agent.id}, expect=403)
    await flow.act("assign", manager, {"assignee_id": staff.agent.id}, expect=422)
    await flow.act("triage", manager, {"subcategory": "配送服务", "cause_class": "non_quality"})
    assert flow.complaint["level"] == 2  # the suggestion still stands
    await flow.act("assign", manager, {"department": "logistics", "assignee_id": staff.manager.id})
    # §5.3.1.5: contact the customer and report progress while it is open.
    await flow.act("log_contact", manager, {"method": "phone", "outcome": "已致歉并说明处理流程"})
    await flow.act(
        "reply_to_customer",
        manager,
        {"text": "您好，您的投诉已由客服经理跟进，物流部正在核实，预计3个工作日内答复您"},
    )
    await flow.act("start_investigation", manager, {"note": "请物流部核实配送过程"})
    # The responsible department (物流部) investigates and reports.
    await flow.act(
        "record_findings",
        handler,
        {
            "findings": "快递在转运中受压导致外箱破损，配送员未按规范服务",
            "responsibility": "third_party",
            "fault_department": "logistics",
        },
    )
    await flow.act(
        "propose_solution",
        manager,
        {
            "remedies": [{"type": "replacement"}, {"type": "apology"}],
            "description": "为您补发新品，并就配送服务向您致歉",
        },
    )
    # Seed 000: 换货 needs a manager's approval — the proposer's is not enough (four eyes).
    await flow.act("implement_solution", manager, {"note": "新品已发出"}, expect=409)
    await flow.act("approve_solution", manager, {}, expect=403)
    await flow.act("approve_solution", director, {"comment": "同意补发"})
    await flow.act("customer_agrees", manager, {"note": "客户电话确认"})
    await flow.act("implement_solution", manager, {"note": "新品已发出"})
    await flow.act("resolve", manager, {"result": "新品已补发，配送站已整改，感谢您的耐心"})
    assert flow.complaint["contact_count"] == 1
    # §5.3.1.6: rated 4 不满意 → 自动升级到下一级别.
    first_link = await flow.survey_token(db)
    assert (await anon.post(SURVEY, json={"token": first_link, "score": 4})).status_code == 204
    await flow.refresh(director)
    assert (flow.status, flow.complaint["level"], flow.complaint["satisfaction"]) == (
        "reopened",
        3,
        4,
    )
    assert flow.complaint["management_review"] is False  # a level-2 case, rated once
    escalated = (await flow.events(director))[-1]
    assert (escalated["type"], escalated["payload"]["cause"]) == (
        "complaint.escalated",
        "satisfaction",
    )
    assert (await anon.post(SURVEY, json={"token": first_link, "score": 2})).status_code == 404
    # Now a level-3 case: it moved to the director tier's queue (SPEC §2), no longer the
    # manager's; the director takes it.
    assert flow.complaint["assignee_id"] is None
    await flow.act("assign", director, {"assignee_id": staff.manager.id}, expect=422)
    await flow.act("assign", director, {"assignee_id": staff.director.id})
    await flow.act("start_investigation", director, {"note": "总监亲自跟进"})
    await flow.act("log_contact", director, {"method": "phone", "outcome": "总监致电客户致歉"})
    await flow.act(
        "propose_solution",
        handler,
        {
            "remedies": [
                {"type": "compensation", "amount": "300.00", "description": "配送延误补偿"},
                {"type": "apology"},
            ],
            "description": "补偿300元并书面致歉",
        },
    )
    # Seed 003: any compensation is approved by a manager or above (涉及赔偿的须汇报).
    await flow.act("approve_solution", director, {"comment": "同意补偿"})
    await flow.act("customer_agrees", director, {})
    await flow.act("implement_solution", director, {"note": "补偿已转账"})
    await flow.act("resolve", director, {"result": "补偿已到账，书面致歉函已寄出"})
    assert flow.complaint["satisfaction"] is None  # the 4 rated the previous result
    second_link = await flow.survey_token(db)
    assert second_link != first_link
    assert (await anon.post(SURVEY, json={"token": second_link, "score": 2})).status_code == 204
    await flow.refresh(director)
    assert flow.complaint["satisfaction"] == 2
    # §5.1.1.3: the director directed it, so another director signs it off (four eyes); then
    # the clerk archives (§3.2 事务文员).
    await flow.act("close", director, {}, expect=403)
    await flow.act("review", director, {}, expect=403)
    await flow.act("review", staff.director2.headers, {"comment": "同意存档"})
    await flow.act("close", staff.clerk.headers, {"summary": "客户满意，结案"})
    assert flow.status == "closed"
    events = await flow.events(director)
    actors = {e["actor"]["id"] for e in events}
    for who in (staff.agent, staff.handler_logistics, staff.manager, staff.director, staff.clerk):
        assert who.id in actors
    assert [
        e["actor"]["kind"] for e in events if e["type"] == "complaint.satisfaction_recorded"
    ] == [
        "customer",
        "customer",
    ]
    await assert_rebuilds(db, flow.id)


def _regulator_case() -> dict[str, object]:
    return {
        "channel": "regulator",
        "category": "product_quality",
        "content": "消费者通过12315平台投诉：电水壶底座开裂漏电，要求退货并赔偿。",
        "channel_meta": {
            "regulator": "12315",
            "regulator_case_number": f"12315{uuid.uuid4().hex[:14]}",
        },
    }


async def test_seed_003_regulator_case_with_director_approval_and_the_reply(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 003: a case forwarded by the regulator (上级监管部门转来的客户投诉) is level 3, its
    compensation is approved at the top, and it closes only after the regulator is answered."""
    handler, director = staff.handler_quality.headers, staff.director.headers
    flow = await register(anon, staff.agent.headers, **_regulator_case())
    assert flow.complaint["level"] == 3
    assert "channel:regulator" in flow.complaint["level_reasons"]
    # 三级投诉: the director leads; the manager is told and reads it (「重大投诉,必须马上报告
    # 部门经理」) but does not decide it.
    seen = await anon.get(f"/api/v1/complaints/{flow.id}", headers=staff.manager.headers)
    assert seen.status_code == 200
    await flow.act("assign", staff.manager.headers, {"department": "quality"}, expect=403)
    await flow.act("assign", staff.agent.headers, {"assignee_id": staff.agent.id}, expect=403)
    await flow.act(
        "assign", director, {"department": "quality", "assignee_id": staff.handler_quality.id}
    )
    await flow.act("start_investigation", handler, {"note": "调取同批次留样检测"})
    await flow.act("log_contact", handler, {"method": "phone", "outcome": "已联系消费者取回样品"})
    await flow.act(
        "record_findings",
        handler,
        {
            "findings": "底座绝缘层注塑缺陷",
            "responsibility": "company",
            "evidence": ["检测报告 QA-12315-01"],
            "fault_department": "quality",
        },
    )
    await flow.act("record_root_cause", handler, {"root_cause": "注塑温度参数漂移未被巡检发现"})
    await flow.act(
        "add_corrective_action",
        handler,
        {"description": "增加注塑温度在线监控", "owner": "质量部 王工", "due_date": "2027-01-15"},
    )
    await flow.act(
        "propose_solution",
        handler,
        {
            "remedies": [
                {"type": "refund", "amount": "399.00"},
                {"type": "compensation", "amount": "6000.00", "description": "烫伤医疗及误工补偿"},
            ],
            "description": "退货退款399元并补偿6000元",
        },
    )
    assert flow.complaint["solution"]["required_approval"] == "director"
    await flow.act("approve_solution", handler, {}, expect=403)
    await flow.act("approve_solution", director, {"comment": "同意，尽快向12315反馈"})
    await flow.act("customer_agrees", handler, {"note": "消费者同意方案"})
    await flow.act("implement_solution", handler, {"note": "退款及补偿已转账"})
    await flow.act("resolve", handler, {"result": "退款及补偿已到账，感谢您的理解与监督"})
    # 回访 by the clerk, never by the handler (seed 002 §5.4.1.3 私自填写舞弊).
    await flow.act("record_satisfaction", handler, {"score": 1}, expect=403)
    await flow.act(
        "record_satisfaction", staff.clerk.headers, {"score": 1, "comment": "回访：非常满意"}
    )
    # 第七条: 向监管部门反馈 before 结案 (and before the director signs it off).
    refused = await flow.act("close", staff.clerk.headers, {}, expect=409)
    assert "regulator_reply_missing" in refused.json()["detail"]
    assert "review_missing" in refused.json()["detail"]
    await flow.act("review", director, {}, expect=409)
    await flow.act(
        "regulator_reply",
        director,
        {
            "replied_at": "2026-11-30T10:00:00+08:00",
            "content": "已与消费者协商一致：退货退款并补偿，消费者表示非常满意",
            "outcome": "调解成功",
        },
    )
    await flow.act("review", director, {"comment": "同意存档"})
    await flow.act("close", staff.clerk.headers, {"summary": "已向12315反馈，结案"})
    assert flow.status == "closed"
    events = await flow.events(director)
    assert _types(events)[-3:] == [
        "complaint.regulator_replied",
        "complaint.reviewed",
        "complaint.closed",
    ]
    rated = next(e for e in events if e["type"] == "complaint.satisfaction_recorded")
    assert rated["actor"]["id"] == staff.clerk.id
    assert (rated["payload"]["recorded_by"], rated["payload"]["method"]) == (
        staff.clerk.id,
        "phone",
    )
    await assert_rebuilds(db, flow.id)


async def test_seed_003_withdrawal_still_owes_the_regulator_a_reply(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 003 §3.2.1: 投诉人要求撤诉的, 可以允许撤诉; the regulator is still told."""
    director = staff.director.headers
    flow = await register(anon, staff.agent.headers, **_regulator_case())
    await flow.act(
        "assign", director, {"department": "quality", "assignee_id": staff.handler_quality.id}
    )
    await flow.act("start_investigation", staff.handler_quality.headers, {})
    await flow.act(
        "log_contact",
        staff.handler_quality.headers,
        {"method": "phone", "outcome": "消费者表示已与商家和解"},
    )
    withdraw = {"reason": "消费者与商家和解，申请撤诉"}
    await flow.act("withdraw", staff.agent.headers, withdraw, expect=403)  # a level-3 decision
    await flow.act("withdraw", director, withdraw)
    assert flow.status == "withdrawn"
    await flow.act("close", staff.clerk.headers, {}, expect=409)
    await flow.act(
        "regulator_reply",
        director,
        {
            "replied_at": "2026-12-01T15:00:00+08:00",
            "content": "消费者已撤诉，双方和解",
            "outcome": "撤诉",
        },
    )
    assert flow.status == "withdrawn"
    assert flow.complaint["regulator_reply"]["outcome"] == "撤诉"
    await assert_rebuilds(db, flow.id)


async def test_seed_004_company_fault_with_corrective_actions_verified(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 004 顾客抱怨处理流程: 企业责任确认 YES → 质量分析 → 制定纠正措施 (owner, due date) →
    实施纠正措施 → 措施绩效跟踪 → 归入档案 (结案)."""
    agent, handler = staff.agent.headers, staff.handler_quality.headers
    flow = await register(anon, agent)
    await flow.act("triage", agent, {"subcategory": "漏电", "cause_class": "quality"})
    await flow.act(
        "assign", agent, {"department": "quality", "assignee_id": staff.handler_quality.id}
    )
    await flow.act("start_investigation", handler, {"note": "取回样品检测"})
    await flow.act(
        "record_findings",
        handler,
        {
            "findings": "底座绝缘层破损导致漏电",
            "responsibility": "company",
            "evidence": ["检测报告 QA-2026-1202-03"],
            "fault_department": "quality",
        },
    )
    await flow.act(
        "record_root_cause",
        handler,
        {"root_cause": "供应商来料绝缘层厚度超差，进货检验未覆盖该尺寸"},
    )
    await flow.act(
        "propose_solution",
        handler,
        {"remedies": [{"type": "replacement"}], "description": "为您更换新品"},
    )
    await flow.act("approve_solution", staff.manager.headers, {})  # 换货: seed 000 审批
    await flow.act("customer_agrees", handler, {})
    await flow.act("implement_solution", handler, {"note": "新品已寄出"})
    await flow.act("resolve", handler, {"result": "新品已寄出，请注意查收"})
    # 四不放过: no corrective action yet (and the agent no longer closes: the clerk archives).
    await flow.act("close", agent, {}, expect=403)
    refused = await flow.act("close", staff.clerk.headers, {}, expect=409)
    assert "corrective_action_missing" in refused.json()["detail"]
    for action in (
        {
            "kind": "corrective",
            "description": "来料绝缘层厚度全检",
            "owner": "质量部 王工",
            "due_date": "2026-12-20",
        },
        {
            "kind": "preventive",
            "description": "供应商增加出厂厚度检测并提供报告",
            "owner": "采购部 李工",
            "due_date": "2027-01-31",
        },
    ):
        await flow.act("add_corrective_action", handler, action)
    corrective, preventive = flow.complaint["corrective_actions"]
    assert (corrective["owner"], corrective["due_date"], corrective["status"]) == (
        "质量部 王工",
        "2026-12-20",
        "open",
    )
    assert preventive["kind"] == "preventive"
    await flow.act(
        "update_corrective_action",
        handler,
        {"action_id": str(uuid.uuid4()), "status": "done"},
        expect=422,
    )
    await flow.act(
        "update_corrective_action",
        handler,
        {"action_id": corrective["id"], "status": "in_progress", "note": "已安排"},
    )
    await flow.act(
        "update_corrective_action",
        handler,
        {"action_id": corrective["id"], "status": "done", "note": "全检已上线"},
    )
    await flow.act(
        "verify_corrective_action",
        handler,
        {"action_id": corrective["id"], "effective": True, "note": "连续两周来料零缺陷"},
    )
    token = await flow.survey_token(db)
    assert (await anon.post(SURVEY, json={"token": token, "score": 1})).status_code == 204
    await flow.refresh(agent)
    await flow.act("review", staff.manager.headers, {"comment": "同意存档"})  # §5.1.1.1
    await flow.act(
        "close", staff.clerk.headers, {"summary": "纠正措施已落实并验证有效，预防措施跟踪中"}
    )
    assert flow.status == "closed"
    # 效果确认 of the preventive action takes longer: it continues after 结案 (seed 004 跟踪).
    await flow.act(
        "update_corrective_action", handler, {"action_id": preventive["id"], "status": "done"}
    )
    await flow.act(
        "verify_corrective_action", handler, {"action_id": preventive["id"], "effective": True}
    )
    assert flow.status == "closed"
    actions = {a["id"]: a for a in flow.complaint["corrective_actions"]}
    assert [(a["status"], a["verified"]) for a in actions.values()] == [("done", True)] * 2
    assert actions[corrective["id"]]["verification_note"] == "连续两周来料零缺陷"
    await assert_rebuilds(db, flow.id)


async def test_seed_002_5_1_1_1_agent_handles_manager_reviews_clerk_archives(
    anon: httpx.AsyncClient, staff: Staff, integration: Account, db: Database
) -> None:
    """Seed 002 §5.1.1.1: 属于一级投诉范围的, 由一级受理人直接跟进处理, 由二级受理人审核后交事务
    文员存档. A call-centre integration registers the level-1 case; an agent takes it from tier
    1's queue, handles and resolves it; another agent does the 回访 (§5.3.1.6; the handler may
    not: §5.4.1.3); the manager sends it back once with a reason, then signs off the new result;
    the clerk archives it (§3.2)."""
    agent, other, manager = staff.agent.headers, staff.agent2.headers, staff.manager.headers
    flow = await register(anon, integration.headers, channel="phone", content="热水器不出热水。")
    assert (flow.complaint["level"], flow.complaint["assignee_id"]) == (1, None)
    # Tier 1's queue: the agent sees the case although an integration registered it.
    queue = await anon.get(
        "/api/v1/complaints",
        params={"queue": "unassigned", "reference": flow.complaint["reference"]},
        headers=agent,
    )
    assert [c["id"] for c in queue.json()["items"]] == [flow.id]
    await flow.refresh(agent)
    await flow.act("claim", agent, {"note": "我来跟进"})
    assert (flow.status, flow.complaint["assignee_id"]) == ("assigned", staff.agent.id)
    mine = await anon.get(
        "/api/v1/complaints",
        params={"queue": "mine", "reference": flow.complaint["reference"]},
        headers=agent,
    )
    assert [c["id"] for c in mine.json()["items"]] == [flow.id]
    await flow.act("log_contact", agent, {"method": "phone", "outcome": "已联系客户，约定上门"})
    await flow.act("resolve", agent, {"result": "已上门更换温控器，热水恢复正常"})
    # 回访: never by the handler (私自填写舞弊); another agent calls the customer back.
    await flow.act("record_satisfaction", agent, {"score": 1}, expect=403)
    await flow.act("record_satisfaction", other, {"score": 2, "comment": "回访：客户满意"})
    # 审核 by the tier above: the agent may neither review nor archive its own work.
    await flow.act("review", agent, {}, expect=403)
    await flow.act("close", agent, {}, expect=403)
    await flow.act("close", staff.clerk.headers, {}, expect=409)  # not reviewed yet
    sent_back = await flow.act("send_back", manager, {"reason": "请补充上门检测记录"})
    assert sent_back.json()["status"] == "investigating"
    assert flow.complaint["assignee_id"] == staff.agent.id  # back to its handler
    await flow.act("add_note", agent, {"text": "上门检测：温控器触点烧蚀"})
    await flow.act("resolve", agent, {"result": "已更换温控器并完成检测，热水恢复正常"})
    assert flow.complaint["satisfaction"] is None  # a new result is rated again
    token = await flow.survey_token(db)
    assert (await anon.post(SURVEY, json={"token": token, "score": 2})).status_code == 204
    await flow.refresh(manager)
    await flow.act("review", manager, {"comment": "同意存档"})
    assert flow.complaint["review"]["reviewer_id"] == staff.manager.id
    await flow.act("close", staff.clerk.headers, {"summary": "已存档"})
    assert flow.status == "closed"
    events = await flow.events(manager)
    chain = [
        (e["type"], e["actor"]["id"])
        for e in events
        if e["type"]
        in ("complaint.claimed", "complaint.sent_back", "complaint.reviewed", "complaint.closed")
    ]
    assert chain == [
        ("complaint.claimed", staff.agent.id),
        ("complaint.sent_back", staff.manager.id),
        ("complaint.reviewed", staff.manager.id),
        ("complaint.closed", staff.clerk.id),
    ]
    sent = next(e for e in events if e["type"] == "complaint.sent_back")
    assert sent["payload"]["reason"] == "请补充上门检测记录"
    assert sent["payload"]["handler_id"] == staff.agent.id
    await assert_rebuilds(db, flow.id)


async def test_seed_002_5_1_1_2_manager_handles_level_2_director_reviews(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 002 §5.1.1.2: 属于二级投诉范围的, 交由二级受理人跟进处理, 报三级受理人审核后, 由
    事务文员存档. The manager handles a level-2 case; a manager may not sign it off, the
    director does; the clerk archives it."""
    manager, director = staff.manager.headers, staff.director.headers
    flow = await register(anon, staff.agent.headers, content="门店店员服务态度恶劣，拒绝退换。")
    assert flow.complaint["level"] == 2
    await flow.act("claim", staff.agent.headers, {}, expect=403)  # level 2 is tier 2's
    await flow.act("claim", manager, {})
    await flow.act("start_investigation", manager, {})
    await flow.act("log_contact", manager, {"method": "phone", "outcome": "已致歉"})
    await flow.act("resolve", manager, {"result": "已为您办理退换，并对店员进行培训"})
    await flow.act("record_satisfaction", manager, {"score": 2}, expect=403)  # its handler
    await flow.act("record_satisfaction", staff.clerk.headers, {"score": 2})
    await flow.act("review", manager, {}, expect=403)  # level 2 is reviewed by 三级
    await flow.act("review", director, {"comment": "同意"})
    assert flow.complaint["review"]["role"] == "director"
    await flow.act("close", staff.clerk.headers, {})
    assert flow.status == "closed"
    await assert_rebuilds(db, flow.id)
