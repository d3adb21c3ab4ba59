"""The query side of full-text search (shared.domain.search): terms, snippets, event text."""

from __future__ import annotations

import pytest

from shared.domain.events import AwaitingCustomer, InvestigationStarted, NoteAdded, Resolved
from shared.domain.search import event_text, parse_query, phone_like, snippet, text_similarity


def test_terms_are_split_on_any_whitespace_folded_and_distinct() -> None:
    parsed = parse_query("XQG100\u3000漏水  xqg100\t退款", contact=True)
    assert parsed is not None
    assert parsed.terms == ("xqg100", "漏水", "退款")
    assert parsed.contact
    assert parse_query(" \u3000 ", contact=False) is None


@pytest.mark.parametrize("q", [" ".join(str(i) for i in range(9)), "漏" * 65])
def test_too_many_or_too_long_terms_are_refused(q: str) -> None:
    with pytest.raises(ValueError, match="search"):
        parse_query(q, contact=False)


def test_snippet_marks_every_occurrence_in_its_window() -> None:
    doc = "客户反映：" + "很长的说明。" * 20 + "洗衣机漏水，地板漏水，XQG100-A8。" + "其他。" * 30
    cut = snippet(doc, ("漏水", "xqg100"), width=40)
    assert cut.text.startswith("…")
    assert cut.text.endswith("…")
    marked = [cut.text[s:e] for s, e in cut.highlights]
    assert marked == ["漏水", "漏水", "XQG100"]  # shown as written, matched case-folded
    assert len(cut.text) <= 42


def test_snippet_of_a_short_text_is_the_text() -> None:
    cut = snippet("空调 不制冷\n要求维修", ("维修",))
    assert cut.text == "空调 不制冷 要求维修"
    assert [cut.text[s:e] for s, e in cut.highlights] == ["维修"]


def test_notes_replies_results_and_reasons_reach_the_index() -> None:
    assert event_text(NoteAdded(text="上门发现进水阀漏水")) == "上门发现进水阀漏水"
    assert event_text(AwaitingCustomer(reason="等待客户提供照片")) == "等待客户提供照片"
    assert event_text(Resolved(result="已为您更换进水阀")) == "已为您更换进水阀"
    assert event_text(InvestigationStarted()) is None


def test_phone_like_terms_and_text_similarity() -> None:
    assert phone_like("13812345678")
    assert phone_like("+86-1381")
    assert not phone_like("320元")
    assert text_similarity("洗衣机漏水严重", "洗衣机漏水严重") == 1.0
    assert text_similarity("洗衣机漏水", "快递延误") == 0.0
