"""Reference numbers (受理号) and the local clock conventions.

A reference is `KS-YYYYMMDD-NNNNNN`: the Asia/Shanghai date of registration and that day's
running number (six digits, more after the millionth complaint of a day). Numbers come from a
database sequence per day, so they are unique and never reused, and a failed registration only
leaves a gap.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERENCE_PATTERN = r"^KS-[0-9]{8}-[0-9]{6,9}$"
_REFERENCE = re.compile(REFERENCE_PATTERN)


def local_date(now: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    return now.astimezone(SHANGHAI).date()


def format_reference(day: date, number: int) -> str:
    if number < 1:
        raise ValueError("reference numbers start at 1")
    return f"KS-{day:%Y%m%d}-{number:06d}"


def is_reference(value: str) -> bool:
    return _REFERENCE.fullmatch(value) is not None
