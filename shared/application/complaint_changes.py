"""The one pipeline of a complaint change (投诉变更): stamp → derive the effects → write.

Registration, every staff action, the customer's survey answer, the SLA worker's sweep and a
calendar recompute each load their complaint(s) and let the domain decide in their own way
(that is what differs between them); what the domain decided — a `Decision` per complaint —
then goes through `change_complaints`, the same for all of them:

1. stamp the events (numbered after the complaint's version, the actor and the moment);
2. derive their effects with the domain's rules: the deadlines planned and moved
   (`shared.domain.deadline_rules`), the notifications owed (`shared.domain.notify`), the
   automatic assessment entries against handlers (考核, `shared.domain.assessment`);
3. write the events, the projection, those rows and the audit entries in one statement
   (`shared.db.changes`), guarded by each complaint's version.

A new effect (a search index, a report rollup) is derived in `_derive` and written as a new
part of `ComplaintChange`: every kind of change gets it at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application import deadline_rows
from shared.application.bootstrap import Caches, SurveyUrl
from shared.db import accounts, complaints, deadlines
from shared.db.audit import AuditRecord
from shared.db.changes import (
    AssessmentRow,
    ComplaintChange,
    DeadlineUpdate,
    EvidenceFileRow,
    IdempotencyKeyRow,
    OutboxRow,
    PlannedDeadlineRow,
    write,
)
from shared.db.sla import load_policies
from shared.domain.assessment import automatic_entries
from shared.domain.complaint import Actor, ComplaintState, EventMeta
from shared.domain.deadline_rules import counts_from_registration, deadline_changes
from shared.domain.enums import DeadlineStatus, Level, Role
from shared.domain.events import (
    Assigned,
    Closed,
    ComplaintRegistered,
    DeadlineBreached,
    DeadlineWarned,
    Escalated,
    Event,
    EvidenceAttached,
    GroupLinked,
    SatisfactionRecorded,
    stamp,
)
from shared.domain.notify import Outbox, StaffDirectory, notices
from shared.domain.search import event_text
from shared.domain.sla import PolicyBook

# Who may be alerted of a complaint (by the tier that handles its level, shared.domain.notify).
ALERTED_ROLES = (Role.AGENT, Role.MANAGER, Role.DIRECTOR, Role.ADMIN)

StoredDeadlines = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Decision:
    """What the domain decided for one complaint: the events to append to `before`.

    A registration has no `before`: its first event (`ComplaintRegistered`) creates the
    complaint under `new_id`, chosen by the caller (its idempotency keys name it)."""

    before: ComplaintState | None
    events: Sequence[Event]
    actor: Actor
    new_id: uuid.UUID | None = None
    idempotency_keys: Sequence[IdempotencyKeyRow] = ()
    # Deadlines the caller moved itself (a calendar recompute counts them again); the rest
    # follow from the events.
    moved_deadlines: Sequence[DeadlineUpdate] = ()


@dataclass(frozen=True)
class Context:
    """What deriving effects reads besides the complaint. Batches (the SLA worker, a
    recompute) load it once for all their complaints; a single change leaves the fields None
    and they are read as needed."""

    staff: StaffDirectory | None = None
    # The deadlines stored for each complaint (None: read per complaint).
    stored: Mapping[uuid.UUID, StoredDeadlines] | None = None
    # The SLA policies in force when each complaint was registered (None: read per complaint).
    books: Mapping[uuid.UUID, PolicyBook] | None = None


async def change_complaints(
    conn: AsyncConnection,
    decisions: Sequence[Decision],
    *,
    now: datetime,
    audit: Sequence[AuditRecord],
    caches: Caches,
    survey_url: SurveyUrl | None = None,
    context: Context | None = None,
    before_write: Callable[[Sequence[ComplaintState]], None] | None = None,
) -> list[ComplaintState]:
    """Stamp, derive and write the decisions (all registrations or all updates); returns each
    complaint's new state. Raises `StaleVersion` when a complaint moved on meanwhile and
    `DuplicateKey` when a unique key refused a row (shared.db.changes).

    `before_write` sees the new states before anything is written: the API builds its answer
    there, so a failure to answer leaves nothing written (a client that got an error and
    retries must not register the complaint twice)."""
    given = context or Context()
    changes = [
        await _derive(conn, d, now=now, caches=caches, survey_url=survey_url, context=given)
        for d in decisions
    ]
    if before_write is not None:
        before_write([c.state for c in changes])
    await write(conn, changes, audit=audit)
    return [c.state for c in changes]


def stamped_events(
    decision: Decision, now: datetime
) -> tuple[list[tuple[Event, EventMeta]], list[ComplaintState]]:
    """The decision's events numbered after the complaint's version (from 1 for a new one),
    each with the state after it."""
    if decision.before is not None:
        return stamp(decision.before, decision.events, actor=decision.actor, now=now)
    if decision.new_id is None or not decision.events:
        raise ValueError("a registration names its new complaint's id and its first event")
    first, *rest = decision.events
    meta = EventMeta(complaint_id=decision.new_id, seq=1, occurred_at=now, actor=decision.actor)
    state = first.apply(None, meta)
    stamped, states = stamp(state, rest, actor=decision.actor, now=now)
    return [(first, meta), *stamped], [state, *states]


async def staff_directory(conn: AsyncConnection, caches: Caches) -> StaffDirectory:
    """The staff who may be alerted, with the routing rules' tier per level."""
    by_role = await accounts.staff_by_role(conn, [r.value for r in ALERTED_ROLES])
    routing = (await caches.rules.get(conn)).routing
    return StaffDirectory(
        by_role={Role(k): v for k, v in by_role.items()},
        tier_by_level=routing.tier_by_level,
        report_to_manager_from=routing.report_to_manager_from,
    )


def _needs_staff(
    stamped: Sequence[tuple[Event, EventMeta]], states: Sequence[ComplaintState]
) -> bool:
    # A group's member is not alerted of on its own (shared.domain.notify): the group is.
    grouped = any(isinstance(event, GroupLinked) for event, _ in stamped)
    for (event, _), state in zip(stamped, states, strict=True):
        if isinstance(event, Escalated | DeadlineBreached | DeadlineWarned):
            return True
        if isinstance(event, Assigned) and state.assignee_id is not None:
            return True  # the customer is told the handler's name and work contact
        if isinstance(event, GroupLinked) and event.formed:
            return True  # management is told of the group
        registered = isinstance(event, ComplaintRegistered)
        if registered and state.level is Level.VERY_SERIOUS and not grouped:
            return True
        if isinstance(event, SatisfactionRecorded) and event.management_review:
            return True  # 总经理例会: management is told
    return False


async def _derive(
    conn: AsyncConnection,
    decision: Decision,
    *,
    now: datetime,
    caches: Caches,
    survey_url: SurveyUrl | None,
    context: Context,
) -> ComplaintChange:
    """Stamp one decision and derive everything it writes."""
    before = decision.before
    stamped, states = stamped_events(decision, now)
    complaint_id = states[-1].id
    loaded = await caches.calendars.get(conn)

    staff = context.staff
    if staff is None:
        needed = _needs_staff(stamped, states)
        staff = await staff_directory(conn, caches) if needed else StaffDirectory()
    handlers = {
        s.assignee_id
        for (e, _), s in zip(stamped, states, strict=True)
        if isinstance(e, Assigned) and s.assignee_id is not None
    }
    if handlers - set(staff.contacts):
        contacts = await accounts.work_contacts(conn, sorted(handlers))
        staff = replace(staff, contacts={**staff.contacts, **contacts})

    stored: StoredDeadlines = ()
    if before is not None:
        if context.stored is not None:
            stored = context.stored.get(complaint_id, ())
        else:
            stored = await deadlines.list_for_complaint(conn, complaint_id)
    if context.books is not None:
        book = context.books[complaint_id]
    elif before is None:
        book = await caches.policies.book(conn)  # registration: the policies in force now
    else:
        # The rules in force when the complaint was registered (changes apply to new ones).
        book = PolicyBook(await load_policies(conn, as_of=before.created_at))

    open_ones, cycles = deadline_rows.open_and_cycles(stored)
    reopened_at = None
    if before is not None and counts_from_registration([e for e, _ in stamped]):
        reopened_at = await complaints.last_reopened_at(conn, complaint_id)
    plan = deadline_changes(
        stamped,
        states,
        before=before,
        open_deadlines=open_ones,
        cycles=cycles,
        book=book,
        calendar=loaded.calendar,
        reopened_at=reopened_at,
    )
    outbox = Outbox(now=now, calendar=loaded.calendar)
    notices(
        outbox,
        stamped,
        states,
        staff=staff,
        survey_url=survey_url,
        planned=[p for p in plan.planned if p.stage not in plan.met_on_plan],
        calendar=loaded.calendar,
        before=before,
        webhooks=await caches.webhooks.get(conn),
    )
    planned = []
    for p in plan.planned:
        met = p.stage in plan.met_on_plan
        row = deadlines.row_for(complaint_id, p, calendar_version=loaded.version)
        planned.append(
            PlannedDeadlineRow(
                **row,
                status=(DeadlineStatus.MET if met else DeadlineStatus.PENDING).value,
                met_at=now if met else None,
            )
        )
    moved = deadline_rows.moved_deadlines(stored, plan, at=now, calendar_version=loaded.version)
    assessment: list[AssessmentRow] = []
    if any(isinstance(e, DeadlineBreached | Closed) for e, _ in stamped):
        rules = (await caches.rules.get(conn)).assessment
        assessment = [
            AssessmentRow(
                key=a.key,
                handler_id=a.handler_id,
                complaint_id=a.complaint_id,
                reference=a.reference,
                rule=a.rule.value,
                amount=a.amount,
                occurred_at=a.occurred_at,
            )
            for a in automatic_entries(stamped, states, rules=rules)
        ]
    return ComplaintChange(
        state=states[-1],
        previous=before,
        events=stamped,
        planned_deadlines=planned,
        moved_deadlines=[*moved, *decision.moved_deadlines],
        outbox=[OutboxRow(**row) for row in outbox.rows()],
        idempotency_keys=decision.idempotency_keys,
        search_notes="\n".join(t for e, _ in stamped if (t := event_text(e))),
        assessment=assessment,
        evidence_files=_evidence_rows(stamped),
    )


def _evidence_rows(stamped: Sequence[tuple[Event, EventMeta]]) -> list[EvidenceFileRow]:
    """证据附件: the row of each evidence file an event records (its object is stored)."""
    return [
        EvidenceFileRow(
            id=event.attachment_id,
            complaint_id=meta.complaint_id,
            event_seq=meta.seq,
            file_name=event.file_name,
            media_type=event.media_type,
            size_bytes=event.size_bytes,
            sha256=event.sha256,
            storage_key=event.storage_key,
            uploaded_by_kind=meta.actor.kind,
            uploaded_by_id=meta.actor.id,
            uploaded_at=meta.occurred_at,
        )
        for event, meta in stamped
        if isinstance(event, EvidenceAttached)
    ]
