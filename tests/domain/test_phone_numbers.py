"""Normalising a phone number (shared.domain.values.normalize_phone): eleven bare digits of a
Chinese mobile skip the parser, to exactly what parsing gives."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.values import normalize_phone


def _parsed(value: str) -> str:
    """What the parser says of `value`: its E.164 form, or why it is refused."""
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return "not a phone number"
    if not phonenumbers.is_valid_number(parsed):
        return "not a valid phone number (validated with libphonenumber)"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _normalised(value: str) -> str:
    try:
        return normalize_phone(value)
    except ValueError as exc:
        return str(exc)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_eleven_digits_from_1_are_normalised_as_parsing_would(rest: str) -> None:
    assert _normalised(f"1{rest}") == _parsed(f"1{rest}")


def test_every_prefix_of_a_mobile_is_normalised_as_parsing_would() -> None:
    for head in (f"1{n:03d}" for n in range(1000)):
        for tail in ("0000000", "3400237", "9999999"):
            assert _normalised(head + tail) == _parsed(head + tail), head + tail


def test_the_parser_still_reads_what_is_not_eleven_bare_digits() -> None:
    assert normalize_phone("+86 138 1234 5678") == "+8613812345678"
    assert normalize_phone("138-1234-5678") == "+8613812345678"
    assert normalize_phone("010-12345678") == "+861012345678"
    # 179xx is a carrier code to the parser: what is left is too short to be a number.
    with pytest.raises(ValueError, match="not a phone number"):
        normalize_phone("17934002379")
