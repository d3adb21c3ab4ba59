"""Chinese full-text search (全文检索, issue 13): `GET /api/v1/complaints?q=…` and similar
complaints. Expected results are decided here from the texts the tests wrote (a substring
check, i.e. `LIKE '%…%'`), never by the search code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Staff
from tests.support.factories import complaint_body, mobile
from tests.support.flow import Flow, drive_to

LIST = "/api/v1/complaints"


def _tag() -> str:
    return "T" + uuid.uuid4().hex[:8].upper()


async def _register(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Flow:
    response = await client.post(LIST, json=complaint_body(**body), headers=headers)
    assert response.status_code == 201, response.text
    return Flow(client, response.json())


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every page of a search, in order."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": params.get("limit", 3)}
        if cursor:
            query["cursor"] = cursor
        response = await client.get(LIST, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _since(at: datetime) -> str:
    return (at - timedelta(seconds=1)).isoformat()


async def test_two_character_terms_find_exactly_what_like_finds(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """漏水 in the content, the product model, a note, the findings — and not 漏了水 — with the
    recall and precision of `LIKE '%漏水%'` over what the test wrote."""
    agent, handler = staff.agent.headers, staff.handler_quality.headers
    start = datetime.now(UTC)
    texts: dict[str, str] = {}
    in_content = await _register(anon, agent, content="洗衣机用了三天就漏水，要求换货。")
    texts[in_content.id] = "洗衣机用了三天就漏水"
    near_miss = await _register(anon, agent, content="洗衣机漏了水，地板泡坏了。")
    texts[near_miss.id] = "洗衣机漏了水"
    in_model = await _register(
        anon, agent, content="机器有问题。", product={"model": "防漏水型XQG100-B1"}
    )
    texts[in_model.id] = "防漏水型XQG100-B1"
    in_note = await _register(anon, agent, content="热水器不加热，请派人处理。")
    await drive_to(in_note, "assigned", staff)
    await in_note.act("add_note", handler, {"text": "上门发现进水阀漏水"})
    texts[in_note.id] = "上门发现进水阀漏水"
    in_findings = await _register(anon, agent, content="空调外机噪音大。")
    await drive_to(in_findings, "investigating", staff)
    await in_findings.act(
        "record_findings", handler, {"findings": "冷凝管漏水导致异响", "responsibility": "company"}
    )
    texts[in_findings.id] = "冷凝管漏水导致异响"

    director = staff.director.headers  # sees every complaint (the quality ones included)
    # Other tests register complaints at the same time (漏水 is a common word): what this test
    # decides is the search among the complaints it wrote; any other complaint found in the
    # window must show the term in its highlighted snippet.
    found = await _search(anon, director, q="漏水", created_from=_since(start))
    expected = {cid for cid, text in texts.items() if "漏水" in text}
    assert {c["id"] for c in found} & texts.keys() == expected
    assert near_miss.id not in {c["id"] for c in found}
    for item in found:
        match = item["match"]
        for start_at, end_at in match["highlights"]:
            assert match["snippet"][start_at:end_at] == "漏水"
        assert match["highlights"], item

    one_char = await _search(anon, director, q="泡", created_from=_since(start))
    assert [c["id"] for c in one_char if c["id"] in texts] == [near_miss.id]
    for item in one_char:
        spans = {item["match"]["snippet"][s:e] for s, e in item["match"]["highlights"]}
        assert spans == {"泡"}, item


async def test_mixed_queries_need_every_term(anon: httpx.AsyncClient, staff: Staff) -> None:
    """`XQG100 漏水` and `退款 83917` (like `退款 320`): latin, digits and Chinese, no spaces
    needed inside a term, ASCII case folded."""
    agent = staff.agent.headers
    tag = _tag()
    both = await _register(
        anon, agent, content=f"{tag} 滚筒漏水，要求退款83917元。", product={"model": "XQG100-A8"}
    )
    model_only = await _register(
        anon, agent, content=f"{tag} 滚筒异响，要求退款999元。", product={"model": "xqg100-c2"}
    )
    refund_only = await _register(anon, agent, content=f"{tag} 冰箱不制冷，申请退款183917元。")
    director = staff.director.headers
    q1 = await _search(anon, director, q=f"XQG100 漏水 {tag}")
    assert [c["id"] for c in q1] == [both.id]
    # (five digits: a 受理号's daily number or a random serial never holds them by chance)
    q2 = await _search(anon, director, q=f"退款 83917 {tag}")
    assert {c["id"] for c in q2} == {both.id, refund_only.id}  # 183917 contains 83917
    q3 = await _search(anon, director, q=f"xqg100 {tag.lower()}")
    assert {c["id"] for c in q3} == {both.id, model_only.id}
    filtered = await _search(anon, director, q=f"退款 {tag}", status="registered", kind="complaint")
    assert {c["id"] for c in filtered} == {both.id, model_only.id, refund_only.id}
    none = await _search(anon, director, q=f"退款 {tag}", status="closed")
    assert none == []


async def test_ranked_own_words_first_then_newest_and_sort_still_works(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Relevance, then recency: complaints whose own text holds the terms come before those
    matched only through handling records (a note); `sort=` overrides; cursors page through
    every result once."""
    agent, handler = staff.agent.headers, staff.handler_quality.headers
    tag = _tag()
    handling = await _register(anon, agent, content="电视机黑屏，无法开机。")
    await drive_to(handling, "assigned", staff)
    await handling.act("add_note", handler, {"text": f"{tag} 主板吞卡故障"})
    own = [await _register(anon, agent, content=f"{tag} 取款机吞卡，第{i}次。") for i in range(4)]
    director = staff.director.headers
    ranked = await _search(anon, director, q=f"{tag} 吞卡", limit=2)
    assert [c["id"] for c in ranked] == [f.id for f in reversed(own)] + [handling.id]
    assert [c["match"]["rank"] for c in ranked] == ["own_words"] * 4 + ["handling"]
    assert "吞卡" in ranked[-1]["match"]["snippet"]

    oldest_first = await _search(anon, director, q=f"{tag} 吞卡", sort="created_at", limit=2)
    assert [c["id"] for c in oldest_first] == [handling.id] + [f.id for f in own]
    assert all(c["match"]["rank"] is None for c in oldest_first)

    page = await anon.get(LIST, params={"q": f"{tag} 吞卡", "limit": 2}, headers=director)
    cursor = page.json()["next_cursor"]
    wrong = await anon.get(LIST, params={"cursor": cursor}, headers=director)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_name_and_phone_only_for_who_sees_contact_data(
    anon: httpx.AsyncClient, staff: Staff, client: httpx.AsyncClient
) -> None:
    """An integration with pii:read finds its complaint by the customer's phone digits and
    name; the auditor (sees contact data masked) finds nothing by them, but by the text."""
    tag = _tag()
    phone = mobile()
    body = complaint_body(content=f"{tag} 冰箱冷藏室结冰。")
    body["customer"] = {"name": f"欧阳{tag}", "phone": phone}
    response = await client.post(LIST, json=body)
    assert response.status_code == 201, response.text
    created = response.json()["id"]
    digits = phone[3:]
    assert [c["id"] for c in await _search(client, {}, q=digits)] == [created]
    assert [c["id"] for c in await _search(client, {}, q=f"欧阳{tag}")] == [created]
    auditor = staff.auditor.headers
    assert await _search(anon, auditor, q=digits) == []
    assert await _search(anon, auditor, q=f"欧阳{tag}") == []
    assert [c["id"] for c in await _search(anon, auditor, q=f"{tag} 结冰")] == [created]


@pytest.mark.parametrize(
    ("q", "field"),
    [
        ("漏" * 201, "q"),
        (" ".join(f"词{i}" for i in range(9)), "q"),
        ("x" * 65, "q"),
        ("漏水\x00", "q"),
    ],
)
async def test_bad_queries_are_problem_documents(
    anon: httpx.AsyncClient, staff: Staff, q: str, field: str
) -> None:
    response = await anon.get(LIST, params={"q": q}, headers=staff.director.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text


async def test_blank_and_quote_queries_do_not_break(anon: httpx.AsyncClient, staff: Staff) -> None:
    tag = _tag()
    made = await _register(anon, staff.agent.headers, content=f"{tag} 说明书写着'防水' \\ 100%_好")
    director = staff.director.headers
    for q in (f"{tag} '防水'", f"{tag} 100%_", f"{tag} \\", f"{tag} ':*"):
        response = await anon.get(LIST, params={"q": q}, headers=director)
        assert response.status_code == 200, (q, response.text)
        ids = [c["id"] for c in response.json()["items"]]
        term = q.split(" ", 1)[1]
        assert ids == ([made.id] if term in f"{tag} 说明书写着'防水' \\ 100%_好" else []), q
    blank = await anon.get(LIST, params={"q": "   ", "limit": 1}, headers=director)
    assert blank.status_code == 200
    assert blank.json()["items"][0].get("match") is None


async def test_similar_complaints_say_why_and_respect_access(
    anon: httpx.AsyncClient, staff: Staff
) -> None:
    """Same customer (phone), same order, same serial, similar text — and never a complaint
    the reader may not see (another department's, for a department handler)."""
    agent = staff.agent.headers
    tag = _tag()
    phone = mobile()
    order, serial = f"ORD{tag}", f"SN{tag}"
    base = complaint_body(
        content=f"滚筒洗衣机{tag}脱水时漏水严重，地板全湿了，要求上门维修。",
        product={"model": "XQG100-A8", "order_number": order, "serial_number": serial},
    )
    base["customer"]["phone"] = phone
    base["customer"]["email"] = None  # every factory body has the same address
    first = (await anon.post(LIST, json=base, headers=agent)).json()

    same_customer = complaint_body(content="另一件事：冰箱门封条脱落。")
    same_customer["customer"]["phone"] = phone
    same_order = complaint_body(content="发票开错了。", product={"order_number": order})
    same_unit = complaint_body(content="维修后又坏了。", product={"serial_number": serial})
    like_text = complaint_body(content=f"滚筒洗衣机{tag}脱水时漏水严重，地板都湿了，请维修。")
    unrelated = complaint_body(content="快递送货延误一周。")
    ids = {}
    for name, body in [
        ("customer", same_customer),
        ("order", same_order),
        ("unit", same_unit),
        ("text", like_text),
        ("unrelated", unrelated),
    ]:
        body["customer"]["email"] = None
        response = await anon.post(LIST, json=body, headers=agent)
        assert response.status_code == 201, response.text
        ids[response.json()["id"]] = name
    # A logistics complaint (物流部) on the same order: the quality handler may not read it.
    hidden_body = complaint_body(
        content="订单有问题。", category="logistics", product={"order_number": order}
    )
    hidden_body["customer"]["email"] = None
    hidden = await anon.post(LIST, json=hidden_body, headers=staff.agent2.headers)
    assert hidden.status_code == 201

    reader = staff.handler_quality.headers  # its department's complaints (质量部), any level
    response = await anon.get(f"{LIST}/{first['id']}/similar", headers=reader)
    assert response.status_code == 200, response.text
    reasons = {
        ids.get(s["complaint"]["id"], s["complaint"]["id"]): s["reasons"]
        for s in response.json()["items"]
    }
    assert reasons["customer"] == ["same_customer"]
    assert reasons["order"] == ["same_order"]
    assert reasons["unit"] == ["same_product"]
    assert reasons["text"] == ["similar_text"]
    assert "unrelated" not in reasons
    assert hidden.json()["id"] not in reasons
    assert first["id"] not in reasons

    # The director sees agent2's complaint too.
    as_director = await anon.get(f"{LIST}/{first['id']}/similar", headers=staff.director.headers)
    assert hidden.json()["id"] in {s["complaint"]["id"] for s in as_director.json()["items"]}
    unknown = await anon.get(f"{LIST}/{uuid.uuid4()}/similar", headers=reader)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_a_phone_typed_into_q_is_a_contact_search(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], staff: Staff
) -> None:
    """Issue 15's rule holds for `q`: phone digits searched by someone who sees contact data
    are audited like `customer_phone` (which filter, what was found, never the number)."""
    body = complaint_body(content="空调遥控失灵。")
    phone = body["customer"]["phone"]
    created = await anon.post(LIST, json=body, headers=staff.agent.headers)
    found = await anon.get(LIST, params={"q": phone[3:]}, headers=staff.agent.headers)
    assert [c["id"] for c in found.json()["items"]] == [created.json()["id"]]
    entries = (
        await anon.get(
            "/api/v1/audit-events",
            params={"action": "complaint.contact_search", "actor_id": staff.agent.id},
            headers=admin_headers,
        )
    ).json()["items"]
    mine = [e for e in entries if created.json()["id"] in e["details"]["found"]]
    assert [e["details"]["filters"] for e in mine] == [["q"]]
    assert phone[3:] not in str(entries)
