"""Errors a console can act on: each kind of refusal has its own problem `type` and a stable
`code` (never `about:blank`), words in Chinese for `Accept-Language: zh-CN` and in English
otherwise, and a detail that says what to do."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Staff
from tests.support.flow import drive_to, register
from tests.support.principals import create_key

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}", body
    assert body["code"] == code
    assert body["status"] == status
    return body


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def test_each_kind_of_refusal_has_its_code(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    """Wrong role, tier too low (seed 002 §4.2), recusal (回避), awaiting approval (审批),
    closure requirements (四不放过), invalid transition, validation, not found, stale and
    missing If-Match, unauthenticated, rate limited, unsupported media type, malformed JSON."""
    flow = await register(anon, staff.agent.headers, subject={"staff_user_id": staff.subject.id})
    url = f"/api/v1/complaints/{flow.id}"
    _problem(
        await flow.act("add_note", staff.auditor.headers, {"text": "x"}, expect=403),
        403,
        "wrong-role",
    )
    recusal = await flow.act(
        "assign",
        staff.director.headers,
        {"department": "quality", "assignee_id": staff.subject.id},
        expect=422,
    )
    _problem(recusal, 422, "recusal")
    _problem(
        await flow.act("start_investigation", staff.agent.headers, {}, expect=409),
        409,
        "invalid-transition",
    )
    _problem(await flow.act("add_note", staff.agent.headers, {}, expect=422), 422, "validation")
    stale = await anon.post(
        f"{url}/add-note", json={"text": "x"}, headers={**staff.agent.headers, "If-Match": '"99"'}
    )
    _problem(stale, 412, "stale-version")
    missing = await anon.post(f"{url}/add-note", json={"text": "x"}, headers=staff.agent.headers)
    _problem(missing, 428, "if-match-required")
    unknown = "/api/v1/complaints/00000000-0000-4000-8000-000000000000"
    _problem(await anon.get(unknown, headers=staff.agent.headers), 404, "not-found")
    _problem(await anon.get(url), 401, "unauthenticated")
    form = await anon.post(
        f"{url}/add-note",
        content="text=x",
        headers={**staff.agent.headers, "If-Match": '"1"', "Content-Type": "text/plain"},
    )
    _problem(form, 415, "unsupported-media-type")
    broken = await anon.post(
        f"{url}/add-note",
        content=b"{",
        headers={**staff.agent.headers, "If-Match": '"1"', "Content-Type": "application/json"},
    )
    _problem(broken, 400, "malformed-json")
    _problem(
        await anon.delete("/api/v1/staff", headers=staff.agent.headers), 405, "method-not-allowed"
    )

    key = await create_key(anon, admin_headers, ["complaints:read"], rate_limit_per_minute=1)
    await anon.get("/api/v1/me", headers=key.headers)
    limited = _problem(await anon.get("/api/v1/me", headers=key.headers), 429, "rate-limited")
    assert f"Retry after {limited_retry(limited)} s" in limited["detail"]


def limited_retry(problem: dict[str, Any]) -> str:
    return problem["detail"].rsplit("Retry after ", 1)[1].split(" ")[0]


async def test_state_refusals_of_an_action_are_409_with_their_code(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    handler = staff.handler_quality.headers
    flow = await drive_to(await register(anon, staff.agent.headers), "investigating", staff)
    await flow.act(
        "propose_solution",
        handler,
        {"remedies": [{"type": "compensation", "amount": "900.00"}], "description": "赔偿900元"},
    )
    _problem(
        await flow.act("implement_solution", handler, {}, expect=409), 409, "awaiting-approval"
    )
    resolved = await drive_to(await register(anon, staff.agent.headers), "investigating", staff)
    await resolved.act(
        "record_findings", handler, {"findings": "漏水", "responsibility": "company"}
    )
    await resolved.act("resolve", handler, {"result": "已为您更换"})
    _problem(
        await resolved.act("close", staff.clerk.headers, {}, expect=409),
        409,
        "closure-requirements",
    )
    _problem(
        await resolved.act(
            "regulator_reply",
            staff.manager.headers,
            {"replied_at": "2026-01-05T10:00:00+08:00", "content": "已处理"},
            expect=409,
        ),
        409,
        "state-conflict",
    )


async def test_words_follow_accept_language(anon: httpx.AsyncClient, staff: Staff) -> None:
    flow = await register(anon, staff.agent.headers)
    await flow.act("triage", staff.director.headers, {"level": 2, "level_reason": "重复投诉"})
    url = f"/api/v1/complaints/{flow.id}/triage"

    async def triage(language: dict[str, str]) -> dict[str, Any]:
        headers = {**staff.agent.headers, **language, "If-Match": f'"{flow.version}"'}
        return _problem(await anon.post(url, json={}, headers=headers), 403, "tier-too-low")

    english = await triage(EN)
    assert english["title"] == "Tier too low"
    assert not _chinese(english["title"])
    assert "higher tier" in english["detail"]
    chinese = await triage(ZH)
    assert chinese["title"] == "受理级别不足"
    assert chinese["detail"].startswith("此投诉的级别需要更高一级受理人")
    assert "higher tier" in chinese["detail"]  # what exactly was refused, kept
    assert (await triage({"Accept-Language": "zh"}))["title"] == "受理级别不足"
    assert (await triage({}))["title"] == "Tier too low"
    # English preferred over Chinese by the q-values.
    assert (await triage({"Accept-Language": "zh;q=0.5, en;q=0.9"}))["title"] == "Tier too low"
    validation = await anon.post(
        "/api/v1/complaints", json={"channel": 7}, headers={**staff.agent.headers, **ZH}
    )
    body = _problem(validation, 422, "validation")
    assert body["title"] == "输入有误"
    assert body["errors"]


async def test_json_sent_to_the_sign_in_form_is_told_to_send_a_form(
    anon: httpx.AsyncClient,
) -> None:
    sent = await anon.post("/api/v1/auth/token", json={"username": "li.na", "password": "x" * 12})
    body = _problem(sent, 422, "validation")
    assert "application/x-www-form-urlencoded" in body["detail"]
    in_chinese = await anon.post(
        "/api/v1/auth/token", json={"username": "li.na", "password": "x" * 12}, headers=ZH
    )
    assert "application/x-www-form-urlencoded" in _problem(in_chinese, 422, "validation")["detail"]
    # A form with a field missing is just invalid input.
    partial = await anon.post("/api/v1/auth/token", data={"username": "li.na"})
    assert "x-www-form-urlencoded" not in _problem(partial, 422, "validation")["detail"]


async def test_problem_types_are_documented(anon: httpx.AsyncClient) -> None:
    schema = (await anon.get("/openapi.json")).json()
    description = schema["info"]["description"]
    for code in (
        "wrong-role",
        "tier-too-low",
        "recusal",
        "awaiting-approval",
        "closure-requirements",
        "invalid-transition",
        "rate-limited",
        "validation",
        "not-found",
    ):
        assert f"`{code}`" in description, code
    assert "code" in schema["components"]["schemas"]["Problem"]["required"]
