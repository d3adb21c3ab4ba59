"""Every table of Kesu, in SQLAlchemy 2.0 declarative style.

`migrations/` creates them (Alembic, static revisions); this module is what the code and
`alembic check` compare against. Timestamps are `TIMESTAMP WITH TIME ZONE` and stored in UTC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.domain.enums import OPEN_DEADLINE_STATUSES, OutboxStatus
from shared.domain.lifecycle import OPEN_STATES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: TIMESTAMP(timezone=True),
        uuid.UUID: UUID(as_uuid=True),
        Json: JSONB,
        list[Any]: JSONB,
        str: Text,
        date: Date,
    }


# The generated search column's expression, as migration 0030 writes it (alembic compares).
SEARCH_VECTOR_SQL = (
    "kesu_search_vector("
    "kesu_search_main(reference, content, product, subject, desired_resolution, channel_meta), "
    "kesu_search_handling(investigation, root_cause, solution, corrective_actions, "
    "regulator_reply, search_notes), "
    "kesu_search_contact(customer))"
)
# Columns of `complaints` that are not the projection of the event log (never part of a
# ComplaintState, never read back into one): the search index and what feeds it.
SEARCH_COLUMNS = ("search_notes", "search_vector")


class Complaint(Base):
    """The current-state projection of a complaint's event log (one row per complaint)."""

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(unique=True)  # 受理号 KS-YYYYMMDD-NNNNNN
    version: Mapped[int] = mapped_column(Integer)  # = seq of the last event; the ETag
    status: Mapped[str]
    kind: Mapped[str]
    category: Mapped[str]
    subcategory: Mapped[str | None]
    cause_class: Mapped[str | None]
    level: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str]
    customer: Mapped[Json]
    product: Mapped[Json | None]
    content: Mapped[str]
    desired_resolution: Mapped[Json | None]
    attachments: Mapped[list[Any]]
    subject: Mapped[Json | None]  # the staff member / shop complained about (被投诉对象)
    channel_meta: Mapped[Json]
    notify_customer: Mapped[bool] = mapped_column(Boolean)
    department: Mapped[str | None]
    assignee_id: Mapped[uuid.UUID | None]
    repeat_of: Mapped[uuid.UUID | None]
    created_by_kind: Mapped[str]
    created_by_id: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # What handling has recorded (shared.domain.records), as the projection holds it.
    level_reasons: Mapped[list[Any]]
    status_before_pause: Mapped[str | None]
    paused_at: Mapped[datetime | None]
    last_contact_at: Mapped[datetime | None]
    contact_count: Mapped[int] = mapped_column(Integer)
    investigation: Mapped[Json | None]
    root_cause: Mapped[str | None]
    solution: Mapped[Json | None]
    corrective_actions: Mapped[list[Any]]
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    satisfaction_source: Mapped[str | None]
    management_review: Mapped[bool] = mapped_column(Boolean)
    survey_nonce: Mapped[str | None]
    regulator_reply: Mapped[Json | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Revision 0009: the sign-off chain (审核) and the 回访 of the current result.
    resolved_by: Mapped[str | None]
    review: Mapped[Json | None]
    followup: Mapped[Json | None]
    group_id: Mapped[uuid.UUID | None]  # 集体投诉: the group's first complaint (revision 0015)
    # Derived in the database so that filters and repeat detection can use an index.
    customer_phone: Mapped[str | None] = mapped_column(
        Computed("customer ->> 'phone'", persisted=True)
    )
    subject_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Computed("CAST(subject ->> 'staff_user_id' AS uuid)", persisted=True)
    )
    # Group detection by product model or batch (issue 11 §5, revision 0015).
    product_model_key: Mapped[str | None] = mapped_column(
        Computed("lower(product ->> 'model')", persisted=True)
    )
    product_batch: Mapped[str | None] = mapped_column(
        Computed("product ->> 'batch_number'", persisted=True)
    )
    # Full-text search (全文检索, revision 0030): the notes and replies of the events, appended
    # by the writer, and the CJK bigram index of the searchable text (shared/db/search.py).
    search_notes: Mapped[str] = mapped_column(server_default=text("''"))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR(), Computed(SEARCH_VECTOR_SQL, persisted=True), nullable=True
    )

    __table_args__ = (
        # The reports read these four alone (revision 0046: INCLUDE).
        Index(
            "ix_complaints_created_at_id",
            "created_at",
            "id",
            postgresql_include=["status", "level", "repeat_of", "department"],
        ),
        Index("ix_complaints_customer_phone", "customer_phone"),
        Index("ix_complaints_product_model_key", "product_model_key", "created_at"),
        Index("ix_complaints_product_batch", "product_batch", "created_at"),
        Index("ix_complaints_group_id", "group_id"),
        Index("ix_complaints_status", "status"),
        Index("ix_complaints_assignee_id", "assignee_id"),
        # Who holds each complaint, for the reports' settled deadlines (revision 0047).
        Index("ix_complaints_holder", "id", postgresql_include=["assignee_id", "department"]),
        Index("ix_complaints_department", "department"),
        Index("ix_complaints_subject_user_id", "subject_user_id"),
        Index("ix_complaints_created_by", "created_by_kind", "created_by_id"),
        # The grams, the creation day and the filtered values (revisions 0050, 0051;
        # shared.db.search.INDEXED).
        Index(
            "ix_complaints_search",
            text(
                "((search_vector || kesu_search_recency(created_at)) || kesu_search_facets("
                "status, kind, category, level, channel, department, assignee_id))"
            ),
            postgresql_using="gin",
        ),
        # Similar complaints (相似投诉): the same customer, order or product.
        Index("ix_complaints_customer_email", text("lower(customer ->> 'email')")),
        Index("ix_complaints_order_number", text("(product ->> 'order_number')")),
        Index("ix_complaints_serial_number", text("(product ->> 'serial_number')")),
        # The tiers' queues of unassigned cases and the management meeting's list (0009).
        Index(
            "ix_complaints_unassigned_level",
            "level",
            "created_at",
            postgresql_where=text("assignee_id IS NULL"),
        ),
        Index(
            "ix_complaints_management_review",
            "created_at",
            postgresql_where=text("management_review"),
        ),
        # The reports' periods (revision 0020): closed and resolved in a period.
        Index(
            "ix_complaints_closed_at",
            "closed_at",
            postgresql_include=["reference", "satisfaction", "department", "id"],
        ),
        Index(
            "ix_complaints_resolved_at",
            "resolved_at",
            postgresql_include=["created_at", "department", "id"],
        ),
        Index(
            "ix_complaints_paid",
            "resolved_at",
            postgresql_include=["department"],
            postgresql_where=text("(solution ->> 'implemented_at') IS NOT NULL"),
        ),
        Index(
            "ix_complaints_open",
            "created_at",
            postgresql_include=["reference", "department", "id"],
            postgresql_where=text(
                "status IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(OPEN_STATES)))
            ),
        ),
    )


class ComplaintEvent(Base):
    """The append-only event log (the database refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str]
    actor_kind: Mapped[str]
    actor_id: Mapped[str | None]
    occurred_at: Mapped[datetime]
    payload: Mapped[Json]

    __table_args__ = (
        UniqueConstraint("complaint_id", "seq"),
        # The reports (revision 0020): withdrawals in a period, the pauses awaiting the customer.
        Index(
            "ix_complaint_events_withdrawn",
            "occurred_at",
            postgresql_where=text("type = 'complaint.withdrawn'"),
        ),
        Index(
            "ix_complaint_events_pauses",
            "complaint_id",
            postgresql_where=text(
                "type IN ('complaint.awaiting_customer', 'complaint.customer_responded')"
            ),
        ),
        # The reports' group complaints (revision 0045): registrations for several customers.
        Index(
            "ix_complaint_events_group_registrations",
            "occurred_at",
            postgresql_where=text(
                "type = 'complaint.registered'"
                " AND (payload #>> '{intake,customer_count}')::integer > 1"
            ),
        ),
    )


class EvidenceFile(Base):
    """证据附件: one stored evidence file, written in the statement of its
    `complaint.evidence_attached` event (`event_seq`); its bytes are in object storage
    (shared.storage) under `storage_key`."""

    __tablename__ = "evidence_files"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    event_seq: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str]
    media_type: Mapped[str]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str]
    storage_key: Mapped[str] = mapped_column(unique=True)
    uploaded_by_kind: Mapped[str]
    uploaded_by_id: Mapped[str | None]
    uploaded_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_evidence_files_complaint_id", "complaint_id", "uploaded_at"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
    )


class IdempotencyKey(Base):
    """Idempotent creation: (caller scope, key) → the complaint the first request created."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    request_hash: Mapped[str]
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)


class RuleSet(Base):
    """An admin's version of one rule set (shared.domain.rules.Rules): level keywords,
    the repeat window, routing, approval limits, closure. Absent: the seeds' defaults apply."""

    __tablename__ = "rule_sets"

    name: Mapped[str] = mapped_column(primary_key=True)
    document: Mapped[Json]
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None]


class Department(Base):
    """A responsible department (责任部门): quality, logistics, service, sales …"""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class User(Base):
    """A staff account. Passwords are argon2 hashes; `token_version` revokes issued tokens."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(unique=True)  # stored lower-case
    display_name: Mapped[str]
    role: Mapped[str]
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    password_hash: Mapped[str]
    is_active: Mapped[bool] = mapped_column(Boolean)
    token_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Where staff notifications go (revision 0004); personal data, shown to admins only.
    email: Mapped[str | None]
    mobile: Mapped[str | None]  # E.164
    # The direct work contact a customer is told (seed 002 §5.3.1.3: 受理人姓名及联系方式), a
    # desk phone or extension set by an admin or the user (revision 0013); never the mobile.
    contact_phone: Mapped[str | None]


class RefreshToken(Base):
    """Opaque refresh tokens, stored as SHA-256 digests and rotated on every use."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    family_id: Mapped[uuid.UUID]
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)


class ApiKey(Base):
    """An integration's key (`ksk_<prefix>_<secret>`): shown once, stored as a SHA-256 digest."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str]
    prefix: Mapped[str] = mapped_column(unique=True)
    key_hash: Mapped[str]
    scopes: Mapped[list[Any]]
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """The audit log (审计日志): append-only, never holds unmasked personal data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime]
    actor_kind: Mapped[str]
    actor_id: Mapped[str | None]
    actor_label: Mapped[str | None]
    action: Mapped[str]
    outcome: Mapped[str]  # ok / denied / failed
    target_type: Mapped[str | None]
    target_id: Mapped[str | None]
    client_ip: Mapped[str | None]
    details: Mapped[Json]

    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_target", "target_type", "target_id"),
        Index("ix_audit_events_actor", "actor_kind", "actor_id"),
    )


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (typed: `Model.__table__` is only a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# === Notifications (通知): outbox, webhook subscriptions and deliveries, templates ============
# Revision 0004. The outbox is written by complaint changes (same statement as the event); the
# SLA worker delivers it (services/sla_worker/jobs/deliveries.py). Rows never hold customer
# contact data: the worker resolves addresses at send time.

# The earliest moment a worker may claim a row: not before it is available, not before its next
# attempt, not while another worker's lease on it runs. GREATEST ignores NULLs.
_OUTBOX_DUE = "GREATEST(available_at, next_attempt_at, lease_expires_at)"
_DELIVERY_DUE = "GREATEST(next_attempt_at, lease_expires_at)"


class Outbox(Base):
    """One notification owed (通知发件箱): a webhook event (`kind='webhook'`, fanned out to the
    matching subscriptions) or a message to one person (`kind='message'`, SMS or email).

    `message_id` is stable across retries and replays: it is the SMS gateway's idempotency key
    and the email's Message-ID, so a re-delivery after a crash can be recognised downstream.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        unique=True, server_default=text("gen_random_uuid()")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    available_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    kind: Mapped[str]  # webhook / message
    topic: Mapped[str]  # the event type, e.g. complaint.escalated
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("complaints.id"))
    event_seq: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[Json] = mapped_column(server_default=text("'{}'::jsonb"))
    template_key: Mapped[str | None]
    audience: Mapped[str | None]  # customer / staff
    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str | None]  # sms / email / NULL: what the recipient has
    # shared.domain.enums.OutboxStatus: pending → delivered | dispatched (webhook event fanned
    # out) | skipped | dead (死信); or not_configured (waiting for the gateway of `waiting_for`)
    status: Mapped[str] = mapped_column(server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None]
    leased_by: Mapped[str | None]
    last_error: Mapped[str | None]
    delivered_at: Mapped[datetime | None]  # delivered, dispatched, skipped or dead-lettered
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    due_at: Mapped[datetime] = mapped_column(Computed(_OUTBOX_DUE, persisted=True))
    waiting_for: Mapped[str | None]  # not_configured: the channel (sms / email) it waits for

    __table_args__ = (
        CheckConstraint("kind IN ('webhook', 'message')", name="kind"),
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s.value}'" for s in OutboxStatus)), name="status"
        ),
        CheckConstraint("audience IS NULL OR audience IN ('customer', 'staff')", name="audience"),
        CheckConstraint("channel IS NULL OR channel IN ('sms', 'email')", name="channel"),
        CheckConstraint(
            "(status = 'not_configured') = (waiting_for IS NOT NULL) "
            "AND (waiting_for IS NULL OR waiting_for IN ('sms', 'email'))",
            name="waiting_for",
        ),
        Index("ix_outbox_due", "kind", "due_at", postgresql_where=text("status = 'pending'")),
        Index("ix_outbox_dead", "created_at", postgresql_where=text("status = 'dead'")),
        Index(
            "ix_outbox_not_configured",
            "waiting_for",
            postgresql_where=text("status = 'not_configured'"),
        ),
        Index("ix_outbox_complaint_id", "complaint_id"),
        Index("ix_outbox_status_id", "status", "id"),
    )


class WebhookSubscription(Base):
    """A receiver of signed webhooks (回调订阅). The secret is shown once, at creation."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    description: Mapped[str]
    url: Mapped[str]
    event_types: Mapped[list[Any]]  # patterns: "complaint.escalated", "complaint.*", "*"
    secret: Mapped[str]  # whsec_…; needed in clear to sign, never returned after creation
    active: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None]
    disabled_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]  # kept for the delivery log; never delivered to again


class WebhookDelivery(Base):
    """One webhook event owed to one subscription (投递): its own attempts and status, and the
    `webhook_id` every attempt (and every replay) of it carries."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("outbox.id"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        unique=True, server_default=text("gen_random_uuid()")
    )
    status: Mapped[str] = mapped_column(server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None]
    leased_by: Mapped[str | None]
    last_error: Mapped[str | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(Computed(_DELIVERY_DUE, persisted=True))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'skipped', 'dead')", name="status"),
        UniqueConstraint("outbox_id", "subscription_id"),
        Index("ix_webhook_deliveries_due", "due_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_subscription_id", "subscription_id", "id"),
        Index("ix_webhook_deliveries_status_id", "status", "id"),
    )


class DeliveryAttempt(Base):
    """The delivery log (投递记录): one row per attempt. No personal data, no secrets: errors
    are scrubbed of the recipient's address before they are written."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("outbox.id"))
    webhook_delivery_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("webhook_deliveries.id")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    channel: Mapped[str]  # webhook / sms / email
    outcome: Mapped[str]  # delivered / retry / gone / refused / failed / skipped
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None]
    duration_ms: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None]

    __table_args__ = (
        Index("ix_delivery_attempts_outbox_id", "outbox_id", "id"),
        Index("ix_delivery_attempts_webhook_delivery_id", "webhook_delivery_id", "id"),
    )


class NotificationTemplate(Base):
    """Admin overrides of `shared.domain.templates.DEFAULT_TEMPLATES` (通知模板), versioned: the
    highest version of a key is in force; a version with no body restores the default."""

    __tablename__ = "notification_templates"

    key: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str | None]
    body: Mapped[str | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


# === end of notifications ======================================================================


# === Business calendar (工作日历), SLA policies (时限规则) and deadlines (时限) =================
# Migration: migrations/versions/20261125_0003_calendar.py. Repositories: shared/db/calendars.py,
# shared/db/sla.py, shared/db/deadlines.py. The CHECK texts are repeated verbatim there.


def open_deadline_sql(column: str = "status") -> str:
    """`column IN ('pending', 'warned')`: the open deadline statuses (the domain's
    `OPEN_DEADLINE_STATUSES`) as SQL, for statements that name the column otherwise
    (`open_deadline_sql("d.status")`). Sorted, so the text never changes: the partial indexes
    below are compared by `alembic check` with the migration's predicates, string for string."""
    values = ", ".join(f"'{status.value}'" for status in sorted(OPEN_DEADLINE_STATUSES))
    return f"{column} IN ({values})"


# The deadline statuses that still owe something; the partial indexes below are on these.
OPEN_DEADLINE_SQL = open_deadline_sql()


class Calendar(Base):
    """A business calendar: zone, working hours, and the range of days whose official schedule
    (放假安排, with 调休) it holds. Outside `known_from..known_until` deadlines are provisional.

    `version` is bumped by every change (days, hours, a year loaded): caches key on it and open
    deadlines record the version they were computed with, so stale ones can be found.
    """

    __tablename__ = "calendars"

    code: Mapped[str] = mapped_column(primary_key=True)  # 'default'
    name: Mapped[str]
    tz: Mapped[str]
    work_start: Mapped[time] = mapped_column(Time())
    work_end: Mapped[time] = mapped_column(Time())
    lunch_start: Mapped[time | None] = mapped_column(Time())
    lunch_end: Mapped[time | None] = mapped_column(Time())
    # NULL until the first schedule is seeded or loaded (a calendar that knows no year).
    known_from: Mapped[date | None]
    known_until: Mapped[date | None]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("work_start < work_end", name="working_hours"),
        CheckConstraint(
            "(lunch_start IS NULL AND lunch_end IS NULL) OR "
            "(work_start < lunch_start AND lunch_start < lunch_end AND lunch_end < work_end)",
            name="lunch_break",
        ),
        CheckConstraint(
            "(known_from IS NULL AND known_until IS NULL) OR known_from <= known_until",
            name="known_range",
        ),
    )


class CalendarDay(Base):
    """A day whose status differs from Mon–Fri (or that has a name): a statutory holiday on a
    weekday (法定节假日) or a make-up working day on a weekend (调休上班)."""

    __tablename__ = "calendar_days"

    calendar_code: Mapped[str] = mapped_column(
        ForeignKey("calendars.code", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    type: Mapped[str]  # holiday | workday
    name: Mapped[str]
    source: Mapped[str]  # chinesecalendar | admin | file
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("type IN ('holiday', 'workday')", name="type"),
        CheckConstraint("source IN ('chinesecalendar', 'admin', 'file')", name="source"),
    )


class SlaPolicyRecord(Base):
    """An SLA policy as it is now (`shared.domain.sla.SlaPolicy`); every version it ever had is
    kept in `sla_policy_versions`, which deadlines reference."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(Integer, Identity(always=True), primary_key=True)
    name: Mapped[str]
    # Match fields: NULL matches any value.
    kind: Mapped[str | None]
    level: Mapped[int | None] = mapped_column(SmallInteger)
    category: Mapped[str | None]
    channel: Mapped[str | None]
    priority: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    stages: Mapped[list[Any]]  # [{stage, amount, unit, warn_ratio, starts_on, repeats, on_breach}]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlaPolicyVersion(Base):
    """One version of a policy, immutable: the whole policy document and when it was in force.

    New complaints use the versions in force when they are registered; deadlines keep
    (policy_id, version), so changing a policy never changes a deadline already planned.
    """

    __tablename__ = "sla_policy_versions"

    policy_id: Mapped[int] = mapped_column(Integer, ForeignKey("sla_policies.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[Json]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]  # NULL: the current version
    changed_by: Mapped[str | None]


class Deadline(Base):
    """One planned deadline (时限) of a complaint: (stage, cycle) is unique per complaint.

    A stage planned again (a level change re-plans the resolution, progress updates repeat)
    gets a new `cycle`; the previous row is met or cancelled, never rewritten into another
    plan. `provisional` sits beside `status` rather than being one of its values: a deadline
    computed on guessed days is still pending, warned, met or breached like any other, and
    stops being provisional when the schedule is loaded and it is recomputed.
    """

    __tablename__ = "deadlines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"))
    stage: Mapped[str]
    cycle: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[int] = mapped_column(Integer)
    policy_version: Mapped[int] = mapped_column(Integer)
    calendar_version: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str]
    amount: Mapped[int] = mapped_column(Integer)
    warn_ratio: Mapped[float] = mapped_column(Double())
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    warn_at: Mapped[datetime]
    provisional: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(server_default=text("'pending'"))
    # While the complaint awaits the customer the clock stops: `paused_at` is set, and on
    # resumption the paused time (in the unit's sense) is added to `paused_total`.
    paused_at: Mapped[datetime | None]
    paused_total: Mapped[timedelta] = mapped_column(Interval(), server_default=text("'0'"))
    warned_at: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    breached_assignee_id: Mapped[uuid.UUID | None]  # who held the case (seed 002 counts them)
    escalated_at: Mapped[datetime | None]  # set once: a deadline never escalates twice
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        UniqueConstraint("complaint_id", "stage", "cycle"),
        ForeignKeyConstraint(
            ["policy_id", "policy_version"],
            ["sla_policy_versions.policy_id", "sla_policy_versions.version"],
            name="fk_deadlines_policy_version_sla_policy_versions",
        ),
        CheckConstraint(
            "status IN ('pending', 'warned', 'met', 'breached', 'cancelled')", name="status"
        ),
        CheckConstraint("unit IN ('hours', 'business_hours', 'working_days')", name="unit"),
        CheckConstraint("cycle >= 1 AND amount >= 0", name="cycle_amount"),
        CheckConstraint("warn_ratio >= 0 AND warn_ratio <= 1", name="warn_ratio"),
        # The SLA worker's sweeps: warnings due, breaches due (paused clocks excluded).
        Index(
            "ix_deadlines_warn_at_pending",
            "warn_at",
            postgresql_where=text("status = 'pending' AND paused_at IS NULL"),
        ),
        Index(
            "ix_deadlines_due_at_open",
            "due_at",
            postgresql_where=text(f"{OPEN_DEADLINE_SQL} AND paused_at IS NULL"),
        ),
        # The complaint list's "breached" filter and the per-handler breach counts.
        Index(
            "ix_deadlines_complaint_id_breached",
            "complaint_id",
            postgresql_where=text("status = 'breached'"),
        ),
        Index(
            "ix_deadlines_breached_assignee_id",
            "breached_assignee_id",
            "breached_at",
            postgresql_where=text("status = 'breached'"),
        ),
        # The reports (revision 0020): deadlines met or breached in a period.
        Index(
            "ix_deadlines_met_at",
            "met_at",
            postgresql_include=["complaint_id", "stage"],
            postgresql_where=text("status = 'met'"),
        ),
        Index(
            "ix_deadlines_breached_at",
            "breached_at",
            postgresql_include=["complaint_id", "stage", "breached_assignee_id"],
            postgresql_where=text("status = 'breached'"),
        ),
        # Recomputing what a newly loaded schedule makes definite.
        Index(
            "ix_deadlines_provisional_open",
            "due_at",
            postgresql_where=text(f"provisional AND {OPEN_DEADLINE_SQL}"),
        ),
    )


# === end of calendar, SLA policies and deadlines ===============================================


# === Assessment (考核) ==========================================================================
# Revision 0021. Automatic entries are written by complaint changes (shared/db/changes.py, same
# statement as the event); manual ones by managers (shared/db/assessment.py).

ASSESSMENT_RULES_SQL = "rule IN ('first_contact_missed', 'procedure_violation', 'survey_not_done')"


class AssessmentEntry(Base):
    """One entry of the assessment ledger (考核台账, seed 002 §5.4) against a handler: what it
    is for, the amount (负激励, 元), and — once voided by a manager — when, by whom and why."""

    __tablename__ = "assessment_entries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # Automatic entries name the fact they are for (a deadline, a closure): made once.
    key: Mapped[str | None] = mapped_column(unique=True)
    handler_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    department: Mapped[str | None]  # the handler's when the entry was made
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("complaints.id"))
    reference: Mapped[str | None]  # 受理号
    rule: Mapped[str]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reason: Mapped[str | None]
    occurred_at: Mapped[datetime]
    source: Mapped[str]  # automatic / manual
    created_by: Mapped[str | None]
    created_at: Mapped[datetime]
    voided_at: Mapped[datetime | None]
    voided_by: Mapped[str | None]
    void_reason: Mapped[str | None]

    __table_args__ = (
        CheckConstraint(ASSESSMENT_RULES_SQL, name="rule"),
        CheckConstraint("source IN ('automatic', 'manual')", name="source"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("(voided_at IS NULL) = (void_reason IS NULL)", name="void"),
        Index("ix_assessment_entries_handler_id", "handler_id", "occurred_at"),
        Index("ix_assessment_entries_occurred_at", "occurred_at"),
    )


# === end of assessment ==========================================================================


# === Scheduled reports (定期报表) ===============================================================
# Revision 0022. Admins subscribe recipients to a report; the SLA worker produces each report
# once per period (the unique (kind, scope, period_start)) and queues one e-mail per recipient
# in the outbox, which the delivery pipeline sends with the files attached.

REPORT_KINDS_SQL = "kind IN ('weekly', 'monthly', 'causes', 'expectations')"


class ReportSubscription(Base):
    """Who receives which report (报表订阅): a kind, a department scope (NULL: every
    department) and the staff members it is e-mailed to."""

    __tablename__ = "report_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str]
    department: Mapped[str | None]
    recipient_ids: Mapped[list[Any]]  # user ids (text)
    active: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (CheckConstraint(REPORT_KINDS_SQL, name="kind"),)


class ReportRun(Base):
    """One scheduled report as produced (报表存档): its data and its files, kept for download."""

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    kind: Mapped[str]
    scope: Mapped[str]  # the department, '' for every department
    period_start: Mapped[date]
    period_end: Mapped[date]
    produced_at: Mapped[datetime]
    title: Mapped[str]
    file_stem: Mapped[str]
    report: Mapped[Json]
    xlsx: Mapped[bytes] = mapped_column(LargeBinary())
    html: Mapped[bytes] = mapped_column(LargeBinary())
    recipients: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(REPORT_KINDS_SQL, name="kind"),
        UniqueConstraint("kind", "scope", "period_start"),
        Index("ix_report_runs_produced_at", "produced_at"),
    )


# === end of scheduled reports ===================================================================
