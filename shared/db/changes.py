"""Writing complaint changes: the events, the projection and their companion rows in ONE statement.

A `ComplaintChange` is what one complaint change writes, in named, typed parts: the events it
appends, the projection after them, the deadlines it plans and the stored deadlines it moves,
the notifications it owes (outbox) and, for a registration, its idempotency keys. The audit
entries of a write are given beside the changes (one per request; the SLA worker writes one
per batch).

The SQL is below, as it runs: `REGISTER` inserts new complaints, `UPDATE` moves existing ones
from the version they were read at. Each is one statement of data-modifying CTEs fed by one
JSON document, so a change — or a batch of hundreds (the SLA worker, a calendar recompute) —
costs one round trip and is atomic by itself.

Optimistic concurrency: an update names the version it was computed from. If another change
won meanwhile, that complaint's UPDATE matches no row; its events, deadlines and outbox rows
are joined to the complaints actually written (`WHERE … IN (SELECT id FROM written)`), so none
of them is written either, and `StaleVersion` is raised. A batch must run inside a
transaction (`write` refuses otherwise): one stale complaint raises after the others were
written, and the caller's transaction is what rolls them back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.audit import AuditRecord
from shared.db.engine import fetch, is_autocommit, json_dumps
from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.errors import PreconditionFailed
from shared.domain.events import Event


class DuplicateKey(Exception):
    """A unique constraint refused the change (e.g. an idempotency key already used)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class StaleVersion(PreconditionFailed):
    pass


# --- the parts of a change -------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedDeadlineRow:
    """A deadline planned by the change (`deadlines` row; the rest take their defaults)."""

    complaint_id: uuid.UUID
    stage: str
    cycle: int
    policy_id: int
    policy_version: int
    calendar_version: int
    unit: str
    amount: int
    warn_ratio: float
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    provisional: bool
    paused_at: datetime | None
    paused_total: timedelta = timedelta(0)  # carried over from a replaced deadline
    status: str = "pending"
    met_at: datetime | None = None  # planned and met at once (an acknowledgement given)


@dataclass(frozen=True)
class DeadlineUpdate:
    """A stored deadline the change moves: every column a change may set, by `id`."""

    id: int
    complaint_id: uuid.UUID
    status: str
    due_at: datetime
    warn_at: datetime
    provisional: bool
    calendar_version: int
    paused_at: datetime | None
    paused_total: timedelta
    warned_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None
    breached_assignee_id: uuid.UUID | None
    escalated_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class OutboxRow:
    """A notification owed (`outbox` row): a webhook event or a message to one person."""

    created_at: datetime
    available_at: datetime
    kind: str
    topic: str
    complaint_id: uuid.UUID
    event_seq: int
    payload: dict[str, Any]
    template_key: str | None = None
    audience: str | None = None
    recipient_user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class IdempotencyKeyRow:
    scope: str
    key: str
    request_hash: str
    complaint_id: uuid.UUID
    created_at: datetime


@dataclass(frozen=True)
class AssessmentRow:
    """An automatic assessment entry (考核, `assessment_entries` row; shared.domain.assessment):
    made once per `key`, with the handler's department looked up as it is written."""

    key: str
    handler_id: uuid.UUID
    complaint_id: uuid.UUID
    reference: str
    rule: str
    amount: Decimal
    occurred_at: datetime


@dataclass(frozen=True)
class EvidenceFileRow:
    """An evidence file the change records (`evidence_files` row), its object already
    stored (shared.storage)."""

    id: uuid.UUID
    complaint_id: uuid.UUID
    event_seq: int
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str
    storage_key: str
    uploaded_by_kind: str
    uploaded_by_id: str | None
    uploaded_at: datetime


@dataclass(frozen=True)
class ComplaintChange:
    """Everything one complaint change writes. `previous` is the state it was computed from
    (None: a new complaint); its version is the optimistic-concurrency guard."""

    state: ComplaintState
    previous: ComplaintState | None
    events: Sequence[tuple[Event, EventMeta]]
    planned_deadlines: Sequence[PlannedDeadlineRow] = ()
    moved_deadlines: Sequence[DeadlineUpdate] = ()
    outbox: Sequence[OutboxRow] = ()
    idempotency_keys: Sequence[IdempotencyKeyRow] = ()
    # The free text its events add to the search index (notes, replies: they are not
    # projection columns), appended to `complaints.search_notes` (全文检索, revision 0030).
    search_notes: str = ""
    assessment: Sequence[AssessmentRow] = ()
    evidence_files: Sequence[EvidenceFileRow] = ()

    @property
    def complaint_id(self) -> uuid.UUID:
        return self.state.id

    def changed_columns(self) -> dict[str, Any]:
        """The projection's columns this change sets, as JSON values (all of them for a new
        complaint; for an update only those that differ: the SLA worker changes a level, not
        the complaint's text, and the statement's document stays small)."""
        if self.previous is None:
            return self.state.model_dump(mode="json")
        before, after = self.previous, self.state
        changed = {
            n for n in ComplaintState.model_fields if getattr(before, n) != getattr(after, n)
        }
        return self.state.model_dump(mode="json", include=changed)


# --- the statements --------------------------------------------------------------------------

# The projection's columns (every column of `complaints` but the computed ones). A test keeps
# this list equal to `ComplaintState`'s fields and to the table.
PROJECTION_COLUMNS = (
    "id, reference, version, status, kind, category, subcategory, cause_class, level, channel, "
    "customer, product, content, desired_resolution, attachments, subject, channel_meta, "
    "notify_customer, department, assignee_id, repeat_of, created_by_kind, created_by_id, "
    "created_at, updated_at, level_reasons, status_before_pause, paused_at, last_contact_at, "
    "contact_count, investigation, root_cause, solution, corrective_actions, satisfaction, "
    "satisfaction_source, management_review, survey_nonce, regulator_reply, resolved_at, "
    "closed_at, resolved_by, review, followup, group_id"
)
_UPDATED_COLUMNS = PROJECTION_COLUMNS.removeprefix("id, ")


def _picked(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


# What every change writes besides its projection, each set of rows joined to the complaints
# the statement actually wrote (`written`), so a stale complaint's rows are never written.
_COMPANIONS = """
events AS (
    INSERT INTO complaint_events (complaint_id, seq, type, actor_kind, actor_id, occurred_at,
                                  payload)
    SELECT e.complaint_id, e.seq, e.type, e.actor_kind, e.actor_id, e.occurred_at, e.payload
    FROM jsonb_populate_recordset(NULL::complaint_events, (SELECT d -> 'events' FROM doc)) AS e
    WHERE e.complaint_id IN (SELECT id FROM written)
),
keys AS (
    INSERT INTO idempotency_keys (scope, key, request_hash, complaint_id, created_at)
    SELECT k.scope, k.key, k.request_hash, k.complaint_id, k.created_at
    FROM jsonb_populate_recordset(NULL::idempotency_keys, (SELECT d -> 'keys' FROM doc)) AS k
    WHERE k.complaint_id IN (SELECT id FROM written)
),
planned AS (
    INSERT INTO deadlines (complaint_id, stage, cycle, policy_id, policy_version,
                           calendar_version, unit, amount, warn_ratio, started_at, due_at,
                           warn_at, provisional, paused_at, paused_total, status, met_at)
    SELECT p.complaint_id, p.stage, p.cycle, p.policy_id, p.policy_version, p.calendar_version,
           p.unit, p.amount, p.warn_ratio, p.started_at, p.due_at, p.warn_at, p.provisional,
           p.paused_at, p.paused_total, p.status, p.met_at
    FROM jsonb_populate_recordset(NULL::deadlines, (SELECT d -> 'planned' FROM doc)) AS p
    WHERE p.complaint_id IN (SELECT id FROM written)
),
moved AS (
    UPDATE deadlines AS t
    SET (status, due_at, warn_at, provisional, calendar_version, paused_at, paused_total,
         warned_at, met_at, breached_at, breached_assignee_id, escalated_at, cancelled_at)
      = (m.status, m.due_at, m.warn_at, m.provisional, m.calendar_version, m.paused_at,
         m.paused_total, m.warned_at, m.met_at, m.breached_at, m.breached_assignee_id,
         m.escalated_at, m.cancelled_at)
    FROM jsonb_populate_recordset(NULL::deadlines, (SELECT d -> 'moved' FROM doc)) AS m
    WHERE t.id = m.id AND t.complaint_id = m.complaint_id
      AND m.complaint_id IN (SELECT id FROM written)
),
outbox_rows AS (
    INSERT INTO outbox (created_at, available_at, kind, topic, complaint_id, event_seq, payload,
                        template_key, audience, recipient_user_id)
    SELECT o.created_at, o.available_at, o.kind, o.topic, o.complaint_id, o.event_seq,
           o.payload, o.template_key, o.audience, o.recipient_user_id
    FROM jsonb_populate_recordset(NULL::outbox, (SELECT d -> 'outbox' FROM doc)) AS o
    WHERE o.complaint_id IN (SELECT id FROM written)
),
assessment_rows AS (
    INSERT INTO assessment_entries (key, handler_id, department, complaint_id, reference, rule,
                                    amount, occurred_at, source, created_at)
    SELECT a.key, a.handler_id, u.department, a.complaint_id, a.reference, a.rule, a.amount,
           a.occurred_at, 'automatic', a.occurred_at
    FROM jsonb_populate_recordset(NULL::assessment_entries, (SELECT d -> 'assessment' FROM doc))
         AS a
    JOIN users AS u ON u.id = a.handler_id
    WHERE a.complaint_id IN (SELECT id FROM written)
    ON CONFLICT (key) DO NOTHING
),
evidence AS (
    INSERT INTO evidence_files (id, complaint_id, event_seq, file_name, media_type, size_bytes,
                                sha256, storage_key, uploaded_by_kind, uploaded_by_id,
                                uploaded_at)
    SELECT f.id, f.complaint_id, f.event_seq, f.file_name, f.media_type, f.size_bytes, f.sha256,
           f.storage_key, f.uploaded_by_kind, f.uploaded_by_id, f.uploaded_at
    FROM jsonb_populate_recordset(NULL::evidence_files, (SELECT d -> 'evidence' FROM doc)) AS f
    WHERE f.complaint_id IN (SELECT id FROM written)
),
audit AS (
    INSERT INTO audit_events (occurred_at, actor_kind, actor_id, actor_label, action, outcome,
                              target_type, target_id, client_ip, details)
    SELECT a.occurred_at, a.actor_kind, a.actor_id, a.actor_label, a.action, a.outcome,
           a.target_type, a.target_id, a.client_ip, a.details
    FROM jsonb_populate_recordset(NULL::audit_events, (SELECT d -> 'audit' FROM doc)) AS a
    WHERE EXISTS (SELECT 1 FROM written)
)
SELECT count(*) AS written FROM written
"""

# New complaints: the projection rows as given.
REGISTER = f"""WITH doc AS (SELECT CAST(CAST($1 AS text) AS jsonb) AS d),
written AS (
    INSERT INTO complaints ({PROJECTION_COLUMNS}, search_notes)
    SELECT {_picked("s", PROJECTION_COLUMNS)}, coalesce(s.search_notes, '')
    FROM jsonb_populate_recordset(NULL::complaints, (SELECT d -> 'complaints' FROM doc)) AS s
    RETURNING id
),{_COMPANIONS}"""

# Existing complaints at the version each change was computed from. Each document entry holds
# only the columns that changed: `jsonb_populate_record(t, …)` lays them over the stored row.
UPDATE = f"""WITH doc AS (SELECT CAST(CAST($1 AS text) AS jsonb) AS d),
written AS (
    UPDATE complaints AS t
    SET ({_UPDATED_COLUMNS}) = (
        SELECT {_picked("n", _UPDATED_COLUMNS)} FROM jsonb_populate_record(t, c.state) AS n
    ),
    search_notes = CASE WHEN c.notes = '' THEN t.search_notes
                        ELSE concat_ws(E'\n', nullif(t.search_notes, ''), c.notes) END
    FROM jsonb_to_recordset((SELECT d -> 'complaints' FROM doc))
         AS c(id uuid, expected_version int, state jsonb, notes text)
    WHERE t.id = c.id AND t.version = c.expected_version
    RETURNING t.id
),{_COMPANIONS}"""


# --- writing ---------------------------------------------------------------------------------


def event_row(event: Event, meta: EventMeta) -> dict[str, Any]:
    return {
        "complaint_id": meta.complaint_id,
        "seq": meta.seq,
        "type": event.type,
        "actor_kind": meta.actor.kind,
        "actor_id": meta.actor.id,
        "occurred_at": meta.occurred_at,
        "payload": event.payload(),
    }


def _document(changes: Sequence[ComplaintChange], audit: Sequence[AuditRecord]) -> str:
    new = changes[0].previous is None
    if new:
        complaints: list[dict[str, Any]] = [
            {**c.changed_columns(), "search_notes": c.search_notes} for c in changes
        ]
    else:
        complaints = [
            {
                "id": c.complaint_id,
                "expected_version": c.previous.version,
                "state": state,
                "notes": c.search_notes,
            }
            for c in changes
            if c.previous is not None and (state := c.changed_columns())
        ]
    return json_dumps(
        {
            "complaints": complaints,
            "events": [event_row(e, m) for c in changes for e, m in c.events],
            # orjson writes dataclasses as objects itself: dataclasses.asdict would deep-copy
            # every value first, a tenth of a registration's CPU (bench/system.py's profile).
            "keys": [k for c in changes for k in c.idempotency_keys],
            "planned": [p for c in changes for p in c.planned_deadlines],
            "moved": [m for c in changes for m in c.moved_deadlines],
            "outbox": [o for c in changes for o in c.outbox],
            "assessment": [a for c in changes for a in c.assessment],
            "evidence": [f for c in changes for f in c.evidence_files],
            "audit": [a.row() for a in audit],
        }
    )


async def write(
    conn: AsyncConnection,
    changes: Sequence[ComplaintChange],
    *,
    audit: Sequence[AuditRecord] = (),
) -> None:
    """Write changes — all new complaints or all updates — and the audit entries that go with
    them, in one statement. Raises `StaleVersion` if a complaint had moved on (none of its
    rows is written), `DuplicateKey` if a unique constraint refused a row (nothing is
    written). More than one change needs a transaction (see the module's docstring)."""
    if not changes:
        return
    new = changes[0].previous is None
    if any((c.previous is None) != new for c in changes):
        raise ValueError("a batch is either new complaints or updates, not both")
    if len(changes) > 1 and await is_autocommit(conn):
        raise RuntimeError("a batch of complaint changes must be written inside a transaction")
    try:
        (row,) = await fetch(conn, REGISTER if new else UPDATE, _document(changes, audit))
    except UniqueViolationError as exc:
        raise DuplicateKey(exc.constraint_name or "") from exc
    if row["written"] != len(changes):
        raise StaleVersion("the complaint was changed by someone else; reload it and try again")
