"""A complaint taken from registration to the result through the API, with something for the
customer at every step (a progress reply, the solution, the result) and internal notes beside
them that must never reach the customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.factories import complaint_body
from tests.support.flow import Flow
from tests.support.principals import Account

# What the customer is told at each step, and what staff write for each other only.
PROGRESS = "质量部已收到样品，正在检测"
SOLUTION = "为您免费更换同型号新品"
RESULT = "新品已寄出，请注意查收"
INTERNAL = (
    "底座绝缘层破损，疑似注塑批次问题",  # findings
    "内部备注：该批次另有两起类似投诉",  # an internal note
    "客户电话中同意，录音编号R-778",  # the customer's agreement, as noted by staff
    "已从3号仓发出，运单SF1234567",  # the implementation note
)


@dataclass
class Resolved:
    flow: Flow
    reference: str


async def resolve_through_api(
    client: httpx.AsyncClient,
    *,
    registrar: dict[str, str],
    manager: dict[str, str],
    handler: Account,
    **body: Any,
) -> Resolved:
    created = await client.post(
        "/api/v1/complaints", json=complaint_body(**body), headers=registrar
    )
    assert created.status_code == 201, created.text
    flow = Flow(client, created.json())
    findings, note, agreed, implemented = INTERNAL
    own = handler.headers
    await flow.act("assign", manager, {"department": "quality", "assignee_id": handler.id})
    await flow.act("start_investigation", own, {})
    await flow.act("reply_to_customer", own, {"text": PROGRESS})
    await flow.act(
        "record_findings",
        own,
        {"findings": findings, "responsibility": "company", "fault_department": "quality"},
    )
    await flow.act("add_note", own, {"text": note})
    await flow.act(
        "propose_solution", own, {"remedies": [{"type": "replacement"}], "description": SOLUTION}
    )
    await flow.act("approve_solution", manager, {})  # 换货: a manager approves (seed 000)
    await flow.act("customer_agrees", own, {"note": agreed})
    await flow.act("implement_solution", own, {"note": implemented})
    await flow.act("resolve", own, {"result": RESULT})
    assert flow.status == "resolved"
    return Resolved(flow, str(created.json()["reference"]))
