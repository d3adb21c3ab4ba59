"""Housekeeping: old idempotency keys go, tomorrow's reference sequence is ready, deadlines
left on an outdated calendar are recomputed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import text

from services.sla_worker.jobs.housekeeping import housekeeping
from shared.application.bootstrap import Collaborators
from shared.db.calendars import CalendarCache, calendar_cache
from shared.domain.reference import local_date
from tests.support.desk import (
    Desk,
    deadlines_of,
    events_of,
)
from tests.support.factories import complaint_body


async def test_purges_expired_idempotency_keys_and_prepares_tomorrow(desk: Desk) -> None:
    """On a database of the module's own (`desk`): housekeeping acts on the whole database —
    it drops the reference sequences of days more than a week past, and plans open cases
    again — so on the shared one it would restart the numbering of the past days other tests
    register on (tests/api/test_deadlines_flow.py after test_customer_informed.py: a
    duplicate 受理号)."""
    db, settings = desk.db, desk.settings
    desk.now = datetime.now(UTC)
    old_key, fresh_key = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    for key in (old_key, fresh_key):
        response = await desk.client.post(
            "/api/v1/complaints",
            json=complaint_body(),
            headers={**desk.integration, "Idempotency-Key": key},
        )
        assert response.status_code == 201
    async with db.connect() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '3 days' "
                "WHERE key = :key"
            ),
            {"key": f"key:{old_key}"},
        )
    await housekeeping({"collab": Collaborators(db, settings)})
    tomorrow = local_date(datetime.now(UTC)) + timedelta(days=1)
    async with db.connect() as conn:
        keys = {
            r[0]
            for r in await conn.execute(
                text("SELECT key FROM idempotency_keys WHERE key IN (:a, :b)"),
                {"a": f"key:{old_key}", "b": f"key:{fresh_key}"},
            )
        }
        sequence = (
            await conn.execute(
                text("SELECT to_regclass(:name)"),
                {"name": f"complaint_reference_{tomorrow:%Y%m%d}"},
            )
        ).scalar_one()
    assert keys == {f"key:{fresh_key}"}
    assert sequence is not None


# --- deadlines left on an outdated calendar ------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _nth_working_day_end(start: datetime, n: int) -> datetime:
    """Counted with chinesecalendar directly: an independent source, not the code under test."""
    day, counted = start.astimezone(SHANGHAI).date(), 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return datetime(day.year, day.month, day.day, 18, tzinfo=SHANGHAI)


async def test_deadlines_made_definite_by_seeding_are_recomputed(desk: Desk) -> None:
    """A process seeds the years the library knows on its first use of the calendar, and
    recomputes nothing there; the worker's housekeeping recomputes what that made definite."""
    async with desk.db.connect() as conn:
        await calendar_cache.get(conn)  # this process has seeded this database
        # Back to before the library knew 2026 (as with an older chinesecalendar).
        await conn.execute(
            text(
                "DELETE FROM calendar_days WHERE calendar_code = 'default' AND day >= '2026-01-01'"
            )
        )
        await conn.execute(
            text(
                "UPDATE calendars SET known_until = '2025-12-31', "
                "version = version + 1 WHERE code = 'default'"
            )
        )
    calendar_cache.invalidate()
    registered = datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI)  # before Spring Festival
    body = complaint_body()
    body["product"]["purchase_date"] = "2026-01-20"
    complaint = await desk.register(registered, **body)
    before = {d["stage"]: d for d in await deadlines_of(desk.db, complaint["id"])}
    assert before["resolution"]["provisional"] is True
    # Another process's first use (a fresh cache) seeds 2026, which moves the deadline.
    async with desk.db.connect() as conn:
        seeded = await CalendarCache().get(conn)
    assert seeded.known_until == date(2026, 12, 31)
    assert {d["stage"]: d for d in await deadlines_of(desk.db, complaint["id"])} == before

    done = await housekeeping({"collab": Collaborators(desk.db, desk.settings)})
    assert done["deadlines"] >= 2  # resolution and progress update
    after = {d["stage"]: d for d in await deadlines_of(desk.db, complaint["id"])}
    resolution = after["resolution"]
    # 13 February, then 14 February (a Saturday 调休 working day), then after the holiday.
    assert resolution["due_at"] == _nth_working_day_end(registered, 3)
    assert resolution["due_at"] != before["resolution"]["due_at"]
    assert resolution["provisional"] is False
    assert resolution["calendar_version"] == seeded.version
    # Seed 002 §5.1.1: 1 working day, counted on the calendar too.
    assert after["first_contact"]["due_at"] == _nth_working_day_end(registered, 1)
    recomputed = [
        e for e in await events_of(desk.db, complaint["id"]) if e["type"] == "deadlines.recomputed"
    ]
    assert len(recomputed) == 1
    assert recomputed[0]["payload"]["calendar_version"] == seeded.version
    moved = {d["stage"]: d for d in recomputed[0]["payload"]["deadlines"]}
    assert datetime.fromisoformat(moved["resolution"]["due_at"]) == resolution["due_at"]

    # Nothing is left stale: running again recomputes nothing and writes no event.
    again = await housekeeping({"collab": Collaborators(desk.db, desk.settings)})
    assert again["deadlines"] == 0
    types = [e["type"] for e in await events_of(desk.db, complaint["id"])]
    assert types.count("deadlines.recomputed") == 1
