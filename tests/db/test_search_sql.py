"""The bigram index finds exactly what `LIKE` finds (issue 13; FACTS.md "Search in Chinese"):
random texts and terms over an alphabet of Chinese, ASCII of both cases, digits, quotes,
LIKE's wildcards, backslashes and whitespace (the ideographic space included), checked in
PostgreSQL against `strpos` on the case-folded text — the ground truth is computed here."""

from __future__ import annotations

import random

from sqlalchemy import text

from shared.db.engine import Database
from shared.domain.search import TextQuery, fold, like_pattern, own_words_tsquery, tsquery

ALPHABET = ["漏", "水", "了", "吞", "卡", "a", "A", "b", "1", "2", "'", "\\", "%", "_", "-", ":"]
SPACES = [" ", "\n", "\u3000", "\t"]

_CHECK = text(
    "SELECT v @@ CAST(:query AS tsquery) AS candidate, v @@ CAST(:own AS tsquery) AS own, "
    "kesu_search_fold(CAST(:doc AS text)) LIKE CAST(:pattern AS text) ESCAPE '\\' AS liked "
    "FROM (SELECT kesu_search_vector(CAST(:main AS text), CAST(:handling AS text), "
    "CAST(:contact AS text)) AS v) AS s"
)
PLACES = ("main", "handling", "contact")


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
            place = rng.choice(PLACES)  # the complaint's words, its handling, its contact data
            query = TextQuery(terms=(folded,), contact=True)
            params = {
                "doc": doc,
                **{p: (doc if p == place else "") for p in PLACES},
                "query": tsquery(query),
                "own": own_words_tsquery(query),
                "pattern": like_pattern(folded),
            }
            row = (await conn.execute(_CHECK, params)).one()
            assert row.liked == truth, (doc, term)
            if truth:
                assert row.candidate, (doc, term, place)  # recall: never missed
                found += 1
            if len(folded) <= 2:  # 1–2 characters: exact by the grams alone, tier included
                assert row.candidate == truth, (doc, term, place)
                assert row.own == (truth and place != "handling"), (doc, term, place)
            hidden = TextQuery(terms=(folded,), contact=False)
            if place == "contact" and len(folded) <= 2:
                params["query"] = tsquery(hidden)
                assert not (await conn.execute(_CHECK, params)).one().candidate
            checked += 1
    assert found > 100
    assert checked == 400
