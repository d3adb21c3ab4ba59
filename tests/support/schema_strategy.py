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


def _string(schema: JSON, name: str | None) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    fmt = schema.get("format")
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
    if name in ("phone", "caller_number"):
        return PHONES
    plain = st.text(min_size=low, max_size=min(high or 40, 40))
    edges = [value for value in ("x" * low, "x" * (high or 0), "x" * ((high or 0) + 1)) if value]
    return st.one_of(plain, TEXT, st.sampled_from(edges))


def from_schema(schema: JSON, defs: JSON | None = None, name: str | None = None) -> Any:
    """A strategy for the documents `schema` describes (`$defs` resolved from the root)."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs, name)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs, name) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, defs, k) for k, v in properties.items() if k in required},
            optional={
                k: from_schema(v, defs, k) for k, v in properties.items() if k not in required
            },
        )
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {}), defs, name),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**40)), schema.get("maximum", 2**40))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise ValueError(f"no strategy for {schema!r}")
