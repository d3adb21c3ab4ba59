"""The bigram index finds exactly what `LIKE` finds (issue 13; FACTS.md "Search in Chinese"):
random texts and terms over an alphabet of Chinese, ASCII of both cases, digits, quotes,
LIKE's wildcards, backslashes and whitespace (the ideographic space included), checked in
PostgreSQL against `strpos` on the case-folded text — the ground truth is computed here."""

from __future__ import annotations

import random

import orjson
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


_COLUMN_AND_QUERY_SIDES = text(
    "SELECT kesu_search_main(:ref, :content, CAST(:product AS jsonb), CAST(:subject AS jsonb),"
    "  CAST(:desired AS jsonb), CAST(:meta AS jsonb)) AS main,"
    " kesu_search_main_text(:ref, :content, CAST(:product AS jsonb), CAST(:subject AS jsonb),"
    "  CAST(:desired AS jsonb), CAST(:meta AS jsonb)) AS main_text,"
    " kesu_search_handling(CAST(:investigation AS jsonb), :cause, CAST(:solution AS jsonb),"
    "  CAST(:actions AS jsonb), CAST(:reply AS jsonb), :notes) AS handling,"
    " kesu_search_handling_text(CAST(:investigation AS jsonb), :cause, CAST(:solution AS jsonb),"
    "  CAST(:actions AS jsonb), CAST(:reply AS jsonb), :notes) AS handling_text,"
    " kesu_search_contact(CAST(:customer AS jsonb)) AS contact,"
    " kesu_search_contact_text(CAST(:customer AS jsonb)) AS contact_text"
)


async def test_the_columns_functions_compute_the_query_sides_texts(db: Database) -> None:
    """Migration 0053: the generated column calls PL/pgSQL functions (opaque to the planner),
    the query side the SQL texts they wrap; both must say the same for every field."""
    rng = random.Random(53)
    async with db.connect() as conn:

        def word() -> str | None:
            return _doc(rng) if rng.random() < 0.8 else None

        for _ in range(60):
            remedies = [{"amount": str(rng.randrange(500)), "description": word()}]
            params = {
                "ref": word(),
                "content": word(),
                "product": orjson.dumps(
                    {"model": word(), "serial_number": word(), "symptom": word()}
                ).decode(),
                "subject": orjson.dumps({"staff_name": word(), "shop": word()}).decode(),
                "desired": orjson.dumps({"detail": word()}).decode(),
                "meta": orjson.dumps({"regulator_case_number": word()}).decode(),
                "investigation": orjson.dumps({"findings": word()}).decode(),
                "cause": word(),
                "solution": orjson.dumps({"description": word(), "remedies": remedies}).decode(),
                "actions": orjson.dumps([{"description": word(), "note": word()}]).decode(),
                "reply": orjson.dumps({"content": word()}).decode(),
                "notes": word(),
                "customer": orjson.dumps({"name": word(), "phone": word()}).decode(),
            }
            row = (await conn.execute(_COLUMN_AND_QUERY_SIDES, params)).one()
            assert row.main == row.main_text
            assert row.handling == row.handling_text
            assert row.contact == row.contact_text
            assert params["content"] is None or (params["content"] in row.main)
