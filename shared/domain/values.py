"""Small value types shared by the domain models: safe text, phone numbers, money, instants.

Text that reaches PostgreSQL must be valid UTF-8 without NUL characters, and instants and ids
must fit its types; these types refuse anything else at the edge so a request never fails
half-way in the database.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def _clean(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError("text contains a NUL character or an unpaired surrogate")
    return value


ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_clean),
]
Name = ShortText
Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_clean),
]
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_clean),
]
# A full-text search query (`q`): may be blank (no search); no NUL, no unpaired surrogate.
SearchText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_clean)]
MediumText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_clean),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
    AfterValidator(_clean),
]
ComplaintText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20000),
    AfterValidator(_clean),
]


# Eleven bare digits of a Chinese mobile (13x to 19x), as call centres send them: what
# `phonenumbers.parse(value, "CN")` gives for them is this number in +86, read without the
# parser's two thirds of the work. Not 179…: the parser takes 179xx for a carrier code
# (national_prefix_for_parsing), nor 11x/12x, which it also strips
# (tests/domain/test_phone_numbers.py).
_BARE_CN_MOBILE = re.compile(r"1(?:[3-68-9][0-9]|7[0-8])[0-9]{8}")


# A registration from a call gives the same number twice (the customer's and the caller's),
# and parsing one with libphonenumber costs tens of microseconds: the last few are remembered.
# The answer depends on the text alone (and the library's metadata), so it never goes stale.
@functools.lru_cache(maxsize=256)
def normalize_phone(value: str) -> str:
    """Parse a phone number (China by default) and return it in E.164 form, e.g. +8613812345678.

    Mobile and fixed-line numbers of any country are accepted when `phonenumbers` says they are
    valid; a Chinese mobile number must have the right prefix and 11 digits.
    """
    _clean(value)
    if _BARE_CN_MOBILE.fullmatch(value):
        parsed = phonenumbers.PhoneNumber(country_code=86, national_number=int(value))
    else:
        try:
            parsed = phonenumbers.parse(value, "CN")
        except phonenumbers.NumberParseException as exc:
            raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number (validated with libphonenumber)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Validation context for data this service stored itself (its own projection rows): already
# validated and normalised on the way in, so the costly checks are not repeated on every read.
STORED: dict[str, bool] = {"stored": True}


def _phone(value: str, info: ValidationInfo) -> str:
    if info.context is STORED:
        return value
    return normalize_phone(value)


PhoneNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=32),
    AfterValidator(_phone),
]


def _email(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    if info.context is STORED and isinstance(value, str):
        return value
    return handler(value)


# An e-mail address, checked and normalised by email-validator: a tenth of a millisecond or
# more each time, not repeated for stored data (every read of a complaint validates its state).
Email = Annotated[EmailStr, WrapValidator(_email)]

# A direct work contact (seed 002 §5.3.1.3: 受理人联系方式): a desk line, optionally with an
# extension (转 / 分机 / ext / #), e.g. "0571-8888 8888 转 123" or "400-800-1234#6".
WorkContact = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=3,
        max_length=40,
        pattern=r"^\+?[0-9][0-9()\- ]{1,30}(\s*(转|分机|ext\.?|#)\s*[0-9]{1,8})?$",
    ),
]

# PostgreSQL's bigint: a larger id in a query fails in the driver instead of matching nothing.
MAX_ROW_ID = 2**63 - 1


def representable_instant(value: datetime) -> datetime:
    """The driver sends instants in UTC: one whose UTC form leaves Python's years 1–9999
    (0001-01-01T00:00+14:00 is still year 0 in UTC) cannot even be sent to PostgreSQL."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: in UTC the instant must fall in the years 1–9999") from None
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_text(value: object) -> object:
    """Dates and instants only as the ISO 8601 / RFC 3339 text the published schema names
    (format date, date-time): pydantic would also take a number as a Unix time (`to=0` was
    1970-01-01), which the schema forbids."""
    if isinstance(value, int | float | Decimal) or (
        isinstance(value, str | bytes) and not _ISO_DATE.match(str(value).strip())
    ):
        raise ValueError("give a date as YYYY-MM-DD, an instant as RFC 3339 text")
    return value


# A date or an instant a client sends (a query parameter or a body field).
IsoDate = Annotated[date, BeforeValidator(iso_text)]
IsoDateTime = Annotated[datetime, BeforeValidator(iso_text)]
# Every instant a client may send in a query: aware, and one PostgreSQL can be asked about.
Instant = Annotated[AwareDatetime, BeforeValidator(iso_text), AfterValidator(representable_instant)]

Money = Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), max_digits=12, decimal_places=2)]


_CN_MOBILE = re.compile(r"\+861\d{10}")


def mask_phone(e164: str) -> str:
    """138****1234 for Chinese numbers; keeps the country code for others (+44 79****0123).
    A Chinese mobile number is masked without parsing (the 台帐 masks a year of them)."""
    if _CN_MOBILE.fullmatch(e164):
        return f"{e164[3:6]}****{e164[-4:]}"
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "****"
    national = str(parsed.national_number)
    keep_head = 3 if len(national) >= 11 else max(len(national) // 3, 1)
    keep_tail = 4 if len(national) >= 8 else max(len(national) // 4, 1)
    masked = national[:keep_head] + "*" * (len(national) - keep_head - keep_tail)
    masked += national[-keep_tail:]
    return masked if parsed.country_code == 86 else f"+{parsed.country_code} {masked}"
