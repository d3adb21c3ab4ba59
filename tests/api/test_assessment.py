"""The assessment ledger (考核台账, seed 002 §5.4) through the API and the SLA worker's sweep:
automatic entries for a first contact missed (§5.4.1.1) and a 结案 without the 回访 (§5.4.1.3),
managers' entries for procedure violations (§5.4.1.2), voids with a reason (audited), who sees
what, the monthly statement per handler and per department, and the amounts as rule data."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests.support.desk import Desk, sweep_all
from tests.support.flow import Flow
from tests.support.principals import Account, create_user

SH = ZoneInfo("Asia/Shanghai")
ENTRIES = "/api/v1/assessment/entries"
STATEMENT = "/api/v1/assessment/statement"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SH)


@dataclass
class Team:
    handler: Account  # quality
    handler_logistics: Account
    agent: Account  # service
    manager_quality: Account
    refs: dict[str, str]


async def _act(
    desk: Desk,
    flow: Flow,
    when: datetime,
    action: str,
    who: Account | dict[str, str],
    body: dict[str, Any] | None = None,
) -> None:
    desk.now = when
    await flow.act(action, who.headers if isinstance(who, Account) else who, body)


@pytest.fixture(scope="module")
async def team(desk: Desk) -> Team:
    admin = desk.admin
    handler = await create_user(desk.client, admin, role="handler", department="quality", name="hq")
    logistics = await create_user(
        desk.client, admin, role="handler", department="logistics", name="hl"
    )
    agent = await create_user(desk.client, admin, role="agent", department="service", name="ag")
    manager_quality = await create_user(desk.client, admin, role="manager", department="quality")
    refs: dict[str, str] = {}
    manager = desk.manager.headers
    # §5.4.1.3 can only happen where the closure rules let a case be archived without the
    # 回访 (by default they refuse it): this desk's company lets managers archive directly.
    closure = await desk.client.put(
        "/api/v1/rules/closure",
        json={
            "require_satisfaction": False,
            "require_review": False,
            "archivist_roles": ["clerk", "manager"],
        },
        headers=admin,
    )
    assert closure.status_code == 200, closure.text
    quality = {"department": "quality", "assignee_id": handler.id}

    # X: assigned to hq, never contacted: its first contact is breached on the sweep.
    x = Flow(desk.client, await desk.register(at("2026-11-23", "10:00")))
    refs["X"] = x.complaint["reference"]
    await _act(desk, x, at("2026-11-23", "10:30"), "assign", manager, quality)
    # Y: registered by the agent (受理人) and never assigned: the breach is the agent's.
    desk.now = at("2026-11-23", "10:00")
    created = await desk.client.post(
        "/api/v1/complaints",
        json={
            "channel": "phone",
            "category": "logistics",
            "customer": {"name": "李雷", "phone": "13912345678"},
            "content": "快递三天未送达",
        },
        headers=agent.headers,
    )
    assert created.status_code == 201, created.text
    refs["Y"] = created.json()["reference"]
    # First contact is due within 1 working day (seed 002 §5.1.1): Tuesday 18:00.
    await sweep_all(desk.db, at("2026-11-24", "18:30"))
    await sweep_all(desk.db, at("2026-11-24", "18:35"))  # nothing twice

    # Z: handled by hq, answered, resolved and closed with no satisfaction recorded.
    z = Flow(desk.client, await desk.register(at("2026-11-25", "10:00")))
    refs["Z"] = z.complaint["reference"]
    await _act(desk, z, at("2026-11-25", "10:10"), "assign", manager, quality)
    await _act(desk, z, at("2026-11-25", "10:20"), "start_investigation", handler)
    contact = {"method": "phone", "outcome": "已联系"}
    await _act(desk, z, at("2026-11-25", "10:30"), "log_contact", handler, contact)
    await _act(desk, z, at("2026-11-25", "11:00"), "resolve", handler, {"result": "已处理"})
    await _act(desk, z, at("2026-11-26", "10:00"), "close", manager, {"summary": "结案"})

    # W: an inquiry answered and closed the same way: inquiries owe no 回访 by default.
    w = Flow(desk.client, await desk.register(at("2026-11-25", "10:00"), kind="inquiry"))
    await _act(desk, w, at("2026-11-25", "10:10"), "assign", manager, quality)
    await _act(desk, w, at("2026-11-25", "10:20"), "start_investigation", handler)
    await _act(desk, w, at("2026-11-25", "10:30"), "log_contact", handler, contact)
    await _act(desk, w, at("2026-11-25", "11:00"), "resolve", handler, {"result": "已答复"})
    await _act(desk, w, at("2026-11-26", "10:00"), "close", manager, {"summary": "结案"})
    desk.now = at("2026-11-27", "09:00")
    return Team(handler, logistics, agent, manager_quality, refs)


async def _entries(desk: Desk, who: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await desk.client.get(ENTRIES, params={"month": "2026-11", **params}, headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_automatic_entries_seed_002_5_4_1_1_and_5_4_1_3(desk: Desk, team: Team) -> None:
    """§5.4.1.1: 30 元 for each first contact missed, against whoever held the case (the
    registering agent when no one was assigned); §5.4.1.3: 50 元 for a complaint closed with no
    satisfaction; none for the inquiry; none twice for a breach swept twice."""
    page = await _entries(desk, desk.manager.headers, count="true")
    got = sorted((e["reference"], e["rule"], e["amount"], e["handler"]) for e in page["items"])
    assert got == sorted(
        [
            (team.refs["X"], "first_contact_missed", "30.00", "hq"),
            (team.refs["Y"], "first_contact_missed", "30.00", "ag"),
            (team.refs["Z"], "survey_not_done", "50.00", "hq"),
        ]
    )
    assert page["total"] == 3
    assert page["next_cursor"] is None
    assert {e["source"] for e in page["items"]} == {"automatic"}
    first = next(e for e in page["items"] if e["reference"] == team.refs["Y"])
    assert first["department"] == "service"
    assert first["rule_label"] == "未在1个工作日内应诉"


async def test_manual_entry_void_and_who_sees_what(desk: Desk, team: Team) -> None:
    """§5.4.1.2: a manager enters 30–100 元 for a procedure violation and voids it with a
    reason (audited); handlers see their own entries only."""
    mq = team.manager_quality.headers
    body = {"handler_id": team.handler.id, "reference": team.refs["Z"], "reason": "未按指引核实"}
    too_much = await desk.client.post(ENTRIES, json={**body, "amount": "150.00"}, headers=mq)
    assert too_much.status_code == 422, too_much.text
    other = await desk.client.post(
        ENTRIES, json={**body, "handler_id": team.handler_logistics.id}, headers=mq
    )
    assert other.status_code == 404  # not a handler of the manager's department
    by_handler = await desk.client.post(ENTRIES, json=body, headers=team.handler.headers)
    assert by_handler.status_code == 403
    added = await desk.client.post(ENTRIES, json={**body, "amount": "80.00"}, headers=mq)
    assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["rule"], entry["amount"], entry["source"]) == (
        "procedure_violation",
        "80.00",
        "manual",
    )

    own = await _entries(desk, team.handler.headers)
    assert {e["handler"] for e in own["items"]} == {"hq"}
    assert len(own["items"]) == 3  # X, Z and the manual one
    peek = await desk.client.get(
        ENTRIES, params={"handler_id": team.agent.id}, headers=team.handler.headers
    )
    assert peek.status_code == 403
    # A page of one, then the next one by the cursor.
    first = await _entries(desk, team.handler.headers, limit=1)
    assert first["next_cursor"] is not None
    second = await _entries(desk, team.handler.headers, limit=1, cursor=first["next_cursor"])
    assert second["items"][0]["id"] < first["items"][0]["id"]

    void = f"{ENTRIES}/{entry['id']}/void"
    voided = await desk.client.post(void, json={"reason": "经复核系系统故障"}, headers=mq)
    assert voided.status_code == 200, voided.text
    assert voided.json()["void_reason"] == "经复核系系统故障"
    again = await desk.client.post(void, json={"reason": "重复"}, headers=mq)
    assert again.status_code == 409
    audit = await desk.client.get(
        "/api/v1/audit-events",
        params={"action": "assessment.entry_voided", "target_id": str(entry["id"])},
        headers=desk.admin,
    )
    assert audit.status_code == 200
    assert audit.json()["items"][0]["details"]["reason"] == "经复核系系统故障"


async def test_monthly_statement_per_handler_and_department(desk: Desk, team: Team) -> None:
    """The month's entries in force (voided ones left out), per handler and department."""
    response = await desk.client.get(
        "/api/v1/assessment/statement", params={"month": "2026-11"}, headers=desk.manager.headers
    )
    assert response.status_code == 200, response.text
    statement = response.json()
    handlers = {h["handler"]: (h["entries"], h["amount"]) for h in statement["handlers"]}
    assert handlers["ag"] == (1, "30.00")  # Y's first contact
    # hq: X's first contact (30) and Z's survey (50), and any manual entry still in force.
    page = await _entries(desk, desk.manager.headers, handler_id=team.handler.id)
    manual = [e for e in page["items"] if e["source"] == "manual" and e["voided_at"] is None]
    extra = sum(float(e["amount"]) for e in manual)
    assert handlers["hq"][0] == 2 + len(manual)
    assert float(handlers["hq"][1]) == 80 + extra
    departments = {d["department"]: d["amount"] for d in statement["departments"]}
    assert departments["service"] == "30.00"
    assert float(departments["quality"]) == 80 + extra
    assert float(statement["amount"]) == 110 + extra
    own_department = await desk.client.get(
        "/api/v1/assessment/statement",
        params={"month": "2026-11"},
        headers=team.manager_quality.headers,
    )
    assert {h["handler"] for h in own_department.json()["handlers"]} == {"hq"}
    december = await desk.client.get(
        "/api/v1/assessment/statement", params={"month": "2026-12"}, headers=desk.manager.headers
    )
    assert december.json()["entries"] == 0


@pytest.fixture(scope="module")
async def october(desk: Desk, team: Team) -> None:
    """October's ledger, known by hand: managers' entries (§5.4.1.2) — hq 80 + 30 元, hl 100
    元, and ag 60 元 voided (left out of the statement)."""
    desk.now = at("2026-10-15", "10:00")
    mq, manager = team.manager_quality.headers, desk.manager.headers
    for who, handler, amount in (
        (mq, team.handler, "80.00"),
        (mq, team.handler, "30.00"),
        (manager, team.handler_logistics, "100.00"),
        (manager, team.agent, "60.00"),
    ):
        body = {"handler_id": handler.id, "amount": amount, "reason": "未按指引操作"}
        added = await desk.client.post(ENTRIES, json=body, headers=who)
        assert added.status_code == 201, added.text
    voided = await desk.client.post(
        f"{ENTRIES}/{added.json()['id']}/void", json={"reason": "复核后作废"}, headers=manager
    )
    assert voided.status_code == 200, voided.text
    desk.now = at("2026-11-27", "09:00")


def _rows(sheet: Any) -> list[list[Any]]:
    return [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]


async def test_monthly_statement_as_an_excel_workbook(
    desk: Desk, team: Team, october: None
) -> None:
    """Issue 12's monthly statement per handler and per department (seed 002 §5.4) as Excel:
    Chinese sheets and headers, the header row frozen, counts and 元 formatted, a total row,
    a Chinese file name; voided entries left out."""
    response = await desk.client.get(
        STATEMENT, params={"month": "2026-10", "format": "xlsx"}, headers=desk.manager.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "月度考核表_2026-10.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["处理人汇总", "部门汇总"]
    handlers = book["处理人汇总"]
    assert handlers["A1"].value == "月度考核表"
    assert handlers["A2"].value.startswith("2026年10月 · 全公司 · 生成于 ")
    assert handlers.freeze_panes == "A4"
    assert [c.value for c in handlers[3]] == [
        "处理人",
        "部门",
        "未在1个工作日内应诉（条）",
        "未在1个工作日内应诉（元）",
        "未按受理权责及业务指引操作（条）",
        "未按受理权责及业务指引操作（元）",
        "处理完毕后未做满意度回访（条）",
        "处理完毕后未做满意度回访（元）",
        "合计（条）",
        "合计（元）",
    ]
    assert sorted(_rows(handlers)[:-1]) == [
        ["hl", "logistics", 0, 0, 1, 100, 0, 0, 1, 100],
        ["hq", "quality", 0, 0, 2, 110, 0, 0, 2, 110],
    ]
    assert _rows(handlers)[-1] == ["合计", None, 0, 0, 3, 210, 0, 0, 3, 210]
    hq = next(row for row in handlers.iter_rows(min_row=4) if row[0].value == "hq")
    assert hq[4].number_format == "#,##0"
    assert hq[5].number_format == "#,##0.00"
    assert hq[9].number_format == "#,##0.00"
    departments = book["部门汇总"]
    assert departments.freeze_panes == "A4"
    assert [c.value for c in departments[3]] == ["部门", "处理人数", "条数", "金额（元）"]
    assert sorted(_rows(departments)[:-1]) == [["logistics", 1, 1, 100], ["quality", 1, 2, 110]]
    assert _rows(departments)[-1] == ["合计", 2, 3, 210]
    assert departments["D4"].number_format == "#,##0.00"


async def test_monthly_statement_as_csv_and_handlers_see_their_own_line(
    desk: Desk, team: Team, october: None
) -> None:
    """CSV by `Accept` (UTF-8 with a BOM); a handler's workbook holds their own line only
    (issue 12: a handler sees their own entries), a department manager's their department."""
    response = await desk.client.get(
        STATEMENT,
        params={"month": "2026-10"},
        headers={**desk.manager.headers, "Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8-sig")
    assert "【处理人汇总】" in text
    assert "【部门汇总】" in text
    assert "hq,quality,0,0.0,2,110.0,0,0.0,2,110.0" in text
    assert "合计,2,3,210.0" in text
    assert unquote(response.headers["content-disposition"]).endswith("月度考核表_2026-10.csv")

    own = await desk.client.get(
        STATEMENT, params={"month": "2026-10"}, headers={**team.handler.headers, "Accept": XLSX}
    )
    assert own.status_code == 200, own.text
    book = openpyxl.load_workbook(io.BytesIO(own.content))
    assert book["处理人汇总"]["A2"].value.startswith("2026年10月 · 处理人：hq · ")
    assert [r[0] for r in _rows(book["处理人汇总"])] == ["hq", "合计"]
    assert [r[0] for r in _rows(book["部门汇总"])] == ["quality", "合计"]
    theirs = await desk.client.get(
        STATEMENT,
        params={"month": "2026-10", "format": "xlsx"},
        headers=team.handler_logistics.headers,
    )
    book = openpyxl.load_workbook(io.BytesIO(theirs.content))
    assert [r[0] for r in _rows(book["处理人汇总"])] == ["hl", "合计"]
    department = await desk.client.get(
        STATEMENT,
        params={"month": "2026-10", "format": "xlsx"},
        headers=team.manager_quality.headers,
    )
    book = openpyxl.load_workbook(io.BytesIO(department.content))
    assert [r[0] for r in _rows(book["处理人汇总"])] == ["hq", "合计"]
    page = await desk.client.get(
        STATEMENT, params={"month": "2026-10", "format": "html"}, headers=desk.manager.headers
    )
    assert page.headers["content-type"].startswith("text/html")
    assert "<h2>处理人汇总</h2>" in page.text
    bad = await desk.client.get(
        STATEMENT, params={"month": "2026-10", "format": "pdf"}, headers=desk.manager.headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_amounts_are_rule_data(desk: Desk, team: Team) -> None:
    """Seed 002 §5.4.1.1's 30 元 is a default: an admin's rule set changes later entries."""
    rules = await desk.client.put(
        "/api/v1/rules/assessment",
        json={"first_contact_missed": "45.00", "survey_not_done": "60.00"},
        headers=desk.admin,
    )
    assert rules.status_code == 200, rules.text
    desk.app.state.collab.caches.rules.invalidate()
    v = Flow(desk.client, await desk.register(at("2026-11-27", "10:00")))
    desk.now = at("2026-11-27", "10:05")
    await v.act("assign", desk.manager.headers, {"assignee_id": team.handler.id})
    # Registered Friday: first contact due at the end of Monday, 1 working day (seed 002 §5.1.1).
    await sweep_all(desk.db, at("2026-11-30", "18:30"))
    page = await _entries(desk, desk.manager.headers, handler_id=team.handler.id)
    mine = [e for e in page["items"] if e["reference"] == v.complaint["reference"]]
    assert [(e["rule"], e["amount"]) for e in mine] == [("first_contact_missed", "45.00")]
