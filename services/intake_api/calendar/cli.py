"""The calendar command: load a year's schedule from a file, or seed the library's years.

    python -m services.intake_api.calendar.cli load FILE [--year 2027] [--calendar default]
    python -m services.intake_api.calendar.cli seed [--calendar default]

`load` reads a JSON or CSV schedule (format: `shared.calendar_data.load_schedule_file`),
replaces that year's days (source `file`) and marks the year known, exactly as
`POST /api/v1/calendars/{code}/years` does; the year is taken from the days when `--year` is
not given. `seed` adds the years chinesecalendar knows and the calendar does not (idempotent;
never overwrites a stored day). Both are audited (actor `system` / `calendar-cli`).

The database is `DATABASE_URL`, or the embedded PostgreSQL of `make run` when it is unset
(started for the command and stopped after if it was not running). Prints one JSON object;
exits 1 with a message on invalid input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.intake_api.calendar import service
from shared.calendar_data import load_schedule_file
from shared.config import get_settings
from shared.db.audit import AuditContext
from shared.db.calendars import DEFAULT_CALENDAR, DaySource
from shared.db.engine import Database
from shared.domain.calendar import DayOverride
from shared.domain.errors import DomainError, InvalidInput


def _audit(now: datetime) -> AuditContext:
    return AuditContext.system("calendar-cli", now=now, actor_id="calendar-cli")


def year_of(days: Sequence[DayOverride], year: int | None) -> int:
    """The year to load: `--year`, or the one year all the days belong to."""
    if year is not None:
        return year
    years = sorted({d.day.year for d in days})
    if len(years) != 1:
        found = ", ".join(map(str, years)) or "none"
        raise ValueError(
            f"the file must hold exactly one year's days (found: {found}); give --year"
        )
    return years[0]


async def _load(url: str, code: str, path: str, year: int | None) -> dict[str, Any]:
    days = load_schedule_file(path)
    target = year_of(days, year)
    now = datetime.now(UTC)
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        loaded, affected = await service.load_year(
            db, code, target, days, source=DaySource.FILE, audit=_audit(now), now=now
        )
    finally:
        await db.dispose()
    return {
        "calendar": code,
        "year": loaded.year,
        "days": loaded.days,
        "replaced": loaded.replaced,
        "known_from": loaded.known_from.isoformat(),
        "known_until": loaded.known_until.isoformat(),
        "version": loaded.version,
        "affected_open_deadlines": affected,
    }


async def _seed(url: str, code: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        years, change = await service.seed(db, code, audit=_audit(now), now=now)
    finally:
        await db.dispose()
    return {
        "calendar": code,
        "seeded_years": years,
        "version": change.version if change else None,
        "affected_open_deadlines": change.affected_open_deadlines if change else 0,
    }


@contextlib.contextmanager
def _database_url() -> Iterator[str]:
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url
        return
    from services.devstack.embedded import start_postgres

    pg = start_postgres((settings.data_dir / "postgres").resolve())
    try:
        yield pg.url()
    finally:
        pg.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.intake_api.calendar.cli",
        description="Business calendar (工作日历) maintenance",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="load a year's schedule from a JSON or CSV file")
    load.add_argument("file")
    load.add_argument("--year", type=int, help="the year (default: the year of the days)")
    load.add_argument("--calendar", default=DEFAULT_CALENDAR)
    seed = commands.add_parser("seed", help="add the years chinesecalendar knows (idempotent)")
    seed.add_argument("--calendar", default=DEFAULT_CALENDAR)
    return parser


def _message(exc: Exception) -> str:
    if isinstance(exc, InvalidInput):
        return "; ".join(e.msg for e in exc.errors)
    if isinstance(exc, DomainError):
        return exc.detail
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with _database_url() as url:
            if args.command == "load":
                result = asyncio.run(_load(url, args.calendar, args.file, args.year))
            else:
                result = asyncio.run(_seed(url, args.calendar))
    except (DomainError, ValidationError, ValueError, OSError) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
