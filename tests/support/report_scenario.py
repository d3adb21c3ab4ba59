"""A known set of complaints for the report tests, taken through their lifecycle over the API
with a controlled clock (tests/api/test_reports_figures.py works out every figure by hand):

- M0, 20 October: never answered (its deadlines breached on the sweep of 19 November);
- P, Tue 17 November: never answered;
- A, Mon 23: product quality, answered, company fault (root cause 注塑参数漂移, a corrective
  action due 31 December), 300 元 compensation and 200 元 refund paid, resolved Wed 25 10:00,
  rated 2 by the survey, reviewed and archived (closed) Thu 26;
- B, Mon 23 11:00: an enterprise's logistics inquiry by phone, no product, paused Tue 10:00 →
  Thu 10:00, resolved Fri 27 13:00 (not closed);
- C, Tue 24: mentions 12315 (三级), withdrawn Wed 25;
- D, Wed 25: a dealer's after-sales complaint by app, customer fault (root cause 用户自行拆机),
  invalid the same day;
- E, Thu 26: A's customer again with the same product (a repeat), its first contact breached
  on the sweep of Sat 28.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.desk import Desk, sweep_all
from tests.support.factories import complaint_body, mobile
from tests.support.flow import Flow
from tests.support.principals import Account, create_user

SH = ZoneInfo("Asia/Shanghai")
SURVEY = "/api/v1/public/survey"


def at(day: str, clock: str) -> datetime:
    """An Asia/Shanghai wall-clock moment ("2026-11-23", "10:00")."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SH)


@dataclass
class Scenario:
    refs: dict[str, str]
    handler: Account
    handler_logistics: Account
    manager_quality: Account
    director: Account
    phones: list[str]


class Clocked:
    """Acts on one complaint at a given moment (the desk's clock)."""

    def __init__(self, desk: Desk, complaint: dict[str, Any]) -> None:
        self.desk = desk
        self.flow = Flow(desk.client, complaint)

    async def act(
        self, when: datetime, action: str, who: dict[str, str], body: dict[str, Any] | None = None
    ) -> None:
        self.desk.now = when
        await self.flow.act(action, who, body)


async def _register(desk: Desk, when: datetime, **body: Any) -> Clocked:
    if "product" not in body:  # the company's one product model
        body["product"] = complaint_body()["product"] | {"model": "KX-200"}
    return Clocked(desk, await desk.register(when, **body))


async def build_scenario(desk: Desk) -> Scenario:
    admin = desk.admin
    handler = await create_user(desk.client, admin, role="handler", department="quality", name="hq")
    logistics = await create_user(
        desk.client, admin, role="handler", department="logistics", name="hl"
    )
    manager_quality = await create_user(desk.client, admin, role="manager", department="quality")
    director = await create_user(desk.client, admin, role="director")
    clerk = await create_user(desk.client, admin, role="clerk", department="service")
    manager = desk.manager.headers
    refs: dict[str, str] = {}
    # Every product of this company is a KX-200: several customers about it in a month is its
    # ordinary business, so it has turned the automatic group detection off (rule data,
    # issue 11 §5).
    level_rules = await desk.client.put(
        "/api/v1/rules/level",
        json={"group_window_days": 0},
        headers={**admin, "If-Match": '"0"'},
    )
    assert level_rules.status_code == 200, level_rules.text

    # The previous month: one complaint, October 20.
    m0 = await _register(desk, at("2026-10-20", "10:00"), category="logistics", channel="phone")
    refs["M0"] = m0.flow.complaint["reference"]

    # The previous week (Mon 16 – Sun 22 November): one complaint, left unanswered.
    p = await _register(desk, at("2026-11-17", "10:00"), category="logistics", channel="phone")
    refs["P"] = p.flow.complaint["reference"]
    await sweep_all(desk.db, at("2026-11-19", "12:00"))

    # The week (Mon 23 – Sun 29 November).
    phone_a, phone_b, phone_d = mobile(), mobile(), mobile()
    a = await _register(
        desk,
        at("2026-11-23", "10:00"),
        customer={"name": "王芳", "phone": phone_a, "email": "wang.fang@example.com"},
    )
    refs["A"] = a.flow.complaint["reference"]
    quality = {"department": "quality", "assignee_id": handler.id}
    own = handler.headers
    await a.act(at("2026-11-23", "10:30"), "assign", manager, quality)
    await a.act(at("2026-11-23", "11:00"), "start_investigation", own)
    await a.act(
        at("2026-11-23", "11:30"), "log_contact", own, {"method": "phone", "outcome": "已联系"}
    )
    await a.act(
        at("2026-11-24", "10:00"),
        "record_findings",
        own,
        {"findings": "底座开裂", "responsibility": "company", "fault_department": "quality"},
    )
    await a.act(at("2026-11-24", "10:10"), "record_root_cause", own, {"root_cause": "注塑参数漂移"})
    await a.act(
        at("2026-11-24", "11:00"),
        "propose_solution",
        own,
        {
            "remedies": [
                {"type": "compensation", "amount": "300.00"},
                {"type": "refund", "amount": "200.00"},
            ],
            "description": "退款200元并补偿300元",
        },
    )
    # Seed 000 / 003: compensation and refunds are approved by a manager (issue 11 §5).
    await a.act(at("2026-11-24", "11:05"), "approve_solution", manager_quality.headers, {})
    await a.act(at("2026-11-24", "11:10"), "customer_agrees", own, {"note": "同意"})
    await a.act(at("2026-11-24", "11:20"), "implement_solution", own, {"note": "已付款"})
    await a.act(
        at("2026-11-24", "11:30"),
        "add_corrective_action",
        own,
        {"description": "调整注塑参数", "owner": "质量部", "due_date": "2026-12-31"},
    )
    await a.act(at("2026-11-25", "10:00"), "resolve", own, {"result": "已退款并补偿"})
    token = await a.flow.survey_token(desk.db)
    desk.now = at("2026-11-25", "15:00")
    answered = await desk.client.post(SURVEY, json={"token": token, "score": 2})
    assert answered.status_code == 204, answered.text
    await a.flow.refresh(manager)
    # The sign-off chain (seed 002 §5.3.1.6): the manager reviews (审核), the clerk archives.
    await a.act(at("2026-11-26", "09:30"), "review", manager, {"comment": "同意存档"})
    await a.act(at("2026-11-26", "10:00"), "close", clerk.headers, {"summary": "结案"})

    b = await _register(
        desk,
        at("2026-11-23", "11:00"),
        kind="inquiry",
        category="logistics",
        channel="phone",
        product=None,
        customer={"name": "李雷", "phone": phone_b, "customer_type": "enterprise"},
    )
    refs["B"] = b.flow.complaint["reference"]
    lo = logistics.headers
    await b.act(
        at("2026-11-23", "11:30"),
        "assign",
        manager,
        {"department": "logistics", "assignee_id": logistics.id},
    )
    await b.act(at("2026-11-23", "12:00"), "start_investigation", lo)
    await b.act(
        at("2026-11-23", "12:10"), "log_contact", lo, {"method": "phone", "outcome": "已联系"}
    )
    await b.act(at("2026-11-24", "10:00"), "await_customer", lo, {"reason": "等待客户提供运单"})
    await b.act(at("2026-11-26", "10:00"), "customer_responded", lo, {"summary": "已提供"})
    await b.act(at("2026-11-27", "13:00"), "resolve", lo, {"result": "已为您查明物流延误原因"})

    c = await _register(desk, at("2026-11-24", "10:00"), content="产品漏电，不解决就向12315投诉。")
    refs["C"] = c.flow.complaint["reference"]
    await c.act(at("2026-11-25", "09:30"), "withdraw", director.headers, {"reason": "客户撤诉"})

    d = await _register(
        desk,
        at("2026-11-25", "10:00"),
        category="after_sales_service",
        channel="app",
        customer={"name": "赵敏", "phone": phone_d, "customer_type": "dealer"},
    )
    refs["D"] = d.flow.complaint["reference"]
    await d.act(at("2026-11-25", "10:30"), "assign", manager, quality)
    await d.act(at("2026-11-25", "11:00"), "start_investigation", own)
    await d.act(
        at("2026-11-25", "14:00"),
        "record_findings",
        own,
        {"findings": "自行拆机", "responsibility": "customer"},
    )
    await d.act(at("2026-11-25", "14:30"), "record_root_cause", own, {"root_cause": "用户自行拆机"})
    await d.act(
        at("2026-11-25", "15:00"),
        "mark_invalid",
        own,
        {"explanation": "经核实，损坏系自行拆机所致，感谢您的理解"},
    )

    e = await _register(
        desk,
        at("2026-11-26", "10:00"),
        customer={"name": "王芳", "phone": phone_a},
        product=complaint_body()["product"] | {"model": "KX-200", "order_number": "ORD-REPEAT-1"},
    )
    refs["E"] = e.flow.complaint["reference"]
    await sweep_all(desk.db, at("2026-11-28", "12:00"))
    desk.now = at("2026-11-30", "09:00")
    return Scenario(
        refs, handler, logistics, manager_quality, director, [phone_a, phone_b, phone_d]
    )
