"""The sign-off chain (审核 → 存档) and the honest 回访 over HTTP, each test naming the seed clause
it enforces: the tiers' queues and the claim (seed 002 §5.1.1.1), the return call never by the
handler and the unreachable outcome on different working days (§5.3.1.6, §5.4.1.3), level 3
reported to the department's manager (§5.1.1.3, seed 003), and the management meeting's list
(§5.3.1.7). The end-to-end walks are in test_seed_procedures."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text

from shared.db.engine import Database
from tests.conftest import Staff
from tests.support.flow import Flow, assert_rebuilds, drive_to, register
from tests.support.principals import Account, create_user

SURVEY = "/api/v1/public/survey"


async def _staff_messages(db: Database, complaint_id: str, template: str) -> set[str]:
    """Who the outbox tells of a complaint with `template` (recipient user ids)."""
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT recipient_user_id FROM outbox WHERE complaint_id = :id "
                "AND template_key = :key AND audience = 'staff'"
            ),
            {"id": uuid.UUID(complaint_id), "key": template},
        )
        return {str(r[0]) for r in rows}


async def test_seed_002_5_1_1_1_two_claims_at_once_one_wins_the_other_gets_409(
    anon: httpx.AsyncClient, staff: Staff, integration: Account
) -> None:
    flow = await register(anon, integration.headers)
    path = f"/api/v1/complaints/{flow.id}/claim"
    racers = (staff.agent, staff.agent2)
    answers = await asyncio.gather(
        *(
            anon.post(path, json={}, headers={**who.headers, "If-Match": f'"{flow.version}"'})
            for who in racers
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    winner = racers[[a.status_code for a in answers].index(200)]
    await flow.refresh(staff.director.headers)
    assert flow.complaint["assignee_id"] == winner.id
    assert [e["type"] for e in await flow.events(staff.director.headers)].count(
        "complaint.claimed"
    ) == 1
    # A later claim, with the current ETag, is refused too: the case is held.
    await flow.act("claim", staff.manager.headers, {}, expect=409)


async def test_seed_002_5_1_1_1_the_queue_is_each_tiers_own(
    anon: httpx.AsyncClient, staff: Staff, integration: Account
) -> None:
    """An agent sees unassigned level-1 cases whoever registered them, not level-2 ones; a
    claimed case leaves the other agents' queue until its result waits for the 回访."""
    level1 = await register(anon, integration.headers)
    level2 = await register(anon, integration.headers, content="店员态度恶劣，拒绝处理。")
    assert level2.complaint["level"] == 2
    other = staff.agent2.headers
    assert (await anon.get(f"/api/v1/complaints/{level1.id}", headers=other)).status_code == 200
    assert (await anon.get(f"/api/v1/complaints/{level2.id}", headers=other)).status_code == 404
    await level1.refresh(staff.agent.headers)
    await level1.act("claim", staff.agent.headers, {})
    assert (await anon.get(f"/api/v1/complaints/{level1.id}", headers=other)).status_code == 404
    await level1.act("resolve", staff.agent.headers, {"result": "已电话指导客户操作，问题解决"})
    # §5.3.1.6: the resolved case now waits for its 回访, which another agent may do; the list
    # (SQL) and the read (the domain's rule) agree.
    assert (await anon.get(f"/api/v1/complaints/{level1.id}", headers=other)).status_code == 200
    listed = await anon.get(
        "/api/v1/complaints", params={"reference": level1.complaint["reference"]}, headers=other
    )
    assert [c["id"] for c in listed.json()["items"]] == [level1.id]
    unlisted = await anon.get(
        "/api/v1/complaints", params={"reference": level2.complaint["reference"]}, headers=other
    )
    assert unlisted.json()["items"] == []
    await level1.act("record_satisfaction", other, {"score": 1, "method": "phone"})


async def test_seed_002_5_4_1_3_the_handler_never_records_the_rating(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """私自填写舞弊: the handler may not rate, log a failed attempt or record the customer as
    unreachable; who recorded a return call, and how, stays in the event."""
    flow = await register(anon, staff.agent.headers)
    handler = staff.agent.headers  # an agent handles it: its role does 回访 for others' cases
    await flow.act("claim", handler, {})
    await flow.act("resolve", handler, {"result": "已电话指导客户操作，问题解决"})
    for action, body in (
        ("record_satisfaction", {"score": 1}),
        ("log_followup_attempt", {"method": "phone"}),
        ("record_unreachable", {}),
    ):
        refused = await flow.act(action, handler, body, expect=403)
        assert "私自填写舞弊" in refused.json()["detail"]
    await flow.act("record_satisfaction", staff.agent2.headers, {"score": 2, "method": "visit"})
    rated = (await flow.events(staff.agent2.headers))[-1]
    assert rated["type"] == "complaint.satisfaction_recorded"
    assert rated["payload"]["recorded_by"] == staff.agent2.id
    assert (rated["payload"]["source"], rated["payload"]["method"]) == ("return_call", "visit")


async def test_seed_002_5_3_1_6_unreachable_after_attempts_on_three_working_days(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """A case is archived only once rated, or once the customer was recorded unreachable
    after 3 logged attempts on different working days of the business calendar: a holiday
    (国庆) does not count, two calls on one day count once, a 调休 Saturday counts."""
    flow = await drive_to(await register(anon, staff.agent.headers), "resolved", staff)
    clerk = staff.clerk.headers
    refused = await flow.act("close", clerk, {}, expect=409)
    assert "satisfaction_missing" in refused.json()["detail"]
    for at in (
        "2026-10-02T10:00:00+08:00",  # 国庆 holiday
        "2026-10-09T10:00:00+08:00",
        "2026-10-09T16:00:00+08:00",  # the same working day again
        "2026-10-10T10:00:00+08:00",  # Saturday, a 调休 make-up working day
    ):
        await flow.act("log_followup_attempt", staff.agent.headers, {"attempted_at": at})
    assert len(flow.complaint["followup"]["attempts"]) == 4
    early = await flow.act("record_unreachable", staff.agent.headers, {}, expect=409)
    assert "(2 so far)" in early.json()["detail"]
    await flow.act("log_followup_attempt", clerk, {"attempted_at": "2026-10-12T10:00:00+08:00"})
    await flow.act("record_unreachable", clerk, {"note": "三个工作日均无人接听"})
    assert flow.complaint["followup"]["unreachable_by"] == staff.clerk.id
    assert flow.complaint["satisfaction"] is None  # its own outcome, not a rating
    await flow.act("review", staff.manager.headers, {})
    await flow.act("close", clerk, {})
    assert flow.status == "closed"
    unreachable = [
        e for e in await flow.events(clerk) if e["type"] == "complaint.followup_unreachable"
    ]
    assert [(e["payload"]["attempts"], e["payload"]["working_days"]) for e in unreachable] == [
        (5, 3)
    ]
    await assert_rebuilds(db, flow.id)


async def test_seed_002_5_1_1_3_level_3_is_reported_to_the_departments_manager_at_once(
    anon: httpx.AsyncClient, staff: Staff, admin_headers: dict[str, str], db: Database
) -> None:
    """Seed 002 §5.1.1.3 and seed 003 「重大投诉,必须马上报告部门经理」: the responsible
    department's manager is told with the directors, and reads the case; another
    department's manager is not told."""
    quality = await create_user(anon, admin_headers, role="manager", department="quality")
    logistics = await create_user(anon, admin_headers, role="manager", department="logistics")
    flow = await register(anon, staff.agent.headers, content="电水壶漏电，孩子被电击受伤。")
    assert (flow.complaint["level"], flow.complaint["department"]) == (3, "quality")
    told = await _staff_messages(db, flow.id, "level3_alert")
    assert {quality.id, staff.director.id} <= told
    assert logistics.id not in told
    seen = await anon.get(f"/api/v1/complaints/{flow.id}", headers=quality.headers)
    hidden = await anon.get(f"/api/v1/complaints/{flow.id}", headers=logistics.headers)
    assert (seen.status_code, hidden.status_code) == (200, 404)
    # An escalation to level 3 tells them too.
    raised = await register(anon, staff.agent.headers, content="店员态度恶劣，拒绝处理。")
    await raised.act("escalate", staff.manager.headers, {"reason": "客户扬言投诉到总部"})
    assert raised.complaint["level"] == 3
    assert quality.id in await _staff_messages(db, raised.id, "level3_alert")


async def test_seed_002_5_3_1_7_level_3_rated_4_or_5_goes_to_the_management_meeting(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """提交总经理例会: the case is flagged, management is told, and the list filters it."""
    director = staff.director.headers
    flow = await register(anon, staff.agent.headers, content="热水器漏电致人受伤。")
    assert flow.complaint["level"] == 3
    await flow.act("claim", director, {})
    await flow.act("resolve", director, {"result": "已更换热水器并承担医疗费用"})
    token = await flow.survey_token(db)
    assert (await anon.post(SURVEY, json={"token": token, "score": 5})).status_code == 204
    await flow.refresh(director)
    assert flow.complaint["management_review"] is True
    assert staff.director2.id in await _staff_messages(db, flow.id, "management_review")
    reference = flow.complaint["reference"]
    for flag, expected in (("true", [flow.id]), ("false", [])):
        listed = await anon.get(
            "/api/v1/complaints",
            params={"management_review": flag, "reference": reference},
            headers=director,
        )
        assert listed.status_code == 200, listed.text
        assert [c["id"] for c in listed.json()["items"]] == expected


async def test_a_bad_queue_filter_is_a_problem_document(
    anon: httpx.AsyncClient, staff: Staff, integration: Account
) -> None:
    for params in ({"queue": "everyone"}, {"management_review": "maybe"}):
        answer = await anon.get("/api/v1/complaints", params=params, headers=staff.agent.headers)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
    mine = await anon.get(
        "/api/v1/complaints", params={"queue": "mine"}, headers=integration.headers
    )
    assert mine.status_code == 422  # integrations hold no cases


async def test_a_send_back_needs_a_reason_and_the_reviewers_tier(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    flow: Flow = await drive_to(await register(anon, staff.agent.headers), "rated", staff)
    await flow.act("send_back", staff.manager.headers, {}, expect=422)
    await flow.act("send_back", staff.agent.headers, {"reason": "补充记录"}, expect=403)
    await flow.act("send_back", staff.clerk.headers, {"reason": "补充记录"}, expect=403)
    await flow.act("send_back", staff.manager.headers, {"reason": "补充记录"})
    assert (flow.status, flow.complaint["review"], flow.complaint["resolved_at"]) == (
        "investigating",
        None,
        None,
    )


async def test_seed_002_5_1_1_2_a_level_rise_by_triage_moves_the_case_to_the_new_tier(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 002 §5.1.1.2–3 (二级投诉 交由二级受理人, 三级 led by 三级受理人): a case triaged up
    leaves its tier-1 holder for the new tier's queue, exactly as `escalate` moves it (the
    holder and the tier told, level 3 reported); or goes to a named person of that tier."""
    flow = await register(anon, staff.agent.headers)
    assert flow.complaint["level"] == 1
    await flow.act("claim", staff.agent.headers, {})
    assert flow.complaint["assignee_id"] == staff.agent.id
    await flow.act("triage", staff.agent.headers, {"level": 2, "level_reason": "客户多次来电投诉"})
    assert (flow.complaint["level"], flow.complaint["assignee_id"]) == (2, None)
    moved = [e for e in await flow.events(staff.manager.headers) if e["type"].endswith("escalated")]
    assert [(e["payload"]["cause"], e["payload"]["handed_over"]) for e in moved] == [
        ("triage", True)
    ]
    # In tier 2's queue, out of tier 1's: the agent no longer sees it.
    queue = await anon.get(
        "/api/v1/complaints",
        params={"queue": "unassigned", "reference": flow.complaint["reference"]},
        headers=staff.manager.headers,
    )
    assert [c["id"] for c in queue.json()["items"]] == [flow.id]
    mine = await anon.get(f"/api/v1/complaints/{flow.id}", headers=staff.agent2.headers)
    assert mine.status_code == 404
    assert staff.agent.id in await _staff_messages(db, flow.id, "escalation")

    # To a named person of the new tier, checked against it as escalate's assignee is.
    named = await register(anon, staff.agent.headers)
    rise = {"level": 3, "level_reason": "涉及人身安全"}
    refused = await named.act(
        "triage", staff.director.headers, {**rise, "assignee_id": staff.agent.id}, expect=422
    )
    assert refused.json()["errors"][0]["loc"][-1] == "assignee_id"
    await named.act("triage", staff.director.headers, {**rise, "assignee_id": staff.director2.id})
    assert (named.complaint["level"], named.complaint["assignee_id"]) == (3, staff.director2.id)
    assert await _staff_messages(db, named.id, "level3_alert")
