"""Hypothesis strategies for the JSON documents a JSON schema (a pydantic model's) describes.

Every property of every object may appear, each value within the schema's types, enums, lengths,
patterns and ranges, and strings often take realistic values for their format or field name
(valid phone numbers, e-mail addresses, URLs, dates), so that a good share of the documents
passes the model's own validators too and reaches the code behind them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

JSON = dict[str, Any]

# Values of the phone fields: valid Chinese mobile and landline numbers, foreign ones, junk.
PHONES = st.one_of(
    st.integers(10**8, 10**9 - 1).map(lambda n: f"139{n:08d}"[:11]),
    st.sampled_from(
        ["+8613912345678", "010-62345678", "0755 8765 4321", "+44 7911 123456", "12345", "abc"]
    ),
)
URLS = st.one_of(
    st.sampled_from(
        [
            "https://a.cn/x",
            "http://例子.测试/投诉?id=1",
            "https://shop.example.com/orders/8842#detail",
            "http://127.0.0.1:8000/",
            "https://[2001:db8::1]/x",
            "ftp://files.example.com/a.jpg",
            "https://a.cn/" + "x" * 1990,
            "not a url",
        ]
    ),
    st.from_regex(r"\Ahttps?://[a-z0-9]{1,12}\.(cn|com|中国)(/[a-zA-Z0-9%._~-]{0,20}){0,3}\Z"),
)
DATES = st.dates(date(1980, 1, 1), date(2030, 12, 31)).map(date.isoformat)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-14))])
INSTANTS = st.one_of(
    st.datetimes(
        datetime(1990, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=ZONES,
    ).map(datetime.isoformat),
    st.sampled_from(["2026-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "yesterday"]),
)
TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["洗衣机漏水", "  ", "退款", "曝光", "媒体", "12315", "\u3000投诉\u3000"]),
)


# Plausible values: what a well-behaved client sends for each format or field.
PLAUSIBLE_TEXT = st.text(
    alphabet=st.characters(categories=["L", "N"]) | st.sampled_from("洗衣机漏水 ,。-"),
    min_size=1,
    max_size=30,
).filter(str.strip)
PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    "uri": st.sampled_from(
        ["https://a.cn/x", "http://例子.测试/投诉?id=1", "https://shop.example.com/o/8842#d"]
    ),
    "email": st.sampled_from(["wang.fang@example.com", "li@a.cn", "x+1@mail.example.org"]),
    "date": st.dates(date(2000, 1, 1), date(2025, 12, 31)).map(date.isoformat),
    "date-time": st.datetimes(
        datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        datetime(2025, 12, 31),  # noqa: DTZ001
        timezones=ZONES,
    ).map(datetime.isoformat),
    "uuid": st.uuids().map(str),
    "phone": st.integers(0, 10**8 - 1).map(lambda n: f"139{n:08d}"),
}


def _string(schema: JSON, name: str | None, plausible: bool) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    fmt = schema.get("format")
    if name in ("phone", "caller_number"):
        fmt = "phone"
    if plausible:
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return PLAUSIBLE.get(fmt or "", PLAUSIBLE_TEXT)
    if "pattern" in schema:
        return st.one_of(st.from_regex(schema["pattern"], fullmatch=True), TEXT)
    if fmt == "uri":
        return URLS
    if fmt == "email":
        return st.one_of(st.emails(), st.sampled_from(["a@b", "张伟@例子.中国", "x@y.cn"]))
    if fmt == "date":
        return st.one_of(DATES, st.sampled_from(["2026-02-30", "26-01-01"]))
    if fmt == "date-time":
        return INSTANTS
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "phone":
        return PHONES
    plain = st.text(min_size=low, max_size=min(high or 40, 40))
    edges = [value for value in ("x" * low, "x" * (high or 0), "x" * ((high or 0) + 1)) if value]
    return st.one_of(plain, TEXT, st.sampled_from(edges))


def from_schema(
    schema: JSON, defs: JSON | None = None, name: str | None = None, *, plausible: bool = False
) -> Any:
    """A strategy for the documents `schema` describes (`$defs` resolved from the root).

    `plausible`: every property present, each with a value a well-behaved client would send,
    so that most documents pass the model's own validators too and reach what lies behind."""
    defs = schema.get("$defs", {}) if defs is None else defs

    def inner(sub: JSON, field: str | None = name) -> Any:
        return from_schema(sub, defs, field, plausible=plausible)

    if "$ref" in schema:
        return inner(defs[schema["$ref"].rsplit("/", 1)[1]])
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if not (plausible and b.get("type") == "null")]
        return st.one_of([inner(b) for b in branches])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ())) | (set(properties) if plausible else set())
        return st.fixed_dictionaries(
            {k: inner(v, k) for k, v in properties.items() if k in required},
            optional={k: inner(v, k) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        return st.lists(
            inner(schema.get("items", {})),
            min_size=max(schema.get("minItems", 0), 1 if plausible else 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    if kind == "string":
        return _string(schema, name, plausible)
    if kind == "integer":
        low = schema.get("minimum", 0 if plausible else -(2**40))
        return st.integers(
            low, min(schema.get("maximum", 2**40), low + 1000 if plausible else 2**40)
        )
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise ValueError(f"no strategy for {schema!r}")
