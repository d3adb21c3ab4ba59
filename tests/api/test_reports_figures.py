"""The weekly (投诉周报, seed 002 §3.2) and monthly (客户月投诉统计表, seed 003) reports, figure by
figure, against a known set of complaints (tests/support/report_scenario.py). Every expected
value is worked out by hand below, from the scenario and the SPEC's rules (week Monday–Sunday,
working days 09:00–18:00 Asia/Shanghai, pauses excluded), never from the report code's own
queries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.desk import Desk
from tests.support.report_scenario import Scenario, build_scenario


@pytest.fixture(scope="module")
async def scenario(desk: Desk) -> Scenario:
    return await build_scenario(desk)


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
    # C: "12315" (三级); E: a repeat (二级) whose breached first contact leaves it 二级 (seed
    # 002 §4.3: a breach does not raise the level).
    assert by["level"] == {"1": 3, "2": 1, "3": 1}
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
    # resolution of A, B, D, and P's (level 1, due Fri 20) breached on the 28th: its breach of
    # the 19th no longer raised it to 二级 with a later deadline (seed 002 §4.3); the result
    # told to A and D.
    assert _stages(report) == {
        "acknowledgement": (5, 0),
        "first_contact": (2, 1),
        "investigation": (2, 0),
        "progress_update": (1, 2),
        "resolution": (3, 1),
        "result_to_customer": (2, 0),
    }
    # Unassigned: P's resolution breach joins them (nobody held P).
    assert _handlers(report) == {"hq": (11, 0), "hl": (2, 0), "未分配": (2, 4)}
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
        "unreachable": 0,
        "unrated": 0,
    }
    assert report["repeat_complaints"] == 1
    assert (report["refunds_paid"], report["compensation_paid"]) == ("200.00", "300.00")
    assert report["level3"]["references"] == [r["C"]]  # E stays 二级 after its breach
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
        "level3": (1, 0, None),  # C (E stays 二级: a breach does not raise the level)
        "repeat": (1, 0, None),
        "closed": (1, 0, None),
        "withdrawn": (1, 0, None),
        # 15 met of 19: P's level-1 resolution breached on the 28th too.
        "on_time_rate": (pytest.approx(15 / 19), 0.2, pytest.approx((15 / 19 - 0.2) / 0.2)),
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
    # P stays 一级 after its breach (seed 002 §4.3); E 二级 (a repeat), C 三级.
    assert by["level"] == {"1": 4, "2": 1, "3": 1}
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
        "resolution": (3, 2),  # M0's and P's level-1 resolutions (no raise on a breach)
        "result_to_customer": (2, 0),
    }
    assert _handlers(report) == {"hq": (11, 0), "hl": (2, 0), "未分配": (3, 8)}  # + P's resolution
    assert report["handling_time"]["median_working_days"] == 2.11
    assert [t["received"] for t in report["trend"]] == [0] * 10 + [1, 6]
    assert report["trend"][-1]["period"] == "2026年11月"
    # October: M0 received (一级: a breach does not raise it) and its acknowledgement met.
    headline = _headline(report)
    assert headline["received"] == (6, 1, 5.0)
    assert headline["level3"] == (1, 0, None)  # C alone (E stays 二级)
    # 16 met of 24 settled in November: P's level-1 resolution breached too.
    assert headline["on_time_rate"] == (
        pytest.approx(16 / 24),
        1.0,
        pytest.approx(16 / 24 - 1),
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


async def test_cause_and_responsibility_analysis_by_hand(desk: Desk, scenario: Scenario) -> None:
    """质量分析报告 / 责任分析报告 (seed 004 §7) of November: Pareto, responsibility per
    department, corrective actions."""
    response = await desk.client.get(
        "/api/v1/reports/causes", params={"date": "2026-11-10"}, headers=scenario.director.headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["analysed"]) == (6, 2)
    # Two causes of one complaint each: ties are ranked by name; both within 80 %.
    assert [
        (p["cause"], p["count"], p["share"], p["cumulative_share"], p["main"])
        for p in report["pareto"]
    ] == [("注塑参数漂移", 1, 0.5, 0.5, True), ("用户自行拆机", 1, 0.5, 1.0, True)]
    assert _by(report["cause_class"]) == {"unclassified": 6}
    responsibility = {
        r["department"]: (_by(r["counts"]), r["total"])
        for r in report["responsibility_by_department"]
    }
    # A's fault is quality's (fault_department); D routed to quality, the customer's fault.
    assert responsibility == {
        "quality": ({"company": 1, "customer": 1, "undetermined": 2}, 4),
        "logistics": ({"undetermined": 2}, 2),
    }
    assert [(c["category"], c["cause"], c["count"]) for c in report["causes_by_category"]] == [
        ("after_sales_service", "用户自行拆机", 1),
        ("product_quality", "注塑参数漂移", 1),
    ]
    assert report["corrective_actions"] == {
        "total": 1,
        "open": 1,
        "overdue": 0,  # due 31 December; the report is made on 30 November
        "done_unverified": 0,
        "verified_effective": 0,
        "not_effective": 0,
    }


async def test_customer_expectation_analysis_by_hand(desk: Desk, scenario: Scenario) -> None:
    """客户期望分析报告 (seed 003 §5.7) of November: asked against given, satisfaction by
    outcome, repeat customers (受理号 only)."""
    r = scenario.refs
    response = await desk.client.get(
        "/api/v1/reports/expectations", params={"date": "2026-11-10"}, headers=desk.admin
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["received"] == 6
    # Everyone asked for a refund; A was given a refund and compensation.
    assert [
        (w["category"], w["resolution"], w["asked"], w["given"], w["asked_and_given"])
        for w in report["wishes"]
    ] == [
        ("after_sales_service", "refund", 1, 0, 0),
        ("logistics", "refund", 2, 0, 0),
        ("product_quality", "compensation", 0, 1, 0),
        ("product_quality", "refund", 3, 1, 1),
    ]
    outcomes = {
        o["outcome"]: (o["complaints"], _by(o["satisfaction"]), o["average"])
        for o in report["outcomes"]
    }
    none = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0, "unrated": 0}
    # A as asked, rated 2; B (answered) and D (invalid) without a solution, unrated; C
    # withdrawn, P and E still open: no outcome yet.
    assert outcomes == {
        "as_asked": (1, none | {"2": 1}, 2.0),
        "partly": (0, none, None),
        "otherwise": (0, none, None),
        "no_solution": (2, none | {"unrated": 2}, None),
    }
    assert report["repeat_customers"] == [{"complaints": 2, "references": sorted([r["A"], r["E"]])}]
