"""Handling time is counted in PostgreSQL (shared/db/reports.py, `RESOLVED`) on the domain's
`WorkingClock` table: the database's position of an instant must be the clock's own, which
agrees with the business calendar (tests/domain/test_reports.py) — weekends, the lunch break,
国庆 and its 调休 Saturday, instants on the hour and between."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.calendar_data import default_calendar
from shared.db import reports as repo
from shared.db.engine import Database, fetch
from shared.domain.reports import WorkingClock

# The positions of a list of instants, with the statement's own parameters $5–$9 (the clock);
# $2–$4 are the statement's period and scope, unused here but typed.
_POSITIONS = f"""
SELECT u.t, {repo._position(repo._local("u.t"))} AS position,
       $2::int AS unused_2, $3::int AS unused_3, $4::int AS unused_4
FROM unnest($1::timestamptz[]) WITH ORDINALITY AS u(t, i)
ORDER BY u.i
"""


async def test_the_database_counts_working_time_as_the_clock_does(db: Database) -> None:
    calendar = default_calendar()
    clock = WorkingClock(calendar, date(2025, 12, 1), date(2027, 1, 31))
    first, before, working, bounds = clock.table()
    rng = random.Random(12)
    start = datetime(2025, 12, 1, tzinfo=UTC)
    instants = [start + timedelta(seconds=rng.randrange(0, 420 * 86_400)) for _ in range(2000)]
    # On the bounds of the working day (+08:00): 09:00, 12:00, 13:00, 18:00, and around 国庆.
    for day in (date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 8), date(2026, 10, 10)):
        for hour in (0, 1, 4, 5, 10, 11, 12):
            instants.append(datetime(day.year, day.month, day.day, hour, 30, tzinfo=UTC))
            instants.append(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
    async with db.connect() as conn:
        rows = await fetch(
            conn,
            _POSITIONS,
            instants,
            None,
            None,
            None,
            first.toordinal() - date(1970, 1, 1).toordinal(),
            calendar.tz,
            before,
            working,
            bounds,
        )
    assert len(rows) == len(instants)
    for t, row in zip(instants, rows, strict=True):
        assert row["position"] == pytest.approx(clock.position(t), abs=1e-6), t
