"""Times in +08:00 everywhere (SPEC: stored in UTC, shown in Asia/Shanghai): every time in every
answer the staff API gives, nested records, event payloads and ops status included, walked
after a complaint went through the steps that stamp times."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx

from tests.conftest import Staff
from tests.support.flow import Flow, register

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _times(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str) and TIME.match(value):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _times(item, f"{where}[{i}]")


async def _through_the_lifecycle(anon: httpx.AsyncClient, staff: Staff) -> Flow:
    """A regulator case with findings, an approved and implemented solution, a corrective
    action and the regulator's reply: every nested record that carries a time."""
    handler = staff.handler_quality.headers
    flow = await register(
        anon,
        staff.agent.headers,
        channel="regulator",
        channel_meta={"regulator": "12315", "regulator_case_number": "SH-2026-001"},
    )
    # A regulator case is level 3 (三级投诉): a director assigns it.
    assignment = {"department": "quality", "assignee_id": staff.handler_quality.id}
    await flow.act("assign", staff.director.headers, assignment)
    await flow.act("start_investigation", handler, {})
    await flow.act("log_contact", handler, {"method": "phone", "outcome": "已联系客户"})
    await flow.act("record_findings", handler, {"findings": "漏水", "responsibility": "company"})
    await flow.act(
        "add_corrective_action",
        handler,
        {"description": "来料全检", "owner": "质量部 王工", "due_date": "2026-12-31"},
    )
    await flow.act(
        "propose_solution",
        handler,
        {"remedies": [{"type": "compensation", "amount": "900.00"}], "description": "赔偿900元"},
    )
    approver = staff.director.headers
    await flow.act("approve_solution", approver, {"comment": "同意"})
    await flow.act("customer_agrees", handler, {})
    await flow.act("implement_solution", handler, {"note": "已转账"})
    await flow.act(
        "regulator_reply",
        staff.director.headers,
        {"replied_at": "2026-01-05T02:00:00Z", "content": "已与消费者协商一致"},
    )
    await flow.act("resolve", handler, {"result": "赔偿款已到账"})
    # The 回访 (seed 002 §5.3.1.6) and the sign-off (审核) stamp their times too.
    await flow.act("log_followup_attempt", staff.clerk.headers, {"note": "电话无人接听"})
    await flow.act("record_satisfaction", staff.clerk.headers, {"score": 1})
    await flow.act("record_root_cause", handler, {"root_cause": "密封圈来料尺寸超差"})
    await flow.act("review", staff.director.headers, {"comment": "同意存档"})
    return flow


async def test_every_time_in_the_answers_is_in_shanghai_time(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    flow = await _through_the_lifecycle(anon, staff)
    complaint = f"/api/v1/complaints/{flow.id}"
    reads = {
        complaint: staff.director.headers,
        f"{complaint}/events": staff.director.headers,
        f"{complaint}/deadlines": staff.director.headers,
        "/api/v1/complaints": staff.director.headers,
        "/api/v1/audit-events": admin_headers,
        "/api/v1/outbox": admin_headers,
        "/api/v1/webhook-deliveries": admin_headers,
        "/api/v1/ops/status": admin_headers,
        "/api/v1/users": admin_headers,
        "/api/v1/departments": admin_headers,
        "/api/v1/api-keys": admin_headers,
        "/api/v1/webhook-subscriptions": admin_headers,
        "/api/v1/notification-templates": admin_headers,
        "/api/v1/calendars": admin_headers,
        "/api/v1/calendars/default": admin_headers,
        "/api/v1/sla-policies": admin_headers,
        "/api/v1/rules": admin_headers,
        "/api/v1/staff": admin_headers,
    }
    seen: dict[str, str] = {}
    for path, headers in reads.items():
        response = await anon.get(path, params=_params(path), headers=headers)
        assert response.status_code == 200, (path, response.text)
        for where, value in _times(response.json()):
            seen[f"{path}{where}"] = value
    wrong = {where: value for where, value in seen.items() if not value.endswith("+08:00")}
    assert wrong == {}
    # The walk met the nested records the complaint carries.
    shown = "\n".join(seen)
    for record in (
        ".solution.proposed_at",
        ".solution.approvals[0].at",
        ".solution.implemented_at",
        ".corrective_actions[0].created_at",
        ".investigation.recorded_at",
        ".regulator_reply.replied_at",
        ".review.at",
        ".followup.attempts[0].attempted_at",
    ):
        assert record in shown, record
    assert seen[f"{complaint}.regulator_reply.replied_at"] == "2026-01-05T10:00:00+08:00"


def _params(path: str) -> dict[str, Any]:
    return {"limit": 200} if not path.endswith(("default", "status")) else {}
