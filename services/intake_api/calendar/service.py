"""The business calendar's use cases (工作日历管理): read it, change days, load a year, seed.

Every change runs in one transaction that also bumps the calendar's version, calls
`on_calendar_changed` (open deadlines are recomputed there) and appends the audit entry; the
process's calendar cache is invalidated after the commit. The API and the calendar CLI share
these functions; each passes the `AuditContext` the change is recorded with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.recompute import recompute_open_deadlines
from shared.db import audit as audit_log
from shared.db import calendars as repo
from shared.db.audit import AuditContext, AuditRecord
from shared.db.calendars import DEFAULT_CALENDAR, DaySource, LoadedCalendar, calendar_cache
from shared.db.engine import Database
from shared.domain.calendar import DayOverride, DayType
from shared.domain.errors import NotFound
from shared.domain.reference import local_date

# Readiness warns this long before the known range ends: a 15-working-day deadline planned
# then already reaches past it. The next year's schedule is published every November.
WARN_DAYS_BEFORE_END = 60


@dataclass(frozen=True)
class CalendarChange:
    version: int
    affected_open_deadlines: int


async def on_calendar_changed(
    conn: AsyncConnection,
    *,
    code: str,
    version: int,
    first_day: date | None,
    last_day: date | None,
    now: datetime,
) -> int:
    """Called in the transaction of every calendar change, after the version bump: the open
    deadlines the changed days (or working hours, when both are None) may move are counted
    again on the new calendar, with a `deadlines.recomputed` event on each complaint whose
    deadlines moved (shared.application.recompute). Returns how many deadlines moved."""
    del version  # the recompute reads the calendar as this transaction sees it
    return await recompute_open_deadlines(
        conn, first_day=first_day, last_day=last_day, now=now, code=code
    )


def calendar_warning(known_until: date | None, today: date) -> str | None:
    """A sentence for ops when the official schedule ends soon (or has ended), else None."""
    if known_until is None:
        return "工作日历还没有任何年份的放假安排：所有时限都按临时规则计算（provisional）。"
    if today > known_until:
        return (
            f"工作日历只到 {known_until}，今天已超出：新时限按周末和固定日期节假日临时计算"
            f"（provisional）。请加载 {known_until.year + 1} 年放假安排。"
        )
    if (known_until - today).days <= WARN_DAYS_BEFORE_END:
        return (
            f"工作日历只到 {known_until}：此后的时限按周末和固定日期节假日临时计算"
            f"（provisional）。国务院公布 {known_until.year + 1} 年放假安排后请加载。"
        )
    return None


async def _loaded(db: Database, code: str) -> LoadedCalendar:
    """The calendar through the cache (which seeds missing library years on first use)."""
    try:
        async with db.connect() as conn:
            return await calendar_cache.get(conn, code)
    except LookupError:
        raise NotFound(f"no calendar {code!r}") from None


def _info(row: dict[str, Any], today: date) -> dict[str, Any]:
    known_until = row["known_until"]
    return {
        **row,
        "provisional_after": known_until,
        "warning": calendar_warning(known_until, today),
    }


async def list_calendars(db: Database, *, now: datetime) -> list[dict[str, Any]]:
    await _loaded(db, DEFAULT_CALENDAR)
    async with db.connect() as conn:
        rows = await repo.list_rows(conn)
    return [_info(r, local_date(now)) for r in rows]


async def calendar_info(db: Database, code: str, *, now: datetime) -> dict[str, Any]:
    await _loaded(db, code)
    async with db.connect() as conn:
        row = await repo.get_row(conn, code)
    if row is None:
        raise NotFound(f"no calendar {code!r}")
    return _info(row, local_date(now))


async def list_days(
    db: Database,
    code: str,
    *,
    first: date | None,
    last: date | None,
    type_: DayType | None,
    source: DaySource | None,
) -> list[dict[str, Any]]:
    await _loaded(db, code)
    async with db.connect() as conn:
        return await repo.list_days(conn, code, first=first, last=last, type_=type_, source=source)


async def day_status(db: Database, code: str, day: date) -> dict[str, Any]:
    loaded = await _loaded(db, code)
    async with db.connect() as conn:
        override = await repo.get_day(conn, code, day)
    calendar = loaded.calendar
    return {
        "day": day,
        "working": calendar.is_working_day(day),
        "provisional": calendar.is_provisional_day(day),
        "override": override,
    }


async def put_calendar(
    db: Database, code: str, values: dict[str, Any], *, audit: AuditContext, now: datetime
) -> tuple[dict[str, Any], bool, CalendarChange]:
    """Create a calendar (seeded from chinesecalendar) or change its hours. Returns the
    calendar as `calendar_info` shows it, whether it was created, and the change."""
    async with db.begin() as conn:
        row, created = await repo.upsert_calendar(conn, code, values, now=now)
        if created:
            await repo.seed_missing_years(conn, code, now=now)
            row = await repo.get_row(conn, code) or row
        affected = await on_calendar_changed(
            conn, code=code, version=row["version"], first_day=None, last_day=None, now=now
        )
        details = {**_jsonable(values), "version": row["version"], "affected": affected}
        action = "calendar.create" if created else "calendar.update"
        await audit_log.append(conn, [_record(audit, code, action, details)])
    calendar_cache.invalidate(code)
    return _info(row, local_date(now)), created, CalendarChange(row["version"], affected)


async def put_day(
    db: Database, code: str, override: DayOverride, *, audit: AuditContext, now: datetime
) -> tuple[dict[str, Any], CalendarChange]:
    """Set one day (an admin's edit, source `admin`)."""
    await _loaded(db, code)
    async with db.begin() as conn:
        created = await repo.upsert_day(conn, code, override, source=DaySource.ADMIN, now=now)
        change = await _changed(conn, code, override.day, override.day, now=now)
        details = {
            "day": override.day.isoformat(),
            "type": override.type.value,
            "name": override.name,
            "created": created,
            **_details(change),
        }
        await audit_log.append(conn, [_record(audit, code, "calendar.day.put", details)])
        row = await repo.get_day(conn, code, override.day)
    calendar_cache.invalidate(code)
    assert row is not None
    return row, change


async def delete_day(
    db: Database, code: str, day: date, *, audit: AuditContext, now: datetime
) -> CalendarChange:
    """Remove a day's entry: the day follows Mon–Fri again. NotFound if it has none."""
    await _loaded(db, code)
    async with db.begin() as conn:
        if not await repo.delete_day(conn, code, day):
            raise NotFound(f"{day} has no entry in calendar {code!r}")
        change = await _changed(conn, code, day, day, now=now)
        details = {"day": day.isoformat(), **_details(change)}
        await audit_log.append(conn, [_record(audit, code, "calendar.day.delete", details)])
    calendar_cache.invalidate(code)
    return change


async def load_year(
    db: Database,
    code: str,
    year: int,
    overrides: Sequence[DayOverride],
    *,
    source: DaySource,
    audit: AuditContext,
    now: datetime,
) -> tuple[repo.YearLoaded, int]:
    """Replace a year's schedule (e.g. 2027 once published) and mark the year known."""
    await _loaded(db, code)
    async with db.begin() as conn:
        loaded = await repo.load_year(conn, code, year, overrides, source=source, now=now)
        affected = await on_calendar_changed(
            conn,
            code=code,
            version=loaded.version,
            first_day=date(year, 1, 1),
            last_day=date(year, 12, 31),
            now=now,
        )
        details = {
            "year": year,
            "days": loaded.days,
            "replaced": loaded.replaced,
            "source": source.value,
            "version": loaded.version,
            "affected": affected,
        }
        await audit_log.append(conn, [_record(audit, code, "calendar.year.load", details)])
    calendar_cache.invalidate(code)
    return loaded, affected


async def seed(
    db: Database, code: str, *, audit: AuditContext, now: datetime
) -> tuple[list[int], CalendarChange | None]:
    """Add the years chinesecalendar knows and the calendar does not (idempotent)."""
    async with db.begin() as conn:
        if await repo.get_row(conn, code) is None:
            raise NotFound(f"no calendar {code!r}")
        years = await repo.seed_missing_years(conn, code, now=now)
        if not years:
            return [], None
        version = await repo.current_version(conn, code)
        assert version is not None
        affected = await on_calendar_changed(
            conn,
            code=code,
            version=version,
            first_day=date(years[0], 1, 1),
            last_day=date(years[-1], 12, 31),
            now=now,
        )
        details = {"years": years, "version": version, "affected": affected}
        await audit_log.append(conn, [_record(audit, code, "calendar.seed", details)])
    calendar_cache.invalidate(code)
    return years, CalendarChange(version, affected)


async def readiness(db: Database, *, now: datetime) -> dict[str, Any]:
    """The default calendar's known range for /readyz; never raises (ops must see the rest)."""
    try:
        loaded = await asyncio.wait_for(_loaded(db, DEFAULT_CALENDAR), timeout=5)
    except Exception as exc:
        return {"status": f"error: {type(exc).__name__}"}
    known_until = loaded.known_until
    return {
        "known_until": known_until.isoformat() if known_until else None,
        "provisional_from": (known_until + timedelta(days=1)).isoformat() if known_until else None,
        "warning": calendar_warning(known_until, local_date(now)),
    }


async def _changed(
    conn: AsyncConnection, code: str, first: date, last: date, *, now: datetime
) -> CalendarChange:
    version = await repo.bump_version(conn, code, now=now)
    affected = await on_calendar_changed(
        conn, code=code, version=version, first_day=first, last_day=last, now=now
    )
    return CalendarChange(version, affected)


def _record(audit: AuditContext, code: str, action: str, details: dict[str, Any]) -> AuditRecord:
    return audit.record(action, target_type="calendar", target_id=code, details=details)


def _details(change: CalendarChange) -> dict[str, Any]:
    return {"version": change.version, "affected": change.affected_open_deadlines}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}
