"""Where the business calendar's data come from: chinesecalendar and schedule files.

`shared.domain.calendar` is pure and knows no data source; this module (outside the domain,
because it imports the `chinese_calendar` package and reads files) turns the published
schedules into `DayOverride`s:

- `chinese_statutory_overrides()`: every statutory holiday on a weekday (法定节假日) and every
  make-up working day on a weekend (调休上班) that chinesecalendar knows, with Chinese names,
  plus the range of years it knows. The range is detected by asking the library (it raises
  `NotImplementedError` for any other year); nothing is guessed for years it does not know.
- `load_schedule_file(path)`: a year's schedule typed in by an admin when the State Council
  publishes it (every November), as JSON or CSV. The format is documented on the function.
- `default_calendar()`: a `BusinessCalendar` seeded from chinesecalendar.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar
from pydantic import TypeAdapter

from shared.domain.calendar import BusinessCalendar, DayOverride, DayType

__all__ = [
    "chinese_statutory_overrides",
    "chinesecalendar_years",
    "default_calendar",
    "load_schedule_file",
]

# Where to look for the library's range; far wider than any release will ever cover.
_PROBE_YEARS = range(1949, 2200)
_OVERRIDES = TypeAdapter(list[DayOverride])


def chinesecalendar_years() -> range:
    """The contiguous range of years chinesecalendar has data for (2004–2026 in 1.11.0)."""
    known = [year for year in _PROBE_YEARS if _library_knows(year)]
    if not known:
        raise RuntimeError("chinesecalendar knows no year at all")
    years = range(known[0], known[-1] + 1)
    if len(known) != len(years):
        raise RuntimeError(f"chinesecalendar's years are not contiguous: {known}")
    return years


def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _chinese_name(english: str | None) -> str:
    """The library names days in English ("National Day"); its `Holiday` enum has 国庆节."""
    if english is None:
        return ""
    try:
        return str(chinese_calendar.Holiday(english).chinese)
    except ValueError:
        return english


@cache
def _overrides_and_range() -> tuple[tuple[DayOverride, ...], date, date]:
    years = chinesecalendar_years()
    first, last = date(years.start, 1, 1), date(years.stop - 1, 12, 31)
    # The library's own tables, read the way its `is_workday` reads them (a listed workday
    # wins; a listed holiday closes a weekday). Asking `is_workday` day by day gives the same
    # answer (tests/domain/test_calendar_sources.py checks) but costs a scan per call.
    holidays: dict[date, str] = chinese_calendar.holidays
    workdays: dict[date, str] = chinese_calendar.workdays
    overrides = [
        DayOverride(day=day, type=DayType.HOLIDAY, name=_chinese_name(name))
        for day, name in holidays.items()
        if day.weekday() < 5 and day not in workdays and first <= day <= last
    ]
    overrides += [
        DayOverride(day=day, type=DayType.WORKDAY, name=f"{_chinese_name(name)}调休")
        for day, name in workdays.items()
        if day.weekday() >= 5 and first <= day <= last
    ]
    overrides.sort(key=lambda override: override.day)
    return tuple(overrides), first, last


def chinese_statutory_overrides() -> tuple[list[DayOverride], date, date]:
    """(overrides, known_from, known_until) from chinesecalendar, the range inclusive.

    Only days whose status differs from Mon–Fri are listed: holidays on weekdays and make-up
    working days (调休上班) on weekends; a holiday falling on a weekend changes nothing.
    """
    overrides, first, last = _overrides_and_range()
    return list(overrides), first, last


def load_schedule_file(path: str | Path) -> list[DayOverride]:
    """Read a schedule (放假安排) file: JSON (``.json``) or CSV (any other suffix).

    JSON is a list of days, or an object with such a list under ``"days"``::

        {"year": 2027, "days": [
            {"day": "2027-10-01", "type": "holiday", "name": "国庆节"},
            {"day": "2027-10-09", "type": "workday", "name": "国庆节调休"}
        ]}

    CSV has the header ``day,type,name`` (``name`` may be empty), UTF-8::

        day,type,name
        2027-10-01,holiday,国庆节
        2027-10-09,workday,国庆节调休

    ``type`` is ``holiday`` (a non-working day) or ``workday`` (a working day, e.g. 调休上班).
    The dates above illustrate the format only; they are not a published schedule. A day
    listed twice with different types is an error.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    raw: Any
    if path.suffix.lower() == ".json":
        raw = json.loads(text)
        if isinstance(raw, dict):
            raw = raw.get("days")
    else:
        raw = list(csv.DictReader(io.StringIO(text, newline="")))
    overrides = _OVERRIDES.validate_python(raw)
    seen: dict[date, DayType] = {}
    for override in overrides:
        if seen.setdefault(override.day, override.type) != override.type:
            raise ValueError(f"{path}: {override.day} is both a holiday and a workday")
    return overrides


@cache
def default_calendar() -> BusinessCalendar:
    """The 09:00–18:00 Asia/Shanghai calendar seeded from chinesecalendar (shared: immutable)."""
    overrides, first, last = chinese_statutory_overrides()
    return BusinessCalendar(overrides=overrides, known_from=first, known_until=last)
