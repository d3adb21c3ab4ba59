"""The sample 2027 calendar files the README points at are in the format `make calendar-load`
reads (`shared.calendar_data.load_schedule_file`): one year, holidays and 调休 workdays."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake_api.calendar.cli import year_of
from shared.calendar_data import load_schedule_file
from shared.domain.calendar import DayType

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.mark.parametrize("name", ["calendar-2027.example.json", "calendar-2027.example.csv"])
def test_the_sample_calendar_files_load(name: str) -> None:
    days = load_schedule_file(SAMPLES / name)
    assert year_of(days, None) == 2027
    by_day = {d.day.isoformat(): d for d in days}
    assert by_day["2027-10-01"].type is DayType.HOLIDAY
    make_up = by_day["2027-10-09"]
    assert make_up.type is DayType.WORKDAY
    assert make_up.day.weekday() == 5  # a Saturday worked (调休)
    assert make_up.name == "国庆节调休"
