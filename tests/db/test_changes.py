"""The complaint-change writer (shared.db.changes): one statement per change or batch, every
part written or none, stale versions and duplicate keys refused."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.bootstrap import Caches
from shared.application.complaint_changes import Decision, change_complaints
from shared.db import complaints as complaints_repo
from shared.db.audit import AuditContext, AuditRecord
from shared.db.changes import (
    PROJECTION_COLUMNS,
    ComplaintChange,
    DeadlineUpdate,
    DuplicateKey,
    IdempotencyKeyRow,
    OutboxRow,
    PlannedDeadlineRow,
    StaleVersion,
    write,
)
from shared.db.complaints import complaints as complaints_table
from shared.db.engine import Database
from shared.db.tables import SEARCH_COLUMNS
from shared.domain.complaint import Actor, ActorKind, ComplaintState, EventMeta
from shared.domain.enums import Level
from shared.domain.events import ComplaintRegistered, Escalated, stamp
from shared.domain.intake import ComplaintIntake
from shared.domain.reference import format_reference
from tests.support.factories import complaint_body

ACTOR = Actor(kind=ActorKind.SYSTEM, id="test")
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
AUDIT = AuditContext.system("test-changes", now=NOW)


def _new(*, key: str | None = None) -> ComplaintChange:
    """A registration: the complaint, one planned deadline, one outbox row, maybe a key."""
    intake = ComplaintIntake.model_validate(complaint_body())
    reference = format_reference(NOW.date(), random.randint(900_000, 999_999))
    event = ComplaintRegistered(reference=reference, intake=intake, level=Level.ORDINARY)
    meta = EventMeta(complaint_id=uuid.uuid4(), seq=1, occurred_at=NOW, actor=ACTOR)
    state = event.apply(None, meta)
    return ComplaintChange(
        state=state,
        previous=None,
        events=[(event, meta)],
        planned_deadlines=[_deadline(state.id)],
        outbox=[_webhook(state, 1)],
        idempotency_keys=(
            [IdempotencyKeyRow("test", key, "hash", state.id, NOW)] if key is not None else []
        ),
    )


def _deadline(complaint_id: uuid.UUID, *, cycle: int = 1) -> PlannedDeadlineRow:
    return PlannedDeadlineRow(
        complaint_id=complaint_id,
        stage="resolution",
        cycle=cycle,
        policy_id=POLICY[0],
        policy_version=POLICY[1],
        calendar_version=1,
        unit="working_days",
        amount=15,
        warn_ratio=0.8,
        started_at=NOW,
        due_at=NOW + timedelta(days=21),
        warn_at=NOW + timedelta(days=17),
        provisional=False,
        paused_at=None,
    )


def _webhook(state: ComplaintState, seq: int) -> OutboxRow:
    return OutboxRow(
        created_at=NOW,
        available_at=NOW,
        kind="webhook",
        topic="test",
        complaint_id=state.id,
        event_seq=seq,
        payload={"seq": seq},
    )


def _escalation(state: ComplaintState) -> ComplaintChange:
    """An update: one level up, with a webhook row."""
    event = Escalated(from_level=state.level, to_level=Level.SERIOUS, reason="test", cause="manual")
    stamped, states = stamp(state, [event], actor=ACTOR, now=NOW + timedelta(hours=1))
    return ComplaintChange(
        state=states[-1],
        previous=state,
        events=stamped,
        outbox=[_webhook(states[-1], states[-1].version)],
    )


POLICY: tuple[int, int] = (0, 0)


@pytest.fixture(autouse=True)
async def _policy(db: Database) -> None:
    """A stored SLA policy version for the deadlines these tests plan (a foreign key)."""
    global POLICY
    async with db.connect() as conn:
        row = (
            await conn.execute(text("SELECT policy_id, version FROM sla_policy_versions LIMIT 1"))
        ).one()
    POLICY = (row[0], row[1])


async def _count(conn: AsyncConnection, table: str, complaint_id: uuid.UUID) -> int:
    column = {"audit_events": "target_id", "complaints": "id"}.get(table, "complaint_id")
    value: object = str(complaint_id) if table == "audit_events" else complaint_id
    result = await conn.execute(
        text(f"SELECT count(*) FROM {table} WHERE {column} = :v"), {"v": value}
    )
    return int(result.scalar_one())


async def _parts(db: Database, complaint_id: uuid.UUID) -> dict[str, int]:
    async with db.connect() as conn:
        return {
            t: await _count(conn, t, complaint_id)
            for t in (
                "complaints",
                "complaint_events",
                "deadlines",
                "outbox",
                "idempotency_keys",
                "audit_events",
            )
        }


def _audit(change: ComplaintChange) -> list[AuditRecord]:
    return [AUDIT.record("test", target_type="complaint", target_id=str(change.complaint_id))]


def test_the_statement_writes_every_column_of_the_projection() -> None:
    listed = [c.strip() for c in PROJECTION_COLUMNS.split(",")]
    assert listed == list(ComplaintState.model_fields)
    stored = [
        c.name
        for c in complaints_table.columns
        if c.computed is None and c.name not in SEARCH_COLUMNS
    ]
    assert sorted(listed) == sorted(stored)


async def test_a_registration_writes_every_part(db: Database) -> None:
    change = _new(key=f"k-{uuid.uuid4()}")
    async with db.connect() as conn:
        await write(conn, [change], audit=_audit(change))
    assert await _parts(db, change.complaint_id) == {
        "complaints": 1,
        "complaint_events": 1,
        "deadlines": 1,
        "outbox": 1,
        "idempotency_keys": 1,
        "audit_events": 1,
    }


async def test_an_update_writes_its_events_companions_and_moved_deadlines(db: Database) -> None:
    new = _new()
    async with db.connect() as conn:
        await write(conn, [new])
        (deadline_id,) = (
            await conn.execute(
                text("SELECT id FROM deadlines WHERE complaint_id = :c"), {"c": new.complaint_id}
            )
        ).one()
    planned = new.planned_deadlines[0]
    moved = DeadlineUpdate(
        id=deadline_id,
        complaint_id=new.complaint_id,
        status="warned",
        due_at=planned.due_at,
        warn_at=planned.warn_at,
        provisional=False,
        calendar_version=1,
        paused_at=None,
        paused_total=timedelta(0),
        warned_at=NOW,
        met_at=None,
        breached_at=None,
        breached_assignee_id=None,
        escalated_at=None,
        cancelled_at=None,
    )
    update = _escalation(new.state)
    update = ComplaintChange(
        state=update.state,
        previous=update.previous,
        events=update.events,
        outbox=update.outbox,
        moved_deadlines=[moved],
        planned_deadlines=[_deadline(new.complaint_id, cycle=2)],
    )
    async with db.connect() as conn:
        await write(conn, [update], audit=_audit(update))
        row = (
            await conn.execute(
                text("SELECT level, version FROM complaints WHERE id = :c"),
                {"c": new.complaint_id},
            )
        ).one()
        statuses = (
            await conn.execute(
                text("SELECT cycle, status FROM deadlines WHERE complaint_id = :c ORDER BY cycle"),
                {"c": new.complaint_id},
            )
        ).all()
    assert (row.level, row.version) == (2, 2)
    assert [tuple(s) for s in statuses] == [(1, "warned"), (2, "pending")]
    parts = await _parts(db, new.complaint_id)
    assert (parts["complaint_events"], parts["outbox"], parts["audit_events"]) == (2, 2, 1)


async def test_a_stale_change_writes_none_of_its_rows(db: Database) -> None:
    new = _new()
    async with db.connect() as conn:
        await write(conn, [new])
        await write(conn, [_escalation(new.state)])
    before = await _parts(db, new.complaint_id)
    stale = _escalation(new.state)  # computed from version 1; the complaint is at 2
    stale = ComplaintChange(
        state=stale.state,
        previous=stale.previous,
        events=stale.events,
        outbox=stale.outbox,
        planned_deadlines=[_deadline(new.complaint_id, cycle=3)],
    )
    async with db.connect() as conn:
        with pytest.raises(StaleVersion):
            await write(conn, [stale], audit=_audit(stale))
    assert await _parts(db, new.complaint_id) == before


async def test_a_batch_with_one_stale_complaint_writes_none_of_them(db: Database) -> None:
    first, second = _new(), _new()
    async with db.begin() as tx:
        await write(tx, [first, second])
    async with db.connect() as conn:
        await write(conn, [_escalation(second.state)])  # second moves on meanwhile
    before = (await _parts(db, first.complaint_id), await _parts(db, second.complaint_id))
    with pytest.raises(StaleVersion):
        async with db.begin() as tx:
            await write(
                tx,
                [_escalation(first.state), _escalation(second.state)],
                audit=_audit(first),
            )
    after = (await _parts(db, first.complaint_id), await _parts(db, second.complaint_id))
    assert after == before
    async with db.connect() as conn:
        level = await conn.execute(
            text("SELECT level FROM complaints WHERE id = :c"), {"c": first.complaint_id}
        )
        assert level.scalar_one() == 1


async def test_a_batch_outside_a_transaction_is_refused(db: Database) -> None:
    first, second = _new(), _new()
    async with db.connect() as conn:
        with pytest.raises(RuntimeError, match="inside a transaction"):
            await write(conn, [first, second])
    assert (await _parts(db, first.complaint_id))["complaints"] == 0
    assert (await _parts(db, second.complaint_id))["complaints"] == 0


async def test_a_batch_is_all_new_complaints_or_all_updates(db: Database) -> None:
    new = _new()
    async with db.connect() as conn:
        await write(conn, [new])
    with pytest.raises(ValueError, match="not both"):
        async with db.begin() as tx:
            await write(tx, [_new(), _escalation(new.state)])


async def test_a_duplicate_idempotency_key_refuses_the_whole_registration(db: Database) -> None:
    key = f"k-{uuid.uuid4()}"
    first, second = _new(key=key), _new(key=key)
    async with db.connect() as conn:
        await write(conn, [first])
        with pytest.raises(DuplicateKey) as refused:
            await write(conn, [second], audit=_audit(second))
    assert refused.value.constraint == "pk_idempotency_keys"
    assert set((await _parts(db, second.complaint_id)).values()) == {0}


async def test_a_deadline_planned_twice_refuses_the_whole_update(db: Database) -> None:
    new = _new()
    async with db.connect() as conn:
        await write(conn, [new])
    before = await _parts(db, new.complaint_id)
    again = _escalation(new.state)
    again = ComplaintChange(
        state=again.state,
        previous=again.previous,
        events=again.events,
        outbox=again.outbox,
        planned_deadlines=[_deadline(new.complaint_id, cycle=1)],  # (stage, cycle) taken
    )
    async with db.connect() as conn:
        with pytest.raises(DuplicateKey) as refused:
            await write(conn, [again], audit=_audit(again))
    assert refused.value.constraint.startswith("uq_deadlines")
    assert await _parts(db, new.complaint_id) == before


async def test_a_change_is_answered_before_it_is_written(db: Database) -> None:
    """Issue 15 point 1: `before_write` sees the new state before anything is written (the API
    builds its answer there), so an answer that cannot be built leaves nothing written; and the
    row it is given holds what a read of the stored row gives back (a URL as text)."""
    body = complaint_body(channel_meta={"source_url": "https://a.cn/x"})
    intake = ComplaintIntake.model_validate(body)
    reference = format_reference(NOW.date(), random.randint(900_000, 999_999))
    decision = Decision(
        before=None,
        events=[ComplaintRegistered(reference=reference, intake=intake, level=Level.ORDINARY)],
        actor=ACTOR,
        new_id=uuid.uuid4(),
    )
    assert decision.new_id is not None
    record = AUDIT.record("test", target_type="complaint", target_id=str(decision.new_id))

    def cannot_answer(states: Sequence[ComplaintState]) -> None:
        raise RuntimeError("the answer cannot be built")

    async with db.connect() as conn:
        with pytest.raises(RuntimeError):
            await change_complaints(
                conn,
                [decision],
                now=NOW,
                audit=[record],
                caches=Caches(),
                before_write=cannot_answer,
            )
    assert set((await _parts(db, decision.new_id)).values()) == {0}

    seen: list[ComplaintState] = []
    async with db.connect() as conn:
        (state,) = await change_complaints(
            conn, [decision], now=NOW, audit=[record], caches=Caches(), before_write=seen.extend
        )
        stored = await complaints_repo.get_row(conn, state.id)
    assert seen == [state]
    assert stored is not None
    answered = complaints_repo.row_from_state(state)
    for column in ("customer", "channel_meta", "attachments", "product"):
        assert answered[column] == stored[column], column
