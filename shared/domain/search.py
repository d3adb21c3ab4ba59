"""Chinese full-text search (全文检索): what a query means, and what an event adds to the index.

Chinese is written without spaces, so the index holds character bigrams (FACTS.md, "Search in
Chinese"): every two-character window of every whitespace-separated word, plus each word's
last character; ASCII letters fold to lower case. A query is split on whitespace into terms
(`XQG100 漏水` → `xqg100`, `漏水`); a complaint matches when its text contains every term,
exactly as `LIKE '%term%'` would decide (the bigrams find the candidates, `LIKE` decides).

The database side of the same definitions is migration 0030 (`kesu_search_grams`, the text
functions, named `kesu_search_*_text` since 0053); shared/db/search.py builds the SQL from what
this module says.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.domain.events import Event

# Relevance tiers of a ranked search: the complaint's own words hold every term, or only its
# handling records do (shared.db.complaints.ranked_query).
OWN_WORDS, HANDLING_ONLY = 2, 1
RANK_TIERS = (OWN_WORDS, HANDLING_ONLY)

MAX_TERMS = 8
MAX_TERM_LENGTH = 64
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Free-text fields of events that the projection does not keep (notes, replies, summaries,
# reasons): they reach the index through `search_notes`. Migration 0030's backfill reads the
# same payload keys.
EVENT_TEXT_FIELDS = ("text", "result", "summary", "note", "reason", "explanation", "comment")


def fold(text: str) -> str:
    """ASCII letters to lower case, nothing else (the database's `kesu_search_fold`: the same
    under any locale)."""
    return text.translate(_FOLD)


@dataclass(frozen=True)
class TextQuery:
    """A parsed `q`: its terms (folded, distinct, in order) and whether the customer's name
    and phone may be searched (only for principals who see contact data)."""

    terms: tuple[str, ...]
    contact: bool = False


def parse_query(q: str, *, contact: bool) -> TextQuery | None:
    """The terms of a query; None when it has none (blank). Raises ValueError for more than
    `MAX_TERMS` terms or a term longer than `MAX_TERM_LENGTH` characters."""
    terms: list[str] = []
    for word in fold(q).replace(HANDLING_PREFIX, " ").replace(CONTACT_PREFIX, " ").split():
        if len(word) > MAX_TERM_LENGTH:
            raise ValueError(f"a search term is at most {MAX_TERM_LENGTH} characters")
        if word not in terms:
            terms.append(word)
    if len(terms) > MAX_TERMS:
        raise ValueError(f"a search has at most {MAX_TERMS} terms")
    return TextQuery(terms=tuple(terms), contact=contact) if terms else None


def term_grams(term: str) -> list[str]:
    """The index entries a document containing `term` surely has: its bigrams (a one-character
    term: itself, matched as a prefix of the entries)."""
    if len(term) == 1:
        return [term]
    return list(dict.fromkeys(term[i : i + 2] for i in range(len(term) - 1)))


def _lexeme(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# The index's three kinds of grams (migration 0030): the complaint's own words as they are,
# its handling records (findings, solution, notes …) and the customer's name and phone behind
# a control character each, which the texts themselves never hold (the grams treat them as
# spaces, and so does `parse_query`).
HANDLING_PREFIX = "\x01"
CONTACT_PREFIX = "\x02"
# Up to this length the grams decide alone (a 1–2 character term is a gram, or the prefix of
# one); longer terms are also checked with LIKE on the text (bigrams in any order match).
EXACT_BY_GRAMS = 2


def _term_query(term: str, prefix: str) -> str:
    if len(term) == 1:
        return _lexeme(prefix + term) + ":*"
    return " & ".join(_lexeme(prefix + g) for g in term_grams(term))


def _query(query: TextQuery, prefixes: tuple[str, ...]) -> str:
    """Every term, each found under any of the prefixes."""
    if query.contact:
        prefixes = (*prefixes, CONTACT_PREFIX)
    return " & ".join(
        "(" + " | ".join(f"({_term_query(term, p)})" for p in prefixes) + ")"
        for term in query.terms
    )


def tsquery(query: TextQuery) -> str:
    """The `tsquery` (text form) of the candidates: each term's grams in the complaint's own
    words or its handling records — or, for principals who see contact data, in the name and
    phone."""
    return _query(query, ("", HANDLING_PREFIX))


def own_words_tsquery(query: TextQuery) -> str:
    """The same, in the complaint's own words only (the higher relevance tier)."""
    return _query(query, ("",))


# --- recency in the index (migration 0050) ---------------------------------------------------
#
# Each complaint's creation day (UTC, days since 2000-01-01) is in the index as blocks of
# 4**level days, levels 0–4 (1 … 256 days), behind U+0001 U+0001 (never in a gram). A window
# of days is the few blocks that tile it, so `(terms) & (blocks)` asks the index for the
# matches of those days only.

RECENCY_PREFIX = "\x01\x01"
RECENCY_LEVELS = 5
_EPOCH = date(2000, 1, 1)


def day_number(at: datetime) -> int:
    """The UTC day of an instant, as the index numbers it (`kesu_search_recency`)."""
    return (at.astimezone(UTC).date() - _EPOCH).days


def recency_lexeme(level: int, block: int) -> str:
    return f"{RECENCY_PREFIX}{level}:{block}"


def days_tsquery(first: int, last: int) -> str:
    """The `tsquery` (text form) of the days `first` … `last` (inclusive): the largest aligned
    blocks that tile them, OR-ed (at most six a level)."""
    blocks: list[str] = []
    day = first
    while day <= last:
        level = RECENCY_LEVELS - 1
        while level and (day % 4**level or day + 4**level - 1 > last):
            level -= 1
        blocks.append(_lexeme(recency_lexeme(level, day >> (2 * level))))
        day += 4**level
    return " | ".join(blocks)


def window(first: int, last: int, *, edge: int, span: int, descending: bool) -> tuple[int, int]:
    """The next window of days a search reads: `span` days from `edge` towards `first`
    (descending) or `last` (ascending), within `first` … `last`; empty (low > high) when the
    days are all read."""
    if descending:
        high = min(edge, last)
        return max(first, high - span + 1), high
    low = max(edge, first)
    return low, min(last, low + span - 1)


def next_span(read_days: int, found: int, missing: int) -> int:
    """How many days the next window spans: enough for the `missing` matches at the rate found
    so far (`found` in `read_days` days) with half as many again to spare, at most three times
    the days read (the first days may be quiet: a weekend), three times when none was found.
    A common term fills its page from the first day or so, a rare one is found in a handful of
    reads, and neither reads many more matches than the page needs."""
    if found == 0:
        return max(1, 3 * read_days)
    return max(1, min(3 * read_days, -(-3 * missing * read_days // (2 * found))))


# --- the list's filters in the index (migration 0051) -------------------------------------------
#
# Each complaint's status, kind, category, level, channel, department and assignee are in the
# index too, one lexeme each behind U+0001 U+0002 (never in a gram nor a day), a letter for the
# column and the value (empty for NULL): a search with filters ANDs them into each window's
# `tsquery`, and GIN reads only the rows that pass them.

FACET_PREFIX = "\x01\x02"
FACET_COLUMNS = {
    "status": "s",
    "kind": "k",
    "category": "c",
    "level": "l",
    "channel": "h",
    "department": "d",
    "assignee_id": "a",
}


def facet_lexeme(column: str, value: object) -> str:
    """The lexeme of a column's value (`kesu_search_facets`); None is the empty value."""
    return f"{FACET_PREFIX}{FACET_COLUMNS[column]}:{'' if value is None else value}"


def facet_tsquery(column: str, values: Sequence[object]) -> str:
    """The `tsquery` (text form) of the complaints whose `column` is any of `values`."""
    return " | ".join(_lexeme(facet_lexeme(column, v)) for v in dict.fromkeys(values))


def contact_text(customer: Mapping[str, Any] | None) -> str:
    """The customer's name and phone as the index holds them (`kesu_search_contact_text`)."""
    data = customer or {}
    return f"{data.get('name') or ''} {data.get('phone') or ''}"


def rank_of(query: TextQuery, *, own: str, handling: str, contact: str = "") -> int | None:
    """How a complaint with these texts matches the query: `OWN_WORDS` when its own words (or
    the customer's name and phone, for principals who may search them) hold every term,
    `HANDLING_ONLY` when every term is found only with its handling records too, None when
    it does not match. Exactly `LIKE '%term%'` on the folded texts, as the database checks
    (shared.db.search): a term holds no whitespace, so it is found within a word, as the
    grams find it."""
    owned = [fold(own), fold(contact)] if query.contact else [fold(own)]
    if all(any(term in text for text in owned) for term in query.terms):
        return OWN_WORDS
    every = [*owned, fold(handling)]
    if all(any(term in text for text in every) for term in query.terms):
        return HANDLING_ONLY
    return None


def checked_terms(query: TextQuery) -> tuple[str, ...]:
    """The terms the grams do not decide alone (longer than `EXACT_BY_GRAMS`)."""
    return tuple(t for t in query.terms if len(t) > EXACT_BY_GRAMS)


PHONE_DIGITS = 4


def phone_like(term: str) -> bool:
    """A term that may be (part of) a phone number: searched in contact data, it is a contact
    search (rate-limited and audited like `customer_phone`, issue 15)."""
    return sum(ch.isdigit() for ch in term) >= PHONE_DIGITS


def like_pattern(term: str) -> str:
    """`%term%` for LIKE with `\\` as the escape character."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def event_text(event: Event) -> str | None:
    """The free text an event adds to the complaint's search document (notes, replies to the
    customer, contact summaries, reasons), or None. Only those fields are dumped: a
    registration's payload holds the whole intake, and this runs for every event written."""
    payload = event.model_dump(mode="json", include=set(EVENT_TEXT_FIELDS))
    parts = [v for k in EVENT_TEXT_FIELDS if isinstance(v := payload.get(k), str) and v]
    return " ".join(parts) if parts else None


# --- snippets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A window of the matching text with the matches marked: `highlights` are [start, end)
    offsets into `text` (characters), so clients mark them as they like (no markup to escape)."""

    text: str
    highlights: list[tuple[int, int]]


def snippet(document: str, terms: tuple[str, ...], *, width: int = 80) -> Snippet:
    """The part of `document` around the first match, at most `width` characters (… marks a
    cut), every occurrence of every term in it highlighted. Matching folds ASCII case like
    the search; the text is shown as the document has it (already folded by the database)."""
    flat = " ".join(document.split())
    folded = fold(flat)
    first = min((i for t in terms if (i := folded.find(t)) >= 0), default=0)
    start = max(0, min(first - width // 4, len(flat) - width))
    end = min(len(flat), start + width)
    window = folded[start:end]
    spans: list[tuple[int, int]] = []
    for term in terms:
        at = window.find(term)
        while at >= 0:
            spans.append((at, min(at + len(term), len(window))))
            at = window.find(term, at + len(term))
    text = flat[start:end]
    shift = 0
    if start > 0:
        text, shift = "…" + text, 1
    if end < len(flat):
        text += "…"
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return Snippet(text=text, highlights=[(s + shift, e + shift) for s, e in merged])


# --- similar complaints (相似投诉) ------------------------------------------------------------


def bigrams(text: str) -> set[str]:
    """The distinct bigrams of a text's words (what the index holds, without the prefixes)."""
    out: set[str] = set()
    for word in fold(text).split():
        out.update(word[i : i + 2] for i in range(max(1, len(word) - 1)))
    return out


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of two texts' bigram sets, 0 … 1."""
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0
