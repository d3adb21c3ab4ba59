"""Driving a complaint through its lifecycle over HTTP, as front-ends do (GET for the ETag, then
the action with If-Match), and reading what the customer was sent."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import text

from shared.db import complaints as repo
from shared.db.engine import Database
from shared.domain.events import replay
from tests.support.factories import complaint_body

if TYPE_CHECKING:
    from tests.conftest import Staff


class Flow:
    def __init__(self, client: httpx.AsyncClient, complaint: dict[str, Any]) -> None:
        self.client = client
        self.id = complaint["id"]
        self.version = complaint["version"]
        self.complaint = complaint

    async def act(
        self,
        action: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
        *,
        expect: int = 200,
    ) -> httpx.Response:
        response = await self.client.post(
            f"/api/v1/complaints/{self.id}/{action.replace('_', '-')}",
            json=body or {},
            headers={**headers, "If-Match": f'"{self.version}"'},
        )
        assert response.status_code == expect, (action, response.text)
        if response.status_code == 200:
            self.complaint = response.json()
            self.version = self.complaint["version"]
            assert response.headers["etag"] == f'"{self.version}"'
        return response

    async def refresh(self, headers: dict[str, str]) -> dict[str, Any]:
        """Read the complaint again (after a change made elsewhere, e.g. a survey answer)."""
        response = await self.client.get(f"/api/v1/complaints/{self.id}", headers=headers)
        assert response.status_code == 200, response.text
        self.complaint = response.json()
        self.version = self.complaint["version"]
        return self.complaint

    async def events(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        """The whole history, page after page (following `next_cursor`)."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 10}
        while True:
            response = await self.client.get(
                f"/api/v1/complaints/{self.id}/events", params=params, headers=headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            events += page["items"]
            if page["next_cursor"] is None:
                return events
            params = {"limit": 10, "cursor": page["next_cursor"]}

    async def survey_token(self, db: Database) -> str:
        """The token of the newest survey link the customer was sent: read from the outbox row
        the worker delivers (ops views of the outbox redact it), never built from the nonce."""
        async with db.connect() as conn:
            url = (
                await conn.execute(
                    text(
                        "SELECT payload ->> 'survey_url' FROM outbox WHERE complaint_id = :id "
                        "AND topic = 'survey.invited' ORDER BY id DESC LIMIT 1"
                    ),
                    {"id": uuid.UUID(self.id)},
                )
            ).scalar_one_or_none()
        assert url, "resolving sends the customer a survey invitation with its link"
        return parse_qs(urlsplit(url).query)["token"][0]

    @property
    def status(self) -> str:
        return str(self.complaint["status"])


async def assert_rebuilds(db: Database, complaint_id: str) -> None:
    """Rebuilding the projection from the event log gives the stored row."""
    async with db.connect() as conn:
        stored = await repo.get_state(conn, uuid.UUID(complaint_id))
        log = await repo.list_events(conn, uuid.UUID(complaint_id))
    assert replay((e, m) for e, m, _ in log) == stored


async def register(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Flow:
    """Register a complaint (tests.support.factories.complaint_body with `body` over it)."""
    response = await client.post("/api/v1/complaints", json=complaint_body(**body), headers=headers)
    assert response.status_code == 201, response.text
    return Flow(client, response.json())


def _step(status: str, staff: Staff) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """The last step of the usual path to `status`: (status before, action, who, body)."""
    handler = staff.handler_quality.headers
    agent = staff.agent.headers
    steps: dict[str, tuple[str, str, dict[str, str], dict[str, Any]]] = {
        "assigned": (
            "registered",
            "assign",
            agent,
            {"department": "quality", "assignee_id": staff.handler_quality.id},
        ),
        "investigating": ("assigned", "start_investigation", handler, {"note": "安排检测"}),
        "awaiting_customer": (
            "investigating",
            "await_customer",
            handler,
            {"reason": "等待客户提供故障照片"},
        ),
        "solution_proposed": (
            "investigating",
            "propose_solution",
            handler,
            {"remedies": [{"type": "repair"}], "description": "免费上门维修"},
        ),
        "resolved": ("investigating", "resolve", handler, {"result": "已为您处理完毕"}),
        "invalid": (
            "investigating",
            "mark_invalid",
            handler,
            {"explanation": "经核实，损坏系自行拆机所致，感谢您的理解"},
        ),
        "withdrawn": ("registered", "withdraw", agent, {"reason": "客户撤诉"}),
        "reopened": ("resolved", "reopen", agent, {"reason": "客户反映问题再次出现"}),
    }
    return steps[status]


# Steps of the sign-off chain after `resolved` (seed 002 §5.1.1.1, §5.3.1.6): `rated` (an agent
# who did not handle the case records the customer's 回访 rating), `reviewed` (a manager, the
# tier above, signs off: 审核), `closed` (the clerk archives: 存档).
SIGN_OFF = ("rated", "reviewed", "closed")


async def sign_off(flow: Flow, status: str, staff: Staff) -> Flow:
    """Walk a resolved level-1 case along the sign-off chain up to `status` (see SIGN_OFF)."""
    await drive_to(flow, "resolved", staff)
    if flow.complaint["satisfaction"] is None:
        await flow.act("record_satisfaction", staff.agent.headers, {"score": 2})
    if status in ("reviewed", "closed") and flow.complaint["review"] is None:
        await flow.act("review", staff.manager.headers, {"comment": "同意存档"})
    if status == "closed":
        await flow.act("close", staff.clerk.headers, {"summary": "结案"})
    return flow


async def drive_to(flow: Flow, status: str, staff: Staff) -> Flow:
    """Take a new level-1 product-quality complaint registered by `staff.agent` to `status`
    along the seed procedures' usual path (the quality handler investigates); `rated`,
    `reviewed` and `closed` follow the sign-off chain (`sign_off`)."""
    if status in SIGN_OFF:
        return await sign_off(flow, status, staff)
    if flow.status == status:
        return flow
    before, action, who, body = _step(status, staff)
    await drive_to(flow, before, staff)
    if status == "invalid":  # only findings of customer fault make a complaint invalid
        findings = {"findings": "用户自行拆机导致损坏", "responsibility": "customer"}
        await flow.act("record_findings", staff.handler_quality.headers, findings)
    await flow.act(action, who, body)
    assert flow.status == status
    return flow
