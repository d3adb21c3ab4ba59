"""The seeded calendar against its source (chinesecalendar) and an independent one (holidays).

`holidays.China` (holidays 0.109) lists the days off as holidays and the make-up working
days (调休上班) in `weekend_workdays`; its `is_working_day` combines both. Compared day by day
with chinesecalendar 1.11.0 over every year both know (2004–2026), they agree on every date
except one: 2005-12-31, a Saturday that holidays counts as a make-up working day for the 2006
New Year break and chinesecalendar counts as a rest day. That single disagreement is pinned
below so a change in either library shows up.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import holidays
import pytest
from pydantic import ValidationError

from shared.calendar_data import (
    chinese_statutory_overrides,
    chinesecalendar_years,
    default_calendar,
    load_schedule_file,
)
from shared.domain.calendar import DayOverride, DayType

KNOWN_DISAGREEMENTS = {date(2005, 12, 31)}


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def test_the_detected_range_is_what_the_library_supports() -> None:
    years = chinesecalendar_years()
    assert (years.start, years.stop - 1) == (2004, 2026)
    for outside in (years.start - 1, years.stop):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(outside, 6, 1))
    _, known_from, known_until = chinese_statutory_overrides()
    assert (known_from, known_until) == (date(2004, 1, 1), date(2026, 12, 31))


def test_no_override_for_a_year_the_library_does_not_know() -> None:
    overrides, known_from, known_until = chinese_statutory_overrides()
    assert overrides
    assert all(known_from <= o.day <= known_until for o in overrides)
    # holidays.China would happily invent 2027 (春节 without make-up days); we must not.
    assert holidays.China(years=2027)
    assert not any(o.day.year == 2027 for o in overrides)
    assert default_calendar().is_provisional_day(date(2027, 1, 1))


def test_overrides_only_list_days_that_differ_from_monday_to_friday() -> None:
    overrides, _, _ = chinese_statutory_overrides()
    for override in overrides:
        weekday = override.day.weekday() < 5
        assert weekday == (override.type is DayType.HOLIDAY), override
    assert len({o.day for o in overrides}) == len(overrides)


def test_names_are_chinese() -> None:
    by_day = {o.day: o for o in chinese_statutory_overrides()[0]}
    assert date(2026, 10, 8) not in by_day  # an ordinary Thursday after the holiday
    assert by_day[date(2025, 1, 28)] == DayOverride(
        day=date(2025, 1, 28), type=DayType.HOLIDAY, name="春节"
    )
    assert by_day[date(2026, 10, 10)] == DayOverride(
        day=date(2026, 10, 10), type=DayType.WORKDAY, name="国庆节调休"
    )
    assert by_day[date(2026, 1, 2)].name == "元旦"


@pytest.mark.parametrize("year", list(range(2004, 2027)))
def test_seeded_calendar_matches_chinesecalendar_every_day(year: int) -> None:
    calendar = default_calendar()
    wrong = [
        d for d in days_of(year) if calendar.is_working_day(d) != chinese_calendar.is_workday(d)
    ]
    assert wrong == []


@pytest.mark.parametrize("year", list(range(2004, 2027)))
def test_seeded_calendar_matches_holidays_china_every_day(year: int) -> None:
    calendar = default_calendar()
    # Neighbouring years too: a make-up day can belong to the next year's schedule.
    reference = holidays.China(years=range(year - 1, year + 2))
    wrong = {d for d in days_of(year) if calendar.is_working_day(d) != reference.is_working_day(d)}
    assert wrong == {d for d in KNOWN_DISAGREEMENTS if d.year == year}


def test_make_up_days_are_a_category_holidays_knows() -> None:
    """The cross-check is only meaningful if holidays really models 调休上班."""
    reference = holidays.China(years=range(2024, 2027))
    for make_up in (date(2025, 1, 26), date(2025, 2, 8), date(2025, 9, 28), date(2026, 10, 10)):
        assert make_up.weekday() >= 5
        assert reference.is_working_day(make_up)
    assert not reference.is_working_day(date(2025, 10, 8))


# -- schedule files --------------------------------------------------------------------------


def test_load_json_schedule(tmp_path: Path) -> None:
    path = tmp_path / "schedule.json"
    days = [
        {"day": "2030-10-01", "type": "holiday", "name": "国庆节"},
        {"day": "2030-10-12", "type": "workday", "name": "国庆节调休"},
    ]
    path.write_text(json.dumps({"year": 2030, "days": days}, ensure_ascii=False), encoding="utf-8")
    assert load_schedule_file(path) == [
        DayOverride(day=date(2030, 10, 1), type=DayType.HOLIDAY, name="国庆节"),
        DayOverride(day=date(2030, 10, 12), type=DayType.WORKDAY, name="国庆节调休"),
    ]
    path.write_text(json.dumps(days[:1]), encoding="utf-8")  # a bare list works too
    assert load_schedule_file(path)[0].day == date(2030, 10, 1)


def test_load_csv_schedule(tmp_path: Path) -> None:
    path = tmp_path / "schedule.csv"
    path.write_text(
        "day,type,name\n2030-10-01,holiday,国庆节\n2030-10-12,workday,\n", encoding="utf-8"
    )
    assert load_schedule_file(path) == [
        DayOverride(day=date(2030, 10, 1), type=DayType.HOLIDAY, name="国庆节"),
        DayOverride(day=date(2030, 10, 12), type=DayType.WORKDAY),
    ]


def test_bad_schedule_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "schedule.csv"
    path.write_text("day,type,name\n2030-10-01,holiday,\n2030-10-01,workday,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="both"):
        load_schedule_file(path)
    path.write_text("day,type,name\n2030-10-01,day_off,\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        load_schedule_file(path)
