"""Masking a phone number (shared.domain.values.mask_phone): a Chinese mobile number is masked
without parsing it (the 台帐 masks a year of them), to exactly what parsing gives."""

from __future__ import annotations

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.values import mask_phone


def _parsed_mask(e164: str) -> str:
    """The mask by parsing, as for any number: head 3 and tail 4 of an 11-digit national
    number, no country code for China."""
    national = str(phonenumbers.parse(e164, None).national_number)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_a_chinese_mobile_number_is_masked_as_parsing_would(rest: str) -> None:
    e164 = f"+861{rest}"
    assert mask_phone(e164) == _parsed_mask(e164)
    assert mask_phone(e164) == f"1{rest[:2]}****{rest[-4:]}"


def test_other_numbers_still_go_through_parsing() -> None:
    assert mask_phone("+861012345678") == "101***5678"  # a Beijing landline: 10 digits
    assert mask_phone("+447911123456") == "+44 791***3456"
    assert mask_phone("not a number") == "****"
