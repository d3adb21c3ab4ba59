"""Business calendars (工作日历) in PostgreSQL: rows, days, loading a year, seeding, a cache.

A calendar row holds the zone, the working hours and the range of days whose official schedule
(放假安排, 调休 included) it knows; `calendar_days` holds the days that differ from Mon–Fri.
`version` is bumped by every change, and `CalendarCache` (a `shared.db.cache.VersionedCache`)
keys on it.

Seeding (`seed_missing_years`): the years `chinesecalendar` knows and the calendar does not,
contiguous with the known range, are added with source `chinesecalendar`. A year already known
is never touched, whatever its source, so admin edits and loaded schedule files survive a
library upgrade, and a library that learns 2027 seeds 2027 on the next start. It is one SQL
statement guarded by the version it read, so concurrent seeders (several API processes and
workers starting together) add the days once and need no transaction.

Loading a year (`load_year`) replaces that year's days and extends the known range by that year;
a year must touch the known range (no gaps: the calendar's known range is one span).

Functions that write several statements (`load_year`, `upsert_day` + `bump_version`) expect a
transaction (`Database.begin()`); none commits.
"""

from __future__ import annotations

import time as monotonic_clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, delete, insert, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.calendar_data import chinese_statutory_overrides
from shared.db.cache import VersionedCache
from shared.db.engine import json_dumps
from shared.db.tables import Calendar, CalendarDay, table_of
from shared.domain.calendar import BusinessCalendar, DayOverride, DayType
from shared.domain.errors import FieldError, InvalidInput

calendars = table_of(Calendar)
calendar_days = table_of(CalendarDay)

DEFAULT_CALENDAR = "default"
# A calendar that knows no year yet is built with this one-day range, long before any
# complaint, so that every real date counts as provisional.
_NOTHING_KNOWN = date(1970, 1, 1)


class DaySource(StrEnum):
    """Where a day's entry came from."""

    CHINESECALENDAR = "chinesecalendar"  # seeded from the library
    ADMIN = "admin"  # typed in through the API
    FILE = "file"  # a schedule file loaded with the calendar CLI


@dataclass(frozen=True)
class LoadedCalendar:
    """A calendar as read from the database, with the version it was read at."""

    code: str
    version: int
    calendar: BusinessCalendar
    known_from: date | None  # None: no year known, every deadline is provisional
    known_until: date | None


@dataclass(frozen=True)
class YearLoaded:
    year: int
    days: int  # days stored for the year
    replaced: int  # days of that year removed first
    known_from: date
    known_until: date
    version: int


def _one(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


# --- calendars -------------------------------------------------------------------------------


async def get_row(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    return _one((await conn.execute(select(calendars).where(calendars.c.code == code))).first())


async def list_rows(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(calendars).order_by(calendars.c.code))
    return [dict(r) for r in rows.mappings()]


async def upsert_calendar(
    conn: AsyncConnection, code: str, values: dict[str, Any], *, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Create a calendar or change its name, zone and working hours (a change bumps the
    version). Returns (row, created). A new calendar knows no year until seeded or loaded."""
    settable = {
        k: values[k] for k in ("name", "tz", "work_start", "work_end", "lunch_start", "lunch_end")
    }
    stmt = (
        pg_insert(calendars)
        .values(code=code, **settable, version=1, created_at=now, updated_at=now)
        .on_conflict_do_update(
            index_elements=[calendars.c.code],
            set_={**settable, "version": calendars.c.version + 1, "updated_at": now},
        )
        .returning(calendars, literal_column("xmax = 0", Boolean()).label("created"))
    )
    row = dict((await conn.execute(stmt)).mappings().one())
    created = bool(row.pop("created"))
    return row, created


async def bump_version(conn: AsyncConnection, code: str, *, now: datetime) -> int:
    """Record that the calendar changed; returns the new version."""
    stmt = (
        update(calendars)
        .where(calendars.c.code == code)
        .values(version=calendars.c.version + 1, updated_at=now)
        .returning(calendars.c.version)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def current_version(conn: AsyncConnection, code: str) -> int | None:
    stmt = select(calendars.c.version).where(calendars.c.code == code)
    value = (await conn.execute(stmt)).scalar_one_or_none()
    return int(value) if value is not None else None


# --- days ------------------------------------------------------------------------------------


async def list_days(
    conn: AsyncConnection,
    code: str,
    *,
    first: date | None = None,
    last: date | None = None,
    type_: DayType | None = None,
    source: DaySource | None = None,
) -> list[dict[str, Any]]:
    c = calendar_days.c
    stmt = select(calendar_days).where(c.calendar_code == code).order_by(c.day)
    if first is not None:
        stmt = stmt.where(c.day >= first)
    if last is not None:
        stmt = stmt.where(c.day <= last)
    if type_ is not None:
        stmt = stmt.where(c.type == type_.value)
    if source is not None:
        stmt = stmt.where(c.source == source.value)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def get_day(conn: AsyncConnection, code: str, day: date) -> dict[str, Any] | None:
    c = calendar_days.c
    stmt = select(calendar_days).where(c.calendar_code == code, c.day == day)
    return _one((await conn.execute(stmt)).first())


async def upsert_day(
    conn: AsyncConnection,
    code: str,
    override: DayOverride,
    *,
    source: DaySource,
    now: datetime,
) -> bool:
    """Set one day's override; True if it was new. Does not bump the version (the caller does,
    once per change)."""
    values: dict[str, Any] = {
        "type": override.type.value,
        "name": override.name,
        "source": source.value,
        "updated_at": now,
    }
    upsert = pg_insert(calendar_days).values(calendar_code=code, day=override.day, **values)
    upsert = upsert.on_conflict_do_update(
        index_elements=[calendar_days.c.calendar_code, calendar_days.c.day], set_=values
    )
    result = await conn.execute(upsert.returning(literal_column("xmax = 0", Boolean())))
    return bool(result.scalar_one())


async def delete_day(conn: AsyncConnection, code: str, day: date) -> bool:
    c = calendar_days.c
    result = await conn.execute(delete(calendar_days).where(c.calendar_code == code, c.day == day))
    return bool(result.rowcount)


def check_year_loadable(known_from: date | None, known_until: date | None, year: int) -> None:
    """A year may be (re)loaded inside the known range or right next to it, never with a gap
    (the calendar's known range is one span of days)."""
    if known_from is None or known_until is None:
        return
    if known_from.year - 1 <= year <= known_until.year + 1:
        return
    raise InvalidInput(
        [
            FieldError(
                ("body", "year"),
                f"the calendar knows {known_from.year}–{known_until.year}; load the years in "
                f"between first (a year must be next to the known range)",
            )
        ]
    )


def check_days_in_year(overrides: Sequence[DayOverride], year: int) -> list[DayOverride]:
    """The overrides, all in `year`, one per day (a day listed twice must agree)."""
    by_day: dict[date, DayOverride] = {}
    errors: list[FieldError] = []
    for i, override in enumerate(overrides):
        if override.day.year != year:
            errors.append(
                FieldError(("body", "days", i, "day"), f"{override.day} is not in {year}")
            )
            continue
        seen = by_day.setdefault(override.day, override)
        if seen.type != override.type:
            errors.append(
                FieldError(
                    ("body", "days", i, "type"), f"{override.day} is listed as holiday and workday"
                )
            )
    if errors:
        raise InvalidInput(errors)
    return sorted(by_day.values(), key=lambda o: o.day)


async def load_year(
    conn: AsyncConnection,
    code: str,
    year: int,
    overrides: Sequence[DayOverride],
    *,
    source: DaySource,
    now: datetime,
) -> YearLoaded:
    """Replace `year`'s days by `overrides`, mark the year known and bump the version (one
    transaction: call inside `Database.begin()`). Raises InvalidInput for days outside the
    year, contradictory duplicates or a year not next to the known range."""
    row = await _lock(conn, code)
    check_year_loadable(row["known_from"], row["known_until"], year)
    days = check_days_in_year(overrides, year)
    first, last = date(year, 1, 1), date(year, 12, 31)
    c = calendar_days.c
    removed = await conn.execute(
        delete(calendar_days).where(c.calendar_code == code, c.day >= first, c.day <= last)
    )
    if days:
        await conn.execute(
            insert(calendar_days),
            [
                {
                    "calendar_code": code,
                    "day": o.day,
                    "type": o.type.value,
                    "name": o.name,
                    "source": source.value,
                    "updated_at": now,
                }
                for o in days
            ],
        )
    known_from = min(first, row["known_from"] or first)
    known_until = max(last, row["known_until"] or last)
    stmt = (
        update(calendars)
        .where(calendars.c.code == code)
        .values(
            known_from=known_from,
            known_until=known_until,
            version=calendars.c.version + 1,
            updated_at=now,
        )
        .returning(calendars.c.version)
    )
    version = int((await conn.execute(stmt)).scalar_one())
    return YearLoaded(year, len(days), int(removed.rowcount or 0), known_from, known_until, version)


async def _lock(conn: AsyncConnection, code: str) -> dict[str, Any]:
    """The calendar row, locked for the rest of the transaction (changes are serialised)."""
    stmt = select(calendars).where(calendars.c.code == code).with_for_update()
    row = _one((await conn.execute(stmt)).first())
    if row is None:
        raise LookupError(f"no calendar {code!r}")
    return row


# --- seeding from chinesecalendar ------------------------------------------------------------

_SEED = text("""
WITH cal AS (
    UPDATE calendars
    SET known_from = CAST(:known_from AS date), known_until = CAST(:known_until AS date),
        version = version + 1, updated_at = coalesce(CAST(:now AS timestamptz), now())
    WHERE code = :code AND version = :seen_version
    RETURNING code
), ins AS (
    INSERT INTO calendar_days (calendar_code, day, type, name, source, updated_at)
    SELECT :code, d.day, d.type, d.name, 'chinesecalendar',
           coalesce(CAST(:now AS timestamptz), now())
    FROM jsonb_to_recordset(CAST(CAST(:days AS text) AS jsonb)) AS d(day date, type text, name text)
    WHERE EXISTS (SELECT 1 FROM cal)
    ON CONFLICT (calendar_code, day) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM cal) AS updated, (SELECT count(*) FROM ins) AS inserted
""")


def missing_library_years(
    known_from: date | None, known_until: date | None, library: range
) -> list[int]:
    """The library's years that extend the known range without leaving a gap."""
    if known_from is None or known_until is None:
        return list(library)
    below = [y for y in range(known_from.year - 1, library.start - 1, -1) if y in library]
    above = [y for y in range(known_until.year + 1, library.stop) if y in library]
    return sorted(below + above)


async def seed_missing_years(
    conn: AsyncConnection, code: str = DEFAULT_CALENDAR, *, now: datetime | None = None
) -> list[int]:
    """Add the chinesecalendar years this calendar does not know yet; returns them (empty when
    there is nothing to do). Idempotent, safe to run concurrently, never overwrites a day that
    is already stored (an admin's edit of a year not yet known survives too)."""
    overrides, lib_from, lib_until = chinese_statutory_overrides()
    library = range(lib_from.year, lib_until.year + 1)
    for _ in range(5):  # retried only when another process changed the calendar meanwhile
        row = await get_row(conn, code)
        if row is None:
            raise LookupError(f"no calendar {code!r}")
        years = missing_library_years(row["known_from"], row["known_until"], library)
        if not years:
            return []
        wanted = set(years)
        days = [
            {"day": o.day.isoformat(), "type": o.type.value, "name": o.name}
            for o in overrides
            if o.day.year in wanted
        ]
        known_from = min(date(years[0], 1, 1), row["known_from"] or date.max)
        known_until = max(date(years[-1], 12, 31), row["known_until"] or date.min)
        result = await conn.execute(
            _SEED,
            {
                "code": code,
                "seen_version": row["version"],
                "known_from": known_from,
                "known_until": known_until,
                "now": now,
                "days": json_dumps(days),
            },
        )
        if result.mappings().one()["updated"] == 1:
            return years
    raise RuntimeError(f"calendar {code!r} kept changing while it was being seeded")


# --- building the domain calendar, and the cache ---------------------------------------------


def build_calendar(row: dict[str, Any], days: Sequence[dict[str, Any]]) -> BusinessCalendar:
    known_from = row["known_from"] or _NOTHING_KNOWN
    known_until = row["known_until"] or _NOTHING_KNOWN
    return BusinessCalendar(
        known_from=known_from,
        known_until=known_until,
        overrides=[
            DayOverride(day=d["day"], type=DayType(d["type"]), name=d["name"]) for d in days
        ],
        tz=row["tz"],
        work_start=row["work_start"],
        work_end=row["work_end"],
        lunch_start=row["lunch_start"],
        lunch_end=row["lunch_end"],
    )


async def load_calendar(conn: AsyncConnection, code: str = DEFAULT_CALENDAR) -> LoadedCalendar:
    """The calendar as stored now (no cache). Raises LookupError for an unknown code."""
    row = await get_row(conn, code)
    if row is None:
        raise LookupError(f"no calendar {code!r}")
    days = await list_days(conn, code)
    return LoadedCalendar(
        code=code,
        version=row["version"],
        calendar=build_calendar(row, days),
        known_from=row["known_from"],
        known_until=row["known_until"],
    )


async def _load_versioned(
    conn: AsyncConnection, code: str, seen: object | None
) -> tuple[int, LoadedCalendar]:
    del seen  # the version is read with the calendar, in the same row
    loaded = await load_calendar(conn, code)
    return loaded.version, loaded


class CalendarCache:
    """`BusinessCalendar`s per code, rebuilt only when `calendars.version` changes (a
    `VersionedCache`: the version is one indexed read, at most every `recheck_after` seconds).

    With `auto_seed` (the default) the first load of each calendar in a process seeds the
    years chinesecalendar knows and the calendar does not (`seed_missing_years`): this is the
    "on start-up" seeding, done lazily so every entry point (API, worker, tools) gets it.
    Deadlines already open are not recomputed here (any process may be first, inside any
    transaction): the SLA worker's housekeeping recomputes the open deadlines this made
    definite (`deadlines.stale`, shared.application.recompute), at its start-up and hourly.
    """

    def __init__(
        self,
        *,
        recheck_after: float = 5.0,
        auto_seed: bool = True,
        clock: Callable[[], float] = monotonic_clock.monotonic,
    ) -> None:
        self._cache: VersionedCache[str, LoadedCalendar] = VersionedCache(
            read_version=current_version,
            load=_load_versioned,
            prepare=seed_missing_years if auto_seed else None,
            recheck_after=recheck_after,
            clock=clock,
        )

    async def get(self, conn: AsyncConnection, code: str = DEFAULT_CALENDAR) -> LoadedCalendar:
        """The current calendar `code` (LookupError if there is none)."""
        return await self._cache.get(conn, code)

    def invalidate(self, code: str | None = None) -> None:
        """Forget `code` (or every calendar): the next `get` reads the database."""
        self._cache.invalidate(code)


# The process-wide cache the API and the worker share.
calendar_cache = CalendarCache()
