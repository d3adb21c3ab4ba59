"""The bigram index finds exactly what `LIKE` finds (issue 13; FACTS.md "Search in Chinese"):
random texts and terms over an alphabet of Chinese, ASCII of both cases, digits, quotes,
LIKE's wildcards, backslashes and whitespace (the ideographic space included), checked in
PostgreSQL against `strpos` on the case-folded text — the ground truth is computed here."""

from __future__ import annotations

import random

from sqlalchemy import text

from shared.db.engine import Database
from shared.domain.search import TextQuery, fold, like_pattern, tsquery

ALPHABET = ["漏", "水", "了", "吞", "卡", "a", "A", "b", "1", "2", "'", "\\", "%", "_", "-", ":"]
SPACES = [" ", "\n", "\u3000", "\t"]

_CHECK = text(
    "SELECT array_to_tsvector(kesu_search_grams(CAST(:doc AS text), '')) "
    "@@ CAST(:query AS tsquery) AS candidate, "
    "kesu_search_fold(CAST(:doc AS text)) LIKE CAST(:pattern AS text) ESCAPE '\\' AS liked"
)


def _doc(rng: random.Random) -> str:
    return "".join(
        rng.choice(SPACES) if rng.random() < 0.15 else rng.choice(ALPHABET)
        for _ in range(rng.randrange(0, 30))
    )


async def test_candidates_never_miss_and_short_terms_are_exact(db: Database) -> None:
    rng = random.Random(13)
    checked = found = 0
    async with db.connect() as conn:
        for _ in range(400):
            doc = _doc(rng)
            words = doc.split()
            if words and rng.random() < 0.6:  # a term that occurs, most of the time
                word = rng.choice(words)
                start = rng.randrange(len(word))
                term = word[start : start + rng.randrange(1, 5)]
            else:
                term = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 4)))
            folded = fold(term)
            truth = folded in fold(doc)
            params = {
                "doc": doc,
                "query": tsquery(TextQuery(terms=(folded,))),
                "pattern": like_pattern(folded),
            }
            row = (await conn.execute(_CHECK, params)).one()
            assert row.liked == truth, (doc, term)
            if truth:
                assert row.candidate, (doc, term)  # recall: never missed
                found += 1
            if len(folded) <= 2:
                assert row.candidate == truth, (doc, term)  # 1–2 characters: exact by itself
            checked += 1
    assert found > 100
