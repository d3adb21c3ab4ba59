"""Full-text search (全文检索) in SQL: the conditions a `q` adds to the complaint list, and the
searchable text (for the exact check and the snippet), on migration 0030's functions.

A complaint matches a query when, for every term, the bigram index has the term's bigrams
(the GIN index on `search_vector` finds the candidates) and the text contains the term
(`LIKE`, which decides). So a search finds exactly what `LIKE '%term%'` finds, two-character
terms (漏水, 吞卡) included. Principals who see contact data also match the customer's name
and phone; for the others those are neither indexed under their query nor checked.

Relevance (shared.db.complaints.page_query): a complaint whose own words (content, product,
受理号, what the customer wants, whom they complain about) contain every term ranks above one
matched only through its handling (findings, root cause, solution, notes and replies); within
each, newest first.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, cast, func, literal, or_
from sqlalchemy.dialects.postgresql import TSQUERY

from shared.db.tables import Complaint, table_of
from shared.domain.search import TextQuery, like_pattern, tsquery

_c = table_of(Complaint).c

MAIN_TEXT: ColumnElement[str] = func.kesu_search_main(
    _c.reference, _c.content, _c.product, _c.subject, _c.desired_resolution, _c.channel_meta
)
HANDLING_TEXT: ColumnElement[str] = func.kesu_search_handling(
    _c.investigation,
    _c.root_cause,
    _c.solution,
    _c.corrective_actions,
    _c.regulator_reply,
    _c.search_notes,
)
CONTACT_TEXT: ColumnElement[str] = func.kesu_search_contact(_c.customer)
# What a snippet is cut from: the complaint's words, then its handling (never contact data).
SEARCH_TEXT: ColumnElement[str] = MAIN_TEXT + "\n" + HANDLING_TEXT


def _contains(text: ColumnElement[str], term: str) -> ColumnElement[bool]:
    return func.kesu_search_fold(text).like(literal(like_pattern(term)), escape="\\")


def _term_in(texts: list[ColumnElement[str]], term: str) -> ColumnElement[bool]:
    return or_(*(_contains(t, term) for t in texts))


def _texts(query: TextQuery, *, handling: bool) -> list[ColumnElement[str]]:
    texts = [MAIN_TEXT, HANDLING_TEXT] if handling else [MAIN_TEXT]
    return [*texts, CONTACT_TEXT] if query.contact else texts


def match_clause(query: TextQuery) -> ColumnElement[bool]:
    """Complaints that contain every term of the query (anywhere searchable)."""
    candidates = _c.search_vector.op("@@")(cast(literal(tsquery(query)), TSQUERY))
    texts = _texts(query, handling=True)
    return and_(candidates, *(_term_in(texts, t) for t in query.terms))


def main_clause(query: TextQuery) -> ColumnElement[bool]:
    """Of the matches, those whose own words contain every term (the higher relevance)."""
    texts = _texts(query, handling=False)
    return and_(*(_term_in(texts, t) for t in query.terms))
