"""What the calendar endpoints accept and return."""

from __future__ import annotations

import re
from datetime import date, time
from itertools import pairwise
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from services.intake_api.complaints.schemas import LocalTime
from shared.db.calendars import DaySource
from shared.domain.calendar import DayOverride, DayType
from shared.domain.values import IsoDate, ShortText

FIRST_YEAR, LAST_YEAR = 2000, 2100
CALENDAR_CODE = r"^[a-z][a-z0-9_-]{1,31}$"
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)")
    return value


def _in_supported_years(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"the calendar covers {FIRST_YEAR}–{LAST_YEAR}")
    return value


def _clock(value: object) -> object:
    """Working hours are local wall-clock times written "HH:MM" (no seconds, no offset)."""
    if isinstance(value, str) and re.fullmatch(CLOCK, value):
        return time(int(value[:2]), int(value[3:]))
    if isinstance(value, time) and value.tzinfo is None:  # read back from the database
        return value
    # Not a number either: pydantic would read 0 as midnight UTC, an aware time.
    raise ValueError('write the time as "HH:MM", e.g. "09:00"')


Zone = Annotated[str, AfterValidator(_zone)]
# Not `format: time`: JSON Schema's time is RFC 3339 and needs an offset, which a local
# working hour does not have.
ClockTime = Annotated[
    time,
    BeforeValidator(_clock),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": CLOCK, "examples": ["09:00"]}),
]
CalendarDate = Annotated[IsoDate, AfterValidator(_in_supported_years)]


def _printable(value: str) -> str:
    # PostgreSQL text refuses NUL; unpaired surrogates cannot be encoded as UTF-8.
    if any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in value):
        raise ValueError("text contains a NUL character or an unpaired surrogate")
    return value


DayName = Annotated[str, Field(max_length=50, examples=["国庆节"]), AfterValidator(_printable)]


class CalendarIn(BaseModel):
    """A calendar's name, zone and working hours (工作时间), optionally with a lunch break."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText = Field(examples=["默认工作日历"])
    tz: Zone = "Asia/Shanghai"
    work_start: ClockTime = time(9)
    work_end: ClockTime = time(18)
    lunch_start: ClockTime | None = None
    lunch_end: ClockTime | None = None

    @model_validator(mode="after")
    def _hours_in_order(self) -> CalendarIn:
        if (self.lunch_start is None) != (self.lunch_end is None):
            raise ValueError("give both lunch_start and lunch_end, or neither")
        bounds = [self.work_start, self.lunch_start, self.lunch_end, self.work_end]
        present = [t for t in bounds if t is not None]
        if any(a >= b for a, b in pairwise(present)):
            raise ValueError("need work_start < lunch_start < lunch_end < work_end")
        return self


class CalendarOut(BaseModel):
    code: str
    name: str
    tz: str
    work_start: ClockTime
    work_end: ClockTime
    lunch_start: ClockTime | None
    lunch_end: ClockTime | None
    known_from: date | None = Field(description="First day with an official schedule")
    known_until: date | None = Field(description="Last day with an official schedule")
    provisional_after: date | None = Field(
        description="Deadlines on days after this one are computed with a fallback (weekends "
        "and fixed-date holidays only) and marked provisional"
    )
    warning: str | None = Field(description="Set when the known range ends soon or has ended")
    version: int = Field(description="Bumped by every change of the calendar")
    updated_at: LocalTime


class CalendarChangeOut(BaseModel):
    version: int = Field(description="The calendar's version after the change")
    affected_open_deadlines: int = Field(
        description="Open deadlines that the change may move; they are recomputed"
    )


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: DayType = Field(description="holiday: a day off; workday: a working day (调休上班)")
    name: DayName = ""


class ScheduleDay(DayIn):
    day: CalendarDate

    def override(self) -> DayOverride:
        return DayOverride(day=self.day, type=self.type, name=self.name)


class DayOut(BaseModel):
    day: date
    type: DayType
    name: str
    source: DaySource
    updated_at: LocalTime


class DayChangeOut(DayOut, CalendarChangeOut):
    pass


class DayStatusOut(BaseModel):
    day: date
    working: bool = Field(description="Whether the day is a working day (工作日)")
    provisional: bool = Field(description="Outside the range with an official schedule")
    override: DayOut | None = Field(description="The stored entry for the day, if any")


class YearIn(BaseModel):
    """A year's schedule (放假安排) as published by the State Council: the weekday holidays
    and the weekend make-up working days. It replaces whatever the calendar had for the year."""

    model_config = ConfigDict(extra="forbid")

    year: StrictInt = Field(ge=FIRST_YEAR, le=LAST_YEAR, examples=[2027])
    days: list[ScheduleDay] = Field(max_length=366)


class YearLoadedOut(CalendarChangeOut):
    year: int
    days: int = Field(description="Days stored for the year")
    replaced: int = Field(description="Days of that year removed first")
    known_from: date
    known_until: date
