"""Group complaints (集体投诉) over HTTP — seed 002 §4.3.3, SPEC §2, issue 11 §5: 3 or more
distinct customers about the same product model or batch within the window are found at
intake, each linked to the group and raised to level 3 (the director tier's queue), and
management is told once; intake's `customer_count` makes one complaint a group complaint."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from shared.db.engine import Database
from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile


async def _alerts(db: Database, ids: list[str]) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT complaint_id, template_key, recipient_user_id FROM outbox "
                "WHERE complaint_id = ANY(:ids) AND template_key IN ('group_alert', 'level3_alert')"
            ),
            {"ids": [uuid.UUID(i) for i in ids]},
        )
        return [dict(r) for r in rows.mappings()]


async def test_three_customers_about_one_model_are_a_group_seed_002_4_3_3(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    model = f"GRP-{uuid.uuid4().hex[:8].upper()}"

    async def post(**product: str) -> dict[str, Any]:
        body = complaint_body(content="热水器外壳发烫")
        body["product"] = {"model": model, **product}
        body["customer"] = {"name": "顾客", "phone": mobile()}
        created = await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result

    first, second = await post(), await post(model=model.lower())  # the model case-folded
    assert (first["level"], second["level"]) == (1, 1)
    third = await post()
    assert third["level"] == 3
    assert "group:3" in third["level_reasons"]
    assert third["group_id"] == first["id"]
    for earlier in (first, second):
        shown = await anon.get(
            f"/api/v1/complaints/{earlier['id']}", headers=staff.director.headers
        )
        body = shown.json()
        assert (body["group_id"], body["level"], body["assignee_id"]) == (first["id"], 3, None)
    ids = [first["id"], second["id"], third["id"]]
    alerts = await _alerts(db, ids)
    # Management is told once, with the complaint that formed the group; no level-3 alert each.
    assert {(a["complaint_id"], a["template_key"]) for a in alerts} == {
        (uuid.UUID(third["id"]), "group_alert")
    }
    assert staff.director.id in {str(a["recipient_user_id"]) for a in alerts}

    fourth = await post()
    assert (fourth["level"], fourth["group_id"]) == (3, first["id"])
    assert await _alerts(db, [fourth["id"]]) == []


async def test_customer_count_makes_a_group_complaint_spec_2(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    body = complaint_body(content="小区五户业主的空调同时出现故障", customer_count=5)
    created = await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)
    assert created.status_code == 201, created.text
    assert created.json()["level"] == 3
    assert "group:5" in created.json()["level_reasons"]
    bad = {**body, "customer_count": 0}
    refused = await anon.post("/api/v1/complaints", json=bad, headers=staff.agent.headers)
    assert refused.status_code == 422


async def test_a_group_formed_by_concurrent_calls_forms_once_seed_002_4_3_3(
    anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """A wave of calls about one model registered at the same moment: the earlier complaints
    are linked to the group once (not once per call that saw them outside it), and management
    is told of the group once."""
    model = f"GRP-{uuid.uuid4().hex[:8].upper()}"

    async def post() -> str:
        body = complaint_body(content="洗衣机脱水时漏水")
        body["product"] = {"model": model}
        body["customer"] = {"name": "顾客", "phone": mobile()}
        created = await anon.post("/api/v1/complaints", json=body, headers=staff.agent.headers)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    earlier = [await post(), await post()]
    wave = await asyncio.gather(*(post() for _ in range(12)))
    ids = [*earlier, *wave]
    async with db.connect() as conn:
        linked = await conn.execute(
            text(
                "SELECT complaint_id, count(*) AS n FROM complaint_events "
                "WHERE complaint_id = ANY(:ids) AND type = 'complaint.group_linked' "
                "GROUP BY complaint_id"
            ),
            {"ids": [uuid.UUID(i) for i in ids]},
        )
        times = {str(r.complaint_id): r.n for r in linked}
        groups = await conn.execute(
            text("SELECT DISTINCT group_id FROM complaints WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(i) for i in ids]},
        )
        group_ids = {str(r.group_id) for r in groups}
    assert times == dict.fromkeys(ids, 1)
    assert group_ids == {earlier[0]}
    alerts = await _alerts(db, ids)
    formed = {a["complaint_id"] for a in alerts if a["template_key"] == "group_alert"}
    assert len(formed) == 1
