"""Full-text search (全文检索) in SQL: the conditions a `q` adds to the complaint list, and the
searchable text (for the exact check and the snippet), on migration 0030's functions (the texts
named `kesu_search_*_text` since 0053).

A complaint matches a query when, for every term, the bigram index has the term's grams (the
GIN index on `search_vector`): for terms of one or two characters (漏水, 吞卡) that decides
alone; a longer term is also checked with `LIKE` on the text (its bigrams may be scattered).
So a search finds exactly what `LIKE '%term%'` finds. Principals who see contact data also
match the customer's name and phone; for the others those are neither queried nor checked.
(`match_clause` is that check in SQL, for counts and the export; the list's pages read the
index window by window and check each row they read on its texts, `shared.domain.search.rank_of`,
shared.db.complaints._scan.)

Relevance (shared.db.complaints._text_page): a complaint whose own words (content, product,
受理号, what the customer wants, whom they complain about) contain every term ranks above one
matched only through its handling (findings, root cause, solution, notes and replies); within
each, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, bindparam, cast, func, literal, or_
from sqlalchemy.dialects.postgresql import TSQUERY

from shared.db.tables import Complaint, table_of
from shared.domain.search import (
    TextQuery,
    checked_terms,
    days_tsquery,
    like_pattern,
    tsquery,
)

_c = table_of(Complaint).c


def main_text(c: Any) -> ColumnElement[str]:
    """The complaint's own words (`c`: the columns of `complaints` or of a subquery of it)."""
    return func.kesu_search_main_text(
        c.reference, c.content, c.product, c.subject, c.desired_resolution, c.channel_meta
    )


def handling_text(c: Any) -> ColumnElement[str]:
    return func.kesu_search_handling_text(
        c.investigation,
        c.root_cause,
        c.solution,
        c.corrective_actions,
        c.regulator_reply,
        c.search_notes,
    )


def search_text(c: Any) -> ColumnElement[str]:
    """What a snippet is cut from: the complaint's words, then its handling (never contact
    data)."""
    return main_text(c) + "\n" + handling_text(c)


def _contains(text: ColumnElement[str], term: str) -> ColumnElement[bool]:
    return func.kesu_search_fold(text).like(literal(like_pattern(term)), escape="\\")


def _checked(
    query: TextQuery, texts: list[ColumnElement[str]], c: Any
) -> ColumnElement[bool] | None:
    """LIKE for the terms the grams do not decide alone, each on any of `texts` (and the
    contact text for those who may search it); None when the grams decide every term."""
    if query.contact:
        texts = [*texts, func.kesu_search_contact_text(c.customer)]
    checks = [or_(*(_contains(t, term) for t in texts)) for term in checked_terms(query)]
    return and_(*checks) if checks else None


# What the GIN index is on (migrations 0050, 0051): the grams, the complaint's creation day
# and the values the list filters on. Every query of the index says it exactly so; checks of
# one row read the column alone.
INDEXED: ColumnElement[Any] = (
    _c.search_vector.op("||")(func.kesu_search_recency(_c.created_at))
).op("||")(
    func.kesu_search_facets(
        _c.status, _c.kind, _c.category, _c.level, _c.channel, _c.department, _c.assignee_id
    )
)


def _grams(tsq: str) -> ColumnElement[bool]:
    return INDEXED.bool_op("@@")(cast(literal(tsq), TSQUERY))


def candidates_clause(query: TextQuery) -> ColumnElement[bool]:
    """The index's answer: a superset of the matches (exact for terms of 1–2 characters)."""
    return _grams(tsquery(query))


def in_days(name: str) -> ColumnElement[bool]:
    """The index's answer for the `tsquery` given as the parameter `name` (`days_query`: a
    query's grams among the complaints created on some days): GIN reads those days' rows
    only."""
    return INDEXED.bool_op("@@")(cast(bindparam(name, type_=Text), TSQUERY))


def days_query(tsq: str, first: int, last: int) -> str:
    """The `tsquery` `tsq` among the complaints created in the UTC days `first` … `last`
    (shared.domain.search.days_tsquery)."""
    return f"({tsq}) & ({days_tsquery(first, last)})"


def with_facets(tsq: str, facets: Sequence[str]) -> str:
    """The `tsquery` `tsq` among the complaints whose filtered values are as each of `facets`
    says (shared.domain.search.facet_tsquery, migration 0051)."""
    return " & ".join(f"({part})" for part in (tsq, *facets))


def checked_clause(query: TextQuery, c: Any = _c) -> ColumnElement[bool] | None:
    """What decides among the candidates (`c`: the columns of `complaints` or of a subquery
    of it); None when the candidates are the matches."""
    return _checked(query, [main_text(c), handling_text(c)], c)


def match_clause(query: TextQuery) -> ColumnElement[bool]:
    """Complaints that contain every term of the query (anywhere searchable): exact."""
    checked = checked_clause(query)
    return candidates_clause(query) if checked is None else and_(candidates_clause(query), checked)
