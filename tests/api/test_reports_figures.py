"""The weekly (投诉周报, seed 002 §3.2) and monthly (客户月投诉统计表, seed 003) reports, figure by
figure, against a known set of complaints taken through their lifecycle over the API with a
controlled clock. Every expected value is worked out by hand below, from the scenario and the
SPEC's rules (week Monday–Sunday, working days 09:00–18:00 Asia/Shanghai, pauses excluded),
never from the report code's own queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

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
    return Clocked(desk, await desk.register(when, **body))


@pytest.fixture(scope="module")
async def scenario(desk: Desk) -> Scenario:
    admin = desk.admin
    handler = await create_user(desk.client, admin, role="handler", department="quality", name="hq")
    logistics = await create_user(
        desk.client, admin, role="handler", department="logistics", name="hl"
    )
    manager_quality = await create_user(desk.client, admin, role="manager", department="quality")
    director = await create_user(desk.client, admin, role="director")
    manager = desk.manager.headers
    refs: dict[str, str] = {}

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
    await a.act(at("2026-11-26", "10:00"), "close", manager, {"summary": "结案"})

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
        product=complaint_body()["product"] | {"order_number": "ORD-REPEAT-1"},
    )
    refs["E"] = e.flow.complaint["reference"]
    await sweep_all(desk.db, at("2026-11-28", "12:00"))
    desk.now = at("2026-11-30", "09:00")
    return Scenario(refs, handler, logistics, manager_quality, [phone_a, phone_b, phone_d])


async def _report(desk: Desk, kind: str, day: str, who: dict[str, str]) -> dict[str, Any]:
    response = await desk.client.get(f"/api/v1/reports/{kind}", params={"date": day}, headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _by(counts: list[dict[str, Any]]) -> dict[str, int]:
    return {c["key"]: c["count"] for c in counts}


def _headline(report: dict[str, Any]) -> dict[str, tuple[float, float, float | None]]:
    return {h["key"]: (h["value"], h["previous"], h["change"]) for h in report["headline"]}


def _stages(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {s["stage"]: (s["met"], s["breached"]) for s in report["on_time_by_stage"]}


def _handlers(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {h["handler"]: (h["met"], h["breached"]) for h in report["on_time_by_handler"]}


async def test_weekly_report_figures_by_hand(desk: Desk, scenario: Scenario) -> None:
    """投诉周报 (seed 002 §3.2) of Mon 23 – Sun 29 November 2026, every figure."""
    r = scenario.refs
    report = await _report(desk, "weekly", "2026-11-25", desk.manager.headers)
    assert (report["period_start"], report["period_end"]) == ("2026-11-23", "2026-11-29")
    assert report["title"] == "投诉周报"
    assert report["received"] == 5  # A, B, C, D, E
    by = {d: _by(c) for d, c in report["received_by"].items()}
    assert by["kind"] == {"complaint": 4, "inquiry": 1}
    assert by["category"] == {"product_quality": 3, "logistics": 1, "after_sales_service": 1}
    assert by["subcategory"] == {"": 5}
    assert by["channel"] == {"web": 3, "phone": 1, "app": 1}
    # C: "12315" (三级); E: a repeat (二级) whose first contact was then breached (三级).
    assert by["level"] == {"1": 3, "3": 2}
    assert by["department"] == {"quality": 4, "logistics": 1}
    assert by["product_model"] == {"KX-200": 4, "": 1}
    assert by["customer_type"] == {"consumer": 3, "enterprise": 1, "dealer": 1}
    assert (report["valid"], report["invalid"]) == (4, 1)
    assert _by(report["responsibility"]) == {"company": 1, "customer": 1, "undetermined": 3}
    assert report["closed"]["references"] == [r["A"]]
    assert report["withdrawn"]["references"] == [r["C"]]
    # Open when the report was made (30 November): M0 and P never answered, B resolved but not
    # closed, E; overdue: those with a breached deadline.
    assert report["still_open"]["references"] == sorted([r["M0"], r["P"], r["B"], r["E"]])
    assert report["overdue"]["references"] == sorted([r["M0"], r["P"], r["E"]])
    # Settled in the week: acknowledgements of A–E at registration; first contact of A (call)
    # and D (the invalid decision), E's breached on the 28th; investigations of A and D;
    # A's progress update met by the call, M0's second and P's first breached on the 28th;
    # resolution of A, B, D; the result told to A and D.
    assert _stages(report) == {
        "acknowledgement": (5, 0),
        "first_contact": (2, 1),
        "investigation": (2, 0),
        "progress_update": (1, 2),
        "resolution": (3, 0),
        "result_to_customer": (2, 0),
    }
    assert _handlers(report) == {"hq": (11, 0), "hl": (2, 0), "未分配": (2, 3)}
    # A: Mon 10:00 → Wed 10:00 = 2 working days. B: Mon 11:00 → Fri 13:00 = 4 days 2 hours,
    # less the pause Tue 10:00 → Thu 10:00 (2 days): 2 2/9 days. Median 2.11, p90 2.2.
    assert report["handling_time"] == {
        "resolved": 2,
        "median_working_days": 2.11,
        "p90_working_days": 2.2,
    }
    assert _by(report["satisfaction"]) == {
        "1": 0,
        "2": 1,
        "3": 0,
        "4": 0,
        "5": 0,
        "unrated": 0,
    }
    assert report["repeat_complaints"] == 1
    assert (report["refunds_paid"], report["compensation_paid"]) == ("200.00", "300.00")
    assert report["level3"]["references"] == sorted([r["C"], r["E"]])
    assert report["management_review"] == {"count": 0, "references": [], "truncated": False}
    # Eight weeks back: M0 in the week of 19 October, P in the previous week, five now.
    assert [t["received"] for t in report["trend"]] == [0, 0, 1, 0, 0, 0, 1, 5]
    assert report["trend"][0]["start"] == "2026-10-05"
    # Against the previous week: P received; P's acknowledgement met, and P's first contact
    # and M0's first contact, progress update and resolution breached on the 19th (1 of 5).
    assert _headline(report) == {
        "received": (5, 1, 4.0),
        "valid": (4, 1, 3.0),
        "invalid": (1, 0, None),
        "level3": (2, 0, None),
        "repeat": (1, 0, None),
        "closed": (1, 0, None),
        "withdrawn": (1, 0, None),
        "on_time_rate": (pytest.approx(15 / 18), 0.2, pytest.approx((15 / 18 - 0.2) / 0.2)),
        "median_days": (2.11, 0, None),
        "compensation": (300, 0, None),
        "refunds": (200, 0, None),
    }


async def test_monthly_report_figures_by_hand(desk: Desk, scenario: Scenario) -> None:
    """客户月投诉统计表 (seed 003) of November 2026 against October, every figure."""
    r = scenario.refs
    report = await _report(desk, "monthly", "2026-11-01", desk.manager.headers)
    assert (report["period_start"], report["period_end"]) == ("2026-11-01", "2026-11-30")
    assert report["title"] == "客户月投诉统计表"
    assert report["received"] == 6  # P and A–E
    by = {d: _by(c) for d, c in report["received_by"].items()}
    assert by["kind"] == {"complaint": 5, "inquiry": 1}
    assert by["category"] == {"product_quality": 3, "logistics": 2, "after_sales_service": 1}
    assert by["channel"] == {"web": 3, "phone": 2, "app": 1}
    assert by["level"] == {"1": 3, "2": 1, "3": 2}  # P rose to 二级 on its breach
    assert by["department"] == {"quality": 4, "logistics": 2}
    assert by["product_model"] == {"KX-200": 5, "": 1}
    assert by["customer_type"] == {"consumer": 4, "enterprise": 1, "dealer": 1}
    assert (report["valid"], report["invalid"]) == (5, 1)
    assert _by(report["responsibility"]) == {"company": 1, "customer": 1, "undetermined": 4}
    assert report["closed"]["references"] == [r["A"]]
    assert report["withdrawn"]["references"] == [r["C"]]
    assert report["still_open"]["count"] == 4
    assert report["overdue"]["references"] == sorted([r["M0"], r["P"], r["E"]])
    assert _stages(report) == {
        "acknowledgement": (6, 0),
        "first_contact": (2, 3),
        "investigation": (2, 0),
        "progress_update": (1, 3),
        "resolution": (3, 1),
        "result_to_customer": (2, 0),
    }
    assert _handlers(report) == {"hq": (11, 0), "hl": (2, 0), "未分配": (3, 7)}
    assert report["handling_time"]["median_working_days"] == 2.11
    assert [t["received"] for t in report["trend"]] == [0] * 10 + [1, 6]
    assert report["trend"][-1]["period"] == "2026年11月"
    # October: M0 received (二级 since its breach) and its acknowledgement met.
    headline = _headline(report)
    assert headline["received"] == (6, 1, 5.0)
    assert headline["level3"] == (2, 0, None)
    assert headline["on_time_rate"] == (
        pytest.approx(16 / 23),
        1.0,
        pytest.approx(16 / 23 - 1),
    )
    assert headline["compensation"] == (300, 0, None)


async def test_a_department_manager_reads_their_department_only(
    desk: Desk, scenario: Scenario
) -> None:
    """SPEC §6: managers read their department's reports (all of them if company-wide)."""
    own = scenario.manager_quality.headers
    report = await _report(desk, "weekly", "2026-11-25", own)
    assert report["department"] == "quality"
    assert report["received"] == 4  # A, C, D, E: B went to logistics
    refused = await desk.client.get(
        "/api/v1/reports/weekly", params={"department": "logistics"}, headers=own
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    for who in (scenario.handler.headers, desk.integration):
        response = await desk.client.get("/api/v1/reports/monthly", headers=who)
        assert response.status_code == 403, response.text


async def test_reports_hold_no_customer_data(desk: Desk, scenario: Scenario) -> None:
    """SPEC §6: aggregates and 受理号 only, whatever the reader's role."""
    for fmt in ("json", "csv", "html"):
        response = await desk.client.get(
            "/api/v1/reports/monthly",
            params={"date": "2026-11-01", "format": fmt},
            headers=desk.admin,
        )
        assert response.status_code == 200
        for secret in ("王芳", "李雷", "赵敏", "wang.fang@example.com", *scenario.phones):
            assert secret not in response.text, (fmt, secret)
