"""The business calendar API and command: reading, admin edits, loading a year, seeding.

Tests that change a calendar use one of their own (`PUT /api/v1/calendars/{code}`), so the
`default` calendar that plans every complaint's deadlines stays as seeded for other tests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.intake_api.calendar import cli
from services.intake_api.deps import get_now
from shared.calendar_data import default_calendar
from shared.config import Settings, get_settings
from shared.db import calendars as repo
from shared.db.calendars import DaySource
from shared.db.engine import Database
from shared.domain.calendar import DayOverride, DayType
from tests.support.principals import Account, create_user
from tests.support.servers import Servers, create_database, drop_database

SH = ZoneInfo("Asia/Shanghai")
BASE = "/api/v1/calendars"


@pytest.fixture(scope="module")
async def agent(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> Account:
    return await create_user(anon, admin_headers, role="agent")


@pytest.fixture
async def own_calendar(anon: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    code = f"t-{uuid.uuid4().hex[:10]}"
    response = await anon.put(f"{BASE}/{code}", json={"name": "测试日历"}, headers=admin_headers)
    assert response.status_code == 201, response.text
    return code


@pytest.fixture
def frozen_now(app: FastAPI) -> Iterator[list[datetime]]:
    """Set `frozen_now[0]` to fix the request clock."""
    moment = [datetime(2026, 11, 25, 10, tzinfo=SH)]
    app.dependency_overrides[get_now] = lambda: moment[0]
    yield moment
    app.dependency_overrides.pop(get_now, None)


# -- reading ---------------------------------------------------------------------------------


async def test_the_default_calendar_is_seeded_from_chinesecalendar(
    anon: httpx.AsyncClient, agent: Account, frozen_now: list[datetime]
) -> None:
    response = await anon.get(f"{BASE}/default", headers=agent.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tz"] == "Asia/Shanghai"
    hours = (body["work_start"], body["work_end"], body["lunch_start"])
    assert hours == ("09:00", "18:00", None)
    assert (body["known_from"], body["known_until"]) == ("2004-01-01", "2026-12-31")
    assert body["provisional_after"] == "2026-12-31"
    # 36 days before the end of the known range: ops are told to load 2027.
    assert "2027" in body["warning"]
    frozen_now[0] = datetime(2026, 6, 1, 10, tzinfo=SH)
    assert (await anon.get(f"{BASE}/default", headers=agent.headers)).json()["warning"] is None
    listed = await anon.get(BASE, headers=agent.headers)
    assert "default" in [c["code"] for c in listed.json()["items"]]


async def test_days_list_holidays_and_make_up_days_in_a_range(
    anon: httpx.AsyncClient, agent: Account
) -> None:
    response = await anon.get(
        f"{BASE}/default/days",
        params={"from": "2026-09-01", "to": "2026-10-31"},
        headers=agent.headers,
    )
    assert response.status_code == 200
    days = {d["day"]: (d["type"], d["name"], d["source"]) for d in response.json()["items"]}
    assert days["2026-09-20"] == ("workday", "国庆节调休", "chinesecalendar")
    assert days["2026-10-10"] == ("workday", "国庆节调休", "chinesecalendar")
    assert days["2026-10-01"][0] == "holiday"
    assert "2026-10-08" not in days
    assert all("2026-09-01" <= d <= "2026-10-31" for d in days)
    only_workdays = await anon.get(
        f"{BASE}/default/days",
        params={"from": "2026-01-01", "to": "2026-12-31", "type": "workday"},
        headers=agent.headers,
    )
    assert {d["type"] for d in only_workdays.json()["items"]} == {"workday"}


async def test_day_status_says_whether_it_is_a_working_day(
    anon: httpx.AsyncClient, agent: Account
) -> None:
    saturday_make_up = (
        await anon.get(f"{BASE}/default/days/2026-10-10", headers=agent.headers)
    ).json()
    assert saturday_make_up["working"] is True
    assert saturday_make_up["override"]["name"] == "国庆节调休"
    plain_thursday = (
        await anon.get(f"{BASE}/default/days/2026-10-08", headers=agent.headers)
    ).json()
    assert plain_thursday == {
        "day": "2026-10-08",
        "working": True,
        "provisional": False,
        "override": None,
    }
    new_year_2027 = (
        await anon.get(f"{BASE}/default/days/2027-01-01", headers=agent.headers)
    ).json()
    assert new_year_2027["working"] is False  # the fixed-date fallback
    assert new_year_2027["provisional"] is True


async def test_unknown_calendar_and_malformed_inputs(
    anon: httpx.AsyncClient, agent: Account, admin_headers: dict[str, str]
) -> None:
    assert (await anon.get(f"{BASE}/nope", headers=agent.headers)).status_code == 404
    assert (
        await anon.get(f"{BASE}/default/days/1999-01-01", headers=agent.headers)
    ).status_code == 422
    bad_hours = await anon.put(
        f"{BASE}/t-bad",
        json={"name": "x", "work_start": "18:00", "work_end": "09:00"},
        headers=admin_headers,
    )
    assert bad_hours.status_code == 422
    assert bad_hours.headers["content-type"] == "application/problem+json"
    with_seconds = await anon.put(
        f"{BASE}/t-bad", json={"name": "x", "work_start": "09:00:00"}, headers=admin_headers
    )
    assert with_seconds.status_code == 422
    number_body = {"name": "x", "lunch_start": "12:00", "lunch_end": 0}
    a_number = await anon.put(f"{BASE}/t-bad", json=number_body, headers=admin_headers)
    assert a_number.status_code == 422
    bad_zone = await anon.put(
        f"{BASE}/t-bad", json={"name": "x", "tz": "Mars/Olympus"}, headers=admin_headers
    )
    assert bad_zone.status_code == 422


# -- who may do what -----------------------------------------------------------------------


async def test_reads_need_staff_and_writes_need_an_admin(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, agent: Account
) -> None:
    assert (await anon.get(f"{BASE}/default")).status_code == 401
    assert (await client.get(f"{BASE}/default")).status_code == 403  # an integration key
    writes = [
        ("PUT", f"{BASE}/default/days/2026-12-28", {"type": "holiday"}),
        ("DELETE", f"{BASE}/default/days/2026-10-10", None),
        ("POST", f"{BASE}/default/years", {"year": 2027, "days": []}),
        ("PUT", f"{BASE}/default", {"name": "改名"}),
    ]
    for method, url, body in writes:
        unauthenticated = await anon.request(method, url, json=body)
        assert unauthenticated.status_code == 401, (method, url)
        forbidden = await anon.request(method, url, json=body, headers=agent.headers)
        assert forbidden.status_code == 403, (method, url)
        assert forbidden.headers["content-type"] == "application/problem+json"
    # Nothing changed.
    still = (await anon.get(f"{BASE}/default/days/2026-10-10", headers=agent.headers)).json()
    assert still["working"] is True


# -- admin changes -------------------------------------------------------------------------


async def test_admin_sets_and_removes_a_day_and_each_change_is_audited(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], own_calendar: str
) -> None:
    url = f"{BASE}/{own_calendar}"
    before = (await anon.get(url, headers=admin_headers)).json()
    assert before["known_until"] == "2026-12-31"  # a new calendar is seeded too
    put = await anon.put(
        f"{url}/days/2026-12-28",
        json={"type": "holiday", "name": "公司年假"},
        headers=admin_headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "admin"
    assert put.json()["version"] == before["version"] + 1
    assert put.json()["affected_open_deadlines"] == 0  # only the default calendar plans
    status = (await anon.get(f"{url}/days/2026-12-28", headers=admin_headers)).json()
    assert status["working"] is False
    deleted = await anon.delete(f"{url}/days/2026-12-28", headers=admin_headers)
    assert deleted.status_code == 200
    assert deleted.json()["version"] == before["version"] + 2
    assert (await anon.get(f"{url}/days/2026-12-28", headers=admin_headers)).json()["working"]
    again = await anon.delete(f"{url}/days/2026-12-28", headers=admin_headers)
    assert again.status_code == 404
    audit = await anon.get(
        "/api/v1/audit-events",
        params={"target_type": "calendar", "target_id": own_calendar},
        headers=admin_headers,
    )
    assert audit.status_code == 200, audit.text
    actions = [e["action"] for e in audit.json()["items"]]
    assert actions.count("calendar.day.put") == 1
    assert actions.count("calendar.day.delete") == 1
    assert "calendar.create" in actions


async def test_changing_working_hours_bumps_the_version(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], own_calendar: str
) -> None:
    url = f"{BASE}/{own_calendar}"
    before = (await anon.get(url, headers=admin_headers)).json()
    changed = await anon.put(
        url,
        json={
            "name": "工厂日历",
            "work_start": "08:30",
            "work_end": "17:30",
            "lunch_start": "12:00",
            "lunch_end": "13:00",
        },
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["work_start"], body["lunch_end"]) == ("08:30", "13:00")
    assert body["version"] == before["version"] + 1
    assert body["known_until"] == before["known_until"]


async def test_loading_2027_makes_it_known_and_replaces_the_year(
    anon: httpx.AsyncClient, admin_headers: dict[str, str], own_calendar: str
) -> None:
    url = f"{BASE}/{own_calendar}"
    assert (await anon.get(f"{url}/days/2027-02-08", headers=admin_headers)).json()["provisional"]
    schedule = {
        "year": 2027,
        "days": [
            {"day": "2027-02-08", "type": "holiday", "name": "春节"},
            {"day": "2027-02-09", "type": "holiday", "name": "春节"},
            {"day": "2027-02-20", "type": "workday", "name": "春节调休"},
        ],
    }
    loaded = await anon.post(f"{url}/years", json=schedule, headers=admin_headers)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() | {"version": 0} == {
        "year": 2027,
        "days": 3,
        "replaced": 0,
        "known_from": "2004-01-01",
        "known_until": "2027-12-31",
        "version": 0,
        "affected_open_deadlines": 0,
    }
    monday = (await anon.get(f"{url}/days/2027-02-08", headers=admin_headers)).json()
    assert (monday["working"], monday["provisional"]) == (False, False)
    saturday = (await anon.get(f"{url}/days/2027-02-20", headers=admin_headers)).json()
    assert saturday["working"] is True
    # Loading the year again replaces it: the old days go.
    again = await anon.post(
        f"{url}/years", json={"year": 2027, "days": schedule["days"][:1]}, headers=admin_headers
    )
    assert (again.json()["days"], again.json()["replaced"]) == (1, 3)
    assert (await anon.get(f"{url}/days/2027-02-09", headers=admin_headers)).json()["working"]


@pytest.mark.parametrize(
    ("schedule", "where"),
    [
        (
            {"year": 2027, "days": [{"day": "2028-01-03", "type": "holiday"}]},
            ["body", "days", 0, "day"],
        ),
        (
            {
                "year": 2027,
                "days": [
                    {"day": "2027-10-01", "type": "holiday"},
                    {"day": "2027-10-01", "type": "workday"},
                ],
            },
            ["body", "days", 1, "type"],
        ),
        ({"year": 2029, "days": []}, ["body", "year"]),  # 2027 and 2028 are not known yet
    ],
)
async def test_a_year_schedule_is_validated(
    anon: httpx.AsyncClient,
    admin_headers: dict[str, str],
    own_calendar: str,
    schedule: dict[str, object],
    where: list[object],
) -> None:
    response = await anon.post(f"{BASE}/{own_calendar}/years", json=schedule, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert where in [e["loc"] for e in response.json()["errors"]]
    info = (await anon.get(f"{BASE}/{own_calendar}", headers=admin_headers)).json()
    assert info["known_until"] == "2026-12-31"


async def test_readyz_reports_the_end_of_the_calendar(
    anon: httpx.AsyncClient, frozen_now: list[datetime]
) -> None:
    body = (await anon.get("/readyz")).json()
    assert body["status"] == "ready"
    assert body["calendar"]["known_until"] == "2026-12-31"
    assert body["calendar"]["provisional_from"] == "2027-01-01"
    assert "2027" in body["calendar"]["warning"]


# -- seeding and the command -----------------------------------------------------------------


@pytest.fixture
async def trimmed_calendar(db: Database) -> str:
    """A calendar seeded once, then made to forget 2026 — as if it had been seeded by an older
    chinesecalendar that knew only up to 2025 — with an admin's edit already in 2026."""
    code = f"t-{uuid.uuid4().hex[:10]}"
    now = datetime(2026, 11, 25, 10, tzinfo=SH)
    async with db.begin() as conn:
        await repo.upsert_calendar(
            conn,
            code,
            {
                "name": "旧日历",
                "tz": "Asia/Shanghai",
                "work_start": _t("09:00"),
                "work_end": _t("18:00"),
                "lunch_start": None,
                "lunch_end": None,
            },
            now=now,
        )
        await repo.seed_missing_years(conn, code, now=now)
        await conn.execute(
            text("DELETE FROM calendar_days WHERE calendar_code = :c AND day >= '2026-01-01'"),
            {"c": code},
        )
        await conn.execute(
            text("UPDATE calendars SET known_until = '2025-12-31' WHERE code = :c"), {"c": code}
        )
    return code


def _t(value: str) -> object:
    return datetime.strptime(value, "%H:%M").time()  # noqa: DTZ007 - a wall-clock time


async def test_seeding_adds_missing_years_once_and_keeps_admin_edits(
    db: Database, trimmed_calendar: str
) -> None:
    now = datetime(2026, 11, 25, 11, tzinfo=SH)
    # The admin's edits, made while 2026 was not known: a name on 国庆 and a day off. (Through
    # the repository: the API would seed the calendar on its first use in this process.)
    admin_edits = [
        DayOverride(day=date(2026, 10, 1), type=DayType.HOLIDAY, name="国庆节（公司）"),
        DayOverride(day=date(2026, 12, 31), type=DayType.HOLIDAY, name="年终盘点"),
    ]
    async with db.begin() as conn:
        for edit in admin_edits:
            await repo.upsert_day(conn, trimmed_calendar, edit, source=DaySource.ADMIN, now=now)
    async with db.connect() as conn:
        assert await repo.seed_missing_years(conn, trimmed_calendar, now=now) == [2026]
        version = await repo.current_version(conn, trimmed_calendar)
        assert await repo.seed_missing_years(conn, trimmed_calendar, now=now) == []
        assert await repo.current_version(conn, trimmed_calendar) == version
        days = {
            d["day"]: d
            for d in await repo.list_days(
                conn, trimmed_calendar, first=date(2026, 1, 1), last=date(2026, 12, 31)
            )
        }
        row = await repo.get_row(conn, trimmed_calendar)
    assert row is not None
    assert row["known_until"] == date(2026, 12, 31)
    assert (days[date(2026, 10, 1)]["name"], days[date(2026, 10, 1)]["source"]) == (
        "国庆节（公司）",
        "admin",
    )
    assert days[date(2026, 12, 31)]["source"] == "admin"
    assert days[date(2026, 10, 10)]["source"] == "chinesecalendar"  # the rest was seeded


async def test_concurrent_seeders_add_the_days_once(db: Database, trimmed_calendar: str) -> None:
    async def seed_once() -> list[int]:
        async with db.connect() as conn:
            return await repo.seed_missing_years(conn, trimmed_calendar)

    results = await asyncio.gather(*(seed_once() for _ in range(4)))
    assert sorted(results) == [[], [], [], [2026]]
    async with db.connect() as conn:
        days = await repo.list_days(conn, trimmed_calendar, first=date(2026, 1, 1))
    assert len(days) == len({d["day"] for d in days}) > 10


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    assert settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _calendar_for_cli(settings: Settings) -> str:
    """A fresh seeded calendar, made in this (synchronous) test's own event loop."""
    code = f"t-{uuid.uuid4().hex[:10]}"

    async def make() -> None:
        assert settings.database_url is not None
        db = Database(settings.database_url, pool_size=1, max_overflow=0)
        try:
            async with db.begin() as conn:
                await repo.upsert_calendar(
                    conn,
                    code,
                    {
                        "name": "命令行",
                        "tz": "Asia/Shanghai",
                        "work_start": _t("09:00"),
                        "work_end": _t("18:00"),
                        "lunch_start": None,
                        "lunch_end": None,
                    },
                    now=datetime(2026, 11, 25, tzinfo=SH),
                )
                await repo.seed_missing_years(conn, code)
        finally:
            await db.dispose()

    asyncio.run(make())
    return code


def _status(settings: Settings, code: str, day: date) -> tuple[bool, bool]:
    async def read() -> tuple[bool, bool]:
        assert settings.database_url is not None
        db = Database(settings.database_url, pool_size=1, max_overflow=0)
        try:
            async with db.connect() as conn:
                calendar = (await repo.load_calendar(conn, code)).calendar
        finally:
            await db.dispose()
        return calendar.is_working_day(day), calendar.is_provisional_day(day)

    return asyncio.run(read())


@pytest.mark.usefixtures("cli_env")
def test_the_command_loads_a_2027_schedule_file(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _calendar_for_cli(settings)
    assert _status(settings, code, date(2027, 2, 10)) == (True, True)
    schedule = tmp_path / "2027.json"
    schedule.write_text(
        json.dumps(
            {
                "year": 2027,
                "days": [
                    {"day": "2027-02-10", "type": "holiday", "name": "春节"},
                    {"day": "2027-02-20", "type": "workday", "name": "春节调休"},
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert cli.main(["load", str(schedule), "--calendar", code]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (printed["year"], printed["days"], printed["known_until"]) == (2027, 2, "2027-12-31")
    assert _status(settings, code, date(2027, 2, 10)) == (False, False)
    assert _status(settings, code, date(2027, 2, 20)) == (True, False)


@pytest.mark.usefixtures("cli_env")
def test_the_command_reads_csv_and_refuses_mixed_years(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _calendar_for_cli(settings)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "day,type,name\n2027-10-01,holiday,国庆节\n2028-01-03,holiday,元旦\n", encoding="utf-8"
    )
    assert cli.main(["load", str(mixed), "--calendar", code]) == 1
    assert "exactly one year" in capsys.readouterr().err
    good = tmp_path / "2027.csv"
    good.write_text("day,type,name\n2027-10-08,holiday,国庆节\n", encoding="utf-8")
    assert cli.main(["load", str(good), "--calendar", code]) == 0
    assert _status(settings, code, date(2027, 10, 8)) == (False, False)
    # seed: nothing is missing, so nothing changes.
    assert cli.main(["seed", "--calendar", code]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["seeded_years"] == []


def test_the_calendar_seeded_in_the_database_matches_both_sources(
    test_servers: Servers,
) -> None:
    """On a database of its own (other tests and the API fuzzer change calendars): the default
    calendar as first use seeds it equals chinesecalendar's every day, and agrees with the
    independent `holidays` package on 2025 and 2026, 调休 included."""
    url = create_database(test_servers.admin_url)

    async def load() -> repo.LoadedCalendar:
        db = Database(url, pool_size=1, max_overflow=0)
        try:
            async with db.connect() as conn:
                return await repo.CalendarCache().get(conn)
        finally:
            await db.dispose()

    try:
        loaded = asyncio.run(load())
    finally:
        drop_database(test_servers.admin_url, url)
    seeded = default_calendar()
    assert (loaded.known_from, loaded.known_until) == (seeded.known_from, seeded.known_until)
    assert loaded.calendar.overrides == seeded.overrides
    china = holidays.China(years=[2025, 2026])
    day = date(2025, 1, 1)
    while day.year < 2027:
        expected = china.is_working_day(day)
        assert loaded.calendar.is_working_day(day) is expected, day
        assert chinese_calendar.is_workday(day) is expected, day
        day += timedelta(days=1)
