"""The deadlines repository against PostgreSQL: both insert paths, the complaint list filters,
the public "next deadline", what a calendar change touches, and the caches.

Deadlines are planned here on the seeded calendar and the seeded policy versions (as in force
in 2020), so other tests changing the `default` calendar or the policies do not matter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.calendar_data import default_calendar
from shared.db import calendars as calendars_repo
from shared.db import complaints as complaints_repo
from shared.db import deadlines as repo
from shared.db import sla as sla_repo
from shared.db.changes import ComplaintChange, PlannedDeadlineRow, write
from shared.db.engine import Database
from shared.domain.complaint import Actor, ActorKind, EventMeta
from shared.domain.enums import (
    Category,
    Channel,
    DeadlineStatus,
    DurationUnit,
    Kind,
    Level,
    Stage,
)
from shared.domain.events import ComplaintRegistered
from shared.domain.intake import ComplaintIntake
from shared.domain.reference import format_reference, local_date
from shared.domain.sla import PlannedDeadline, SlaPolicy, StageTrigger, plan_on
from tests.support.factories import complaint_body

SH = ZoneInfo("Asia/Shanghai")
CAL = default_calendar()
START = datetime(2026, 6, 1, 10, tzinfo=SH)  # Monday
SEEDED_ERA = datetime(2020, 1, 1, tzinfo=UTC)
CAL_WD = DurationUnit.WORKING_DAYS


@pytest.fixture(scope="module")
async def policies(db: Database) -> list[SlaPolicy]:
    async with db.connect() as conn:
        return await sla_repo.load_policies(conn, as_of=SEEDED_ERA)


async def new_complaint(client: httpx.AsyncClient, db: Database) -> uuid.UUID:
    """A complaint whose deadlines these repository tests plan themselves: the ones its
    registration planned are removed first."""
    response = await client.post("/api/v1/complaints", json=complaint_body())
    assert response.status_code == 201, response.text
    complaint_id = uuid.UUID(response.json()["id"])
    async with db.connect() as conn:
        await conn.execute(
            text("DELETE FROM deadlines WHERE complaint_id = :id"), {"id": complaint_id}
        )
    return complaint_id


def plan(policies: list[SlaPolicy], *, channel: Channel = Channel.WEB) -> list[PlannedDeadline]:
    return plan_on(
        policies,
        StageTrigger.REGISTRATION,
        kind=Kind.COMPLAINT,
        level=Level.ORDINARY,
        category=Category.PRODUCT_QUALITY,
        channel=channel,
        start=START,
        calendar=CAL,
    )


def rows(complaint_id: uuid.UUID, planned: list[PlannedDeadline]) -> list[dict[str, object]]:
    return [repo.row_for(complaint_id, p, calendar_version=1) for p in planned]


async def test_planned_deadlines_round_trip(
    client: httpx.AsyncClient, db: Database, policies: list[SlaPolicy]
) -> None:
    complaint_id = await new_complaint(client, db)
    planned = plan(policies)
    assert [p.stage for p in planned] == [
        Stage.ACKNOWLEDGEMENT,
        Stage.FIRST_CONTACT,
        Stage.RESOLUTION,
        Stage.PROGRESS_UPDATE,
    ]
    async with db.connect() as conn:
        await repo.insert_many(conn, rows(complaint_id, planned))
        stored = await repo.list_for_complaint(conn, complaint_id)
    assert {repo.planned_from_row(r) for r in stored} == set(planned)
    assert {r["status"] for r in stored} == {"pending"}
    assert {r["paused_total"] for r in stored} == {timedelta(0)}
    assert all(r["policy_version"] == 2 for r in stored)  # migration 0013's corrected defaults


async def test_a_stage_is_planned_once_per_cycle(
    client: httpx.AsyncClient, db: Database, policies: list[SlaPolicy]
) -> None:
    complaint_id = await new_complaint(client, db)
    planned = plan(policies)
    async with db.connect() as conn:
        await repo.insert_many(conn, rows(complaint_id, planned))
        with pytest.raises(IntegrityError, match="uq_deadlines_complaint_id_stage_cycle"):
            await repo.insert_many(conn, rows(complaint_id, planned[:1]))
        # A level change plans the resolution again as the next cycle.
        again = planned[2]._replace(cycle=2, due_at=CAL.add(START, 7, CAL_WD).at)
        await repo.insert_many(conn, rows(complaint_id, [again]))
        stored = await repo.list_for_complaint(conn, complaint_id)
    assert sorted(r["cycle"] for r in stored if r["stage"] == "resolution") == [1, 2]


async def test_deadlines_ride_in_the_complaint_statement(
    db: Database, policies: list[SlaPolicy]
) -> None:
    """The path the API takes: the deadlines are companion rows of the registration."""
    body = complaint_body(channel="regulator", channel_meta={"regulator_case_number": "12315-1"})
    intake = ComplaintIntake.model_validate(body)
    now = datetime.now(UTC)
    async with db.connect() as conn:
        day = local_date(now)
        number = (await complaints_repo.intake_lookup(conn, day, phone=None, since=now)).number
        reference = format_reference(day, number)
        event = ComplaintRegistered(reference=reference, intake=intake, level=Level.VERY_SERIOUS)
        meta = EventMeta(
            complaint_id=uuid.uuid4(),
            seq=1,
            occurred_at=now,
            actor=Actor(kind=ActorKind.SYSTEM, id="test"),
        )
        state = event.apply(None, meta)
        planned = plan_on(
            policies,
            StageTrigger.REGISTRATION,
            kind=state.kind,
            level=state.level,
            category=state.category,
            channel=state.channel,
            start=now,
            calendar=CAL,
        )
        await write(
            conn,
            [
                ComplaintChange(
                    state=state,
                    previous=None,
                    events=[(event, meta)],
                    planned_deadlines=[PlannedDeadlineRow(**r) for r in rows(state.id, planned)],
                )
            ],
        )
        stored = await repo.list_for_complaint(conn, state.id)
    assert {r["stage"] for r in stored} == {
        "acknowledgement",
        "first_contact",
        "resolution",
        "progress_update",
        "regulator_reply",
    }
    by_stage = {r["stage"]: r for r in stored}
    assert by_stage["resolution"]["amount"] == 15
    assert by_stage["regulator_reply"]["due_at"] == CAL.add(now, 10, CAL_WD).at


async def _hours_first_contact(conn: AsyncConnection, complaint_id: uuid.UUID) -> None:
    """First contact in 24 calendar hours (seed 000's rule, a company's possible choice; the
    default is 1 working day): a deadline in calendar hours, which no calendar change moves."""
    await _set(
        conn,
        complaint_id,
        Stage.FIRST_CONTACT,
        unit="hours",
        amount=24,
        due_at=START + timedelta(hours=24),
        warn_at=START + timedelta(hours=18),
    )


async def _set(
    conn: AsyncConnection, complaint_id: uuid.UUID, stage: Stage, **values: object
) -> None:
    """Put a stored deadline in a state (test set-up: complaint changes do this for real)."""
    d = repo.deadlines.c
    await conn.execute(
        repo.deadlines.update()
        .where(d.complaint_id == complaint_id, d.stage == stage.value)
        .values(**values)
    )


async def test_the_next_deadline_is_the_first_running_one(
    client: httpx.AsyncClient, db: Database, policies: list[SlaPolicy]
) -> None:
    complaint_id = await new_complaint(client, db)
    planned = {p.stage: p for p in plan(policies)}
    contact = START + timedelta(hours=3)
    async with db.connect() as conn:
        await repo.insert_many(conn, rows(complaint_id, list(planned.values())))
        await _hours_first_contact(conn, complaint_id)
        first = await repo.next_deadline(conn, complaint_id)
        assert first is not None
        assert (first["stage"], first["due_at"]) == ("first_contact", START + timedelta(hours=24))
        await _set(conn, complaint_id, Stage.FIRST_CONTACT, status="met", met_at=contact)
        second = await repo.next_deadline(conn, complaint_id)
        assert second is not None
        assert second["stage"] == "acknowledgement"
        # A paused clock comes after every running one, however early it is due.
        await _set(conn, complaint_id, Stage.ACKNOWLEDGEMENT, paused_at=contact)
        third = await repo.next_deadline(conn, complaint_id)
        assert third is not None
        assert third["stage"] == "resolution"
        for stage in (Stage.RESOLUTION, Stage.PROGRESS_UPDATE):
            await _set(conn, complaint_id, stage, paused_at=contact)
        paused = await repo.next_deadline(conn, complaint_id)
        assert paused is not None
        assert (paused["stage"], paused["paused_at"]) == ("acknowledgement", contact)
        for stage in (Stage.ACKNOWLEDGEMENT, Stage.RESOLUTION, Stage.PROGRESS_UPDATE):
            await _set(conn, complaint_id, stage, status="cancelled", cancelled_at=contact)
        assert await repo.next_deadline(conn, complaint_id) is None


async def test_the_complaint_list_filters(
    client: httpx.AsyncClient, db: Database, policies: list[SlaPolicy]
) -> None:
    now = datetime(2026, 6, 3, 12, tzinfo=SH)
    base = plan(policies)[0]
    cases = {
        "soon": [base._replace(due_at=now + timedelta(hours=2))],
        "later": [base._replace(due_at=now + timedelta(days=3))],
        "overdue": [base._replace(due_at=now - timedelta(hours=1))],
        "breached": [base._replace(due_at=now - timedelta(days=1))],
        "paused": [base._replace(due_at=now - timedelta(hours=1))],
        "met": [base._replace(due_at=now - timedelta(hours=1))],
    }
    ids = {name: await new_complaint(client, db) for name in cases}
    async with db.connect() as conn:
        for name, planned in cases.items():
            await repo.insert_many(conn, rows(ids[name], planned))
        await _set(conn, ids["paused"], Stage.ACKNOWLEDGEMENT, paused_at=now - timedelta(days=1))
        await _set(conn, ids["met"], Stage.ACKNOWLEDGEMENT, status="met", met_at=now)
        await _set(
            conn,
            ids["breached"],
            Stage.ACKNOWLEDGEMENT,
            status=DeadlineStatus.BREACHED.value,
            breached_at=now,
        )

        async def matching(clause: repo.ComplaintClause) -> set[str]:
            c = repo.complaints.c
            stmt = select(c.id).where(clause, c.id.in_(list(ids.values())))
            found = {r[0] for r in await conn.execute(stmt)}
            return {name for name, i in ids.items() if i in found}

        assert await matching(repo.due_within_clause(now, timedelta(hours=4))) == {"soon"}
        assert await matching(repo.due_within_clause(now, timedelta(days=4))) == {"soon", "later"}
        assert await matching(repo.overdue_clause(now)) == {"overdue"}
        assert await matching(repo.breached_clause()) == {"breached"}


async def test_what_a_calendar_change_touches(
    client: httpx.AsyncClient, db: Database, policies: list[SlaPolicy]
) -> None:
    complaint_id = await new_complaint(client, db)
    planned = plan(policies)  # from Mon 2026-06-01; resolution due Thu 6-04, progress Mon 6-08
    june_3, july_1 = date(2026, 6, 3), date(2026, 7, 1)

    async def selected(which: repo.Selection) -> set[str]:
        async with db.connect() as conn:
            found = await repo.of_complaints(conn, which, [complaint_id])
        return {r["stage"] for r in found}

    async with db.connect() as conn:
        await repo.insert_many(conn, rows(complaint_id, planned))
        await _hours_first_contact(conn, complaint_id)
        pages, after = [], None
        while page := await repo.complaints_with(
            conn, repo.affected_by(june_3, june_3), after=after, limit=2
        ):
            pages.append(page)
            after = page[-1]
    # Calendar hours (first contact, 24 h) never move; the three working-day ones span 6-03.
    assert await selected(repo.affected_by(june_3, june_3)) == {
        "acknowledgement",
        "resolution",
        "progress_update",
    }
    assert await selected(repo.affected_by(july_1, july_1)) == set()
    assert await selected(repo.affected_by(None, None)) == {
        "acknowledgement",
        "resolution",
        "progress_update",
    }
    paged = [i for page in pages for i in page]
    assert complaint_id in paged
    assert paged == sorted(set(paged))  # by id, each complaint once
    # Stale: provisional and computed on an older version than the one given.
    assert await selected(repo.stale(2)) == set()
    async with db.connect() as conn:
        await _set(conn, complaint_id, Stage.RESOLUTION, provisional=True)
        await _set(conn, complaint_id, Stage.FIRST_CONTACT, provisional=True)
    assert await selected(repo.stale(2)) == {"resolution"}  # hours are never recomputed
    assert await selected(repo.stale(1)) == set()
    async with db.connect() as conn:
        resolution = await repo.of_complaints(conn, repo.stale(2), [complaint_id])
        await repo.mark_checked(conn, [r["id"] for r in resolution], 2)
    assert await selected(repo.stale(2)) == set()
    assert await selected(repo.stale(3)) == {"resolution"}


async def test_copy_is_the_bulk_path(
    client: httpx.AsyncClient, db: Database, policies: list[SlaPolicy]
) -> None:
    complaint_id = await new_complaint(client, db)
    planned = plan(policies, channel=Channel.REGULATOR)
    async with db.connect() as conn:
        assert await repo.copy_rows(conn, rows(complaint_id, planned)) == 5
        assert await repo.copy_rows(conn, []) == 0
        stored = await repo.list_for_complaint(conn, complaint_id)
    assert {repo.planned_from_row(r) for r in stored} == set(planned)


def test_row_for_needs_a_stored_policy(policies: list[SlaPolicy]) -> None:
    unsaved = plan(policies)[0]._replace(policy_id=None)
    with pytest.raises(ValueError, match="stored policy"):
        repo.row_for(uuid.uuid4(), unsaved, calendar_version=1)


async def test_the_calendar_cache_follows_the_version(db: Database) -> None:
    code = f"t-{uuid.uuid4().hex[:10]}"
    now = datetime(2026, 11, 25, 10, tzinfo=SH)
    ticks = [0.0]
    cache = calendars_repo.CalendarCache(recheck_after=5, clock=lambda: ticks[0])
    async with db.begin() as conn:
        await calendars_repo.upsert_calendar(
            conn,
            code,
            {
                "name": "缓存测试",
                "tz": "Asia/Shanghai",
                "work_start": time(9),
                "work_end": time(18),
                "lunch_start": None,
                "lunch_end": None,
            },
            now=now,
        )
    async with db.connect() as conn:
        first = await cache.get(conn, code)  # seeds the library's years on first use
        assert (first.known_from, first.known_until) == (date(2004, 1, 1), date(2026, 12, 31))
        assert first.calendar.is_working_day(date(2026, 10, 10))  # 国庆节调休
        assert await cache.get(conn, code) is first
        await calendars_repo.bump_version(conn, code, now=now)
        ticks[0] = 4.9
        assert await cache.get(conn, code) is first  # not re-checked yet
        ticks[0] = 5.0
        second = await cache.get(conn, code)
        assert second.version == first.version + 1
        ticks[0] = 6.0
        assert await cache.get(conn, code) is second  # checked at 5.0: cached again
        await calendars_repo.bump_version(conn, code, now=now)
        cache.invalidate(code)
        assert (await cache.get(conn, code)).version == second.version + 1
        with pytest.raises(LookupError):
            await cache.get(conn, "t-no-such-calendar")
