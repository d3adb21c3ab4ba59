"""`/api/v1/calendars`: the business calendar (工作日历). Staff read it; admins change it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from services.intake_api.auth.dependencies import StaffReader
from services.intake_api.calendar import service
from services.intake_api.calendar.schemas import (
    CALENDAR_CODE,
    CalendarChangeOut,
    CalendarDate,
    CalendarIn,
    CalendarOut,
    DayChangeOut,
    DayIn,
    DayOut,
    DayStatusOut,
    YearIn,
    YearLoadedOut,
)
from services.intake_api.deps import AdminPrincipal, AuditDep, DbDep, NowDep, require_json
from services.intake_api.paging import Page, PagingDep
from services.intake_api.problems import responses
from shared.db.calendars import DaySource
from shared.domain.calendar import DayOverride, DayType
from shared.domain.values import IsoDate

router = APIRouter(
    prefix="/api/v1/calendars", tags=["calendar"], dependencies=[Depends(require_json)]
)

CodePath = Annotated[str, Path(pattern=CALENDAR_CODE, examples=["default"])]
# Write examples name another calendar than `default`: tools that replay documented examples
# (and API fuzzers) must not rewrite the calendar every complaint's deadlines are planned on.
WriteCodePath = Annotated[str, Path(pattern=CALENDAR_CODE, examples=["factory"])]
DayPath = Annotated[CalendarDate, Path(examples=["2026-10-10"])]
READ_ERRORS = responses(401, 403, 404, 422, 429)
WRITE_ERRORS = responses(401, 403, 404, 415, 422, 429)
CHANGE_NOTE = (
    " The change bumps the calendar's version; open deadlines it may move are recomputed "
    "(their count is returned)."
)


class CalendarPage(Page[CalendarOut]):
    pass


class DayPage(Page[DayOut]):
    pass


@router.get(
    "",
    summary="List the business calendars.",
    response_model=CalendarPage,
    responses=READ_ERRORS,
)
async def list_calendars(db: DbDep, _: StaffReader, now: NowDep, paging: PagingDep) -> CalendarPage:
    calendars = [CalendarOut.model_validate(c) for c in await service.list_calendars(db, now=now)]
    return CalendarPage.of_all(calendars, paging)


@router.get(
    "/{code}",
    summary="Get a calendar: zone, working hours, the range with an official "
    "schedule, and a warning when it ends soon.",
    response_model=CalendarOut,
    responses=READ_ERRORS,
)
async def get_calendar(db: DbDep, _: StaffReader, now: NowDep, code: CodePath) -> CalendarOut:
    """Deadlines after `provisional_after` are computed with weekends and the fixed-date
    holidays only (元旦, 劳动节, 国庆节) and marked provisional until that year is loaded."""
    return CalendarOut.model_validate(await service.calendar_info(db, code, now=now))


@router.put(
    "/{code}",
    summary="Create a calendar or change its working hours.",
    response_model=CalendarOut,
    responses={**WRITE_ERRORS, 201: {"model": CalendarOut, "description": "Created"}},
    description="A new calendar is seeded with every year chinesecalendar knows (201)."
    + CHANGE_NOTE,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "default": {
                            "summary": "09:00–18:00，无午休",
                            "value": {
                                "name": "默认工作日历",
                                "tz": "Asia/Shanghai",
                                "work_start": "09:00",
                                "work_end": "18:00",
                            },
                        },
                        "lunch": {
                            "summary": "08:30–17:30，12:00–13:00 午休",
                            "value": {
                                "name": "工厂工作日历",
                                "work_start": "08:30",
                                "work_end": "17:30",
                                "lunch_start": "12:00",
                                "lunch_end": "13:00",
                            },
                        },
                    }
                }
            }
        }
    },
)
async def put_calendar(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    code: WriteCodePath,
    body: CalendarIn,
    response: Response,
) -> CalendarOut:
    info, created, _change = await service.put_calendar(
        db, code, body.model_dump(), audit=audit, now=now
    )
    if created:
        response.status_code = 201
    return CalendarOut.model_validate(info)


@router.get(
    "/{code}/days",
    summary="List the days that differ from Monday–Friday (holidays and 调休 working days).",
    response_model=DayPage,
    responses=READ_ERRORS,
)
async def list_calendar_days(
    db: DbDep,
    _: StaffReader,
    code: CodePath,
    paging: PagingDep,
    first: Annotated[
        IsoDate | None, Query(alias="from", description="Inclusive", examples=["2026-01-01"])
    ] = None,
    last: Annotated[
        IsoDate | None, Query(alias="to", description="Inclusive", examples=["2026-12-31"])
    ] = None,
    type_: Annotated[DayType | None, Query(alias="type")] = None,
    source: DaySource | None = None,
) -> DayPage:
    days = await service.list_days(db, code, first=first, last=last, type_=type_, source=source)
    return DayPage.of_all([DayOut.model_validate(d) for d in days], paging)


@router.get(
    "/{code}/days/{day}",
    summary="Tell whether a day is a working day.",
    response_model=DayStatusOut,
    responses=READ_ERRORS,
)
async def get_calendar_day(db: DbDep, _: StaffReader, code: CodePath, day: DayPath) -> DayStatusOut:
    return DayStatusOut.model_validate(await service.day_status(db, code, day))


@router.put(
    "/{code}/days/{day}",
    summary="Set a day as a holiday or a make-up working day (调休).",
    response_model=DayChangeOut,
    responses=WRITE_ERRORS,
    description="An admin's entry for one day (source `admin`); seeding never "
    "overwrites it." + CHANGE_NOTE,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "holiday": {
                            "summary": "国庆节放假",
                            "value": {"type": "holiday", "name": "国庆节"},
                        },
                        "workday": {
                            "summary": "周六调休上班",
                            "value": {"type": "workday", "name": "国庆节调休"},
                        },
                    }
                }
            }
        }
    },
)
async def put_calendar_day(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    code: WriteCodePath,
    day: DayPath,
    body: DayIn,
) -> DayChangeOut:
    override = DayOverride(day=day, type=body.type, name=body.name)
    row, change = await service.put_day(db, code, override, audit=audit, now=now)
    return DayChangeOut.model_validate(
        {
            **row,
            "version": change.version,
            "affected_open_deadlines": change.affected_open_deadlines,
        }
    )


@router.delete(
    "/{code}/days/{day}",
    summary="Remove a day's entry so it follows Monday–Friday again.",
    response_model=CalendarChangeOut,
    responses=WRITE_ERRORS,
    description="404 if the day has no entry." + CHANGE_NOTE,
)
async def delete_calendar_day(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    code: WriteCodePath,
    day: DayPath,
) -> CalendarChangeOut:
    change = await service.delete_day(db, code, day, audit=audit, now=now)
    return CalendarChangeOut.model_validate(change, from_attributes=True)


YEAR_EXAMPLE = {
    "summary": "加载一年的放假安排（格式示例，非真实公告）",
    "value": {
        "year": 2027,
        "days": [
            {"day": "2027-10-01", "type": "holiday", "name": "国庆节"},
            {"day": "2027-10-09", "type": "workday", "name": "国庆节调休"},
        ],
    },
}


@router.post(
    "/{code}/years",
    summary="Load a year's schedule (放假安排), replacing that year.",
    response_model=YearLoadedOut,
    responses=WRITE_ERRORS,
    description="List the weekday holidays and the weekend make-up working days of "
    "one year; every day must belong to `year`, and the year must be next to (or "
    "inside) the range the calendar knows. The year then counts as known: deadlines "
    "in it are no longer provisional." + CHANGE_NOTE,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"examples": {"year": YEAR_EXAMPLE}}}}
    },
)
async def load_year(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    code: WriteCodePath,
    body: YearIn,
) -> YearLoadedOut:
    loaded, affected = await service.load_year(
        db,
        code,
        body.year,
        [d.override() for d in body.days],
        source=DaySource.ADMIN,
        audit=audit,
        now=now,
    )
    return YearLoadedOut(
        year=loaded.year,
        days=loaded.days,
        replaced=loaded.replaced,
        known_from=loaded.known_from,
        known_until=loaded.known_until,
        version=loaded.version,
        affected_open_deadlines=affected,
    )
