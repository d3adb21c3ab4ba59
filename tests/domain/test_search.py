"""The query side of full-text search (shared.domain.search): terms, snippets, event text."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.domain.events import AwaitingCustomer, InvestigationStarted, NoteAdded, Resolved
from shared.domain.search import (
    HANDLING_ONLY,
    OWN_WORDS,
    RECENCY_LEVELS,
    RECENCY_PREFIX,
    contact_text,
    day_number,
    days_tsquery,
    event_text,
    facet_tsquery,
    next_span,
    parse_query,
    phone_like,
    rank_of,
    snippet,
    text_similarity,
    tsquery,
    window,
)


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


def _days_of(tsq: str) -> list[int]:
    """The days the blocks of a `days_tsquery` stand for (migration 0050's lexemes)."""
    out = []
    for block in tsq.split(" | "):
        level, number = block.strip("'").removeprefix(RECENCY_PREFIX).split(":")
        size = 4 ** int(level)
        out += range(int(number) * size, (int(number) + 1) * size)
    return out


def test_day_blocks_tile_exactly_the_window() -> None:
    rng = random.Random(50)
    for _ in range(500):
        first = rng.randrange(-400, 12000)
        last = first + rng.choice([0, 1, 3, 15, 63, 255, 1000, rng.randrange(3000)])
        tsq = days_tsquery(first, last)
        assert _days_of(tsq) == list(range(first, last + 1)), (first, last)
        # at most three blocks a level on either side, and the largest blocks in between
        largest = 4 ** (RECENCY_LEVELS - 1)
        assert tsq.count("|") + 1 <= 6 * (RECENCY_LEVELS - 1) + (last - first + 1) // largest


def test_windows_read_every_day_once_from_the_edge() -> None:
    rng = random.Random(51)
    for _ in range(300):
        first = rng.randrange(9000, 9500)
        last = first + rng.randrange(0, 800)
        descending = rng.random() < 0.5
        edge = rng.randrange(first - 5, last + 5)
        read: list[int] = []
        span, origin, found = 1, edge, 0
        while True:
            low, high = window(first, last, edge=edge, span=span, descending=descending)
            if low > high:
                break
            days = range(high, low - 1, -1) if descending else range(low, high + 1)
            read += days
            found += rng.randrange(0, 3 * len(days))
            edge = low - 1 if descending else high + 1
            span = next_span(abs(edge - origin), found, 51)
            assert span >= 1
        if descending:
            expected = range(min(origin, last), first - 1, -1)
        else:
            expected = range(max(origin, first), last + 1)
        assert read == list(expected)


def test_day_number_is_the_utc_day() -> None:
    assert day_number(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    shanghai = timezone(timedelta(hours=8))
    assert day_number(datetime(2026, 12, 4, 1, 30, tzinfo=shanghai)) == 9833


def test_rank_of_is_like_on_each_text() -> None:
    """Every term in the own words (or the name and phone, for who may search them): own
    words; some only with the handling records: handling; a term cut by a space or folded
    differently: no match."""
    q = parse_query("XQG100 漏水", contact=False)
    assert q is not None
    assert rank_of(q, own="xqg100-a8 滚筒漏水", handling="") == OWN_WORDS
    assert rank_of(q, own="XQG100-A8", handling="进水阀漏水") == HANDLING_ONLY
    assert rank_of(q, own="XQG100 漏 水", handling="") is None
    named = parse_query("欧阳 漏水", contact=True)
    assert named is not None
    contact = contact_text({"name": "欧阳锋", "phone": None})
    assert contact == "欧阳锋 "
    assert rank_of(named, own="漏水", handling="", contact=contact) == OWN_WORDS
    hidden = parse_query("欧阳 漏水", contact=False)
    assert hidden is not None
    assert rank_of(hidden, own="漏水", handling="", contact=contact) is None


def test_facet_lexemes_are_the_indexed_values() -> None:
    """The filters' lexemes (migration 0051's `kesu_search_facets`): prefix U+0001 U+0002, the
    column's letter, the value — NULL as the empty value, quotes escaped, repeats once."""
    assert facet_tsquery("status", ["closed", "resolved", "closed"]) == (
        "'\x01\x02s:closed' | '\x01\x02s:resolved'"
    )
    assert facet_tsquery("level", [2]) == "'\x01\x02l:2'"
    assert facet_tsquery("assignee_id", [None]) == "'\x01\x02a:'"
    assert facet_tsquery("department", ["o'brien"]) == "'\x01\x02d:o''brien'"
    # A query's grams never carry the prefix: the grams treat U+0001 and U+0002 as spaces.
    query = parse_query("\x01\x02s:closed", contact=True)
    assert query is not None
    assert "\x01\x02" not in tsquery(query)
