"""Business calendar, SLA policies and deadlines.

Tables: `calendars` (zone, working hours, the range of days with an official schedule, a
version bumped by every change), `calendar_days` (holidays and make-up working days, 调休),
`sla_policies` + `sla_policy_versions` (the current policies and every version they had),
`deadlines` (one row per planned deadline of a complaint).

Seeded here, as static data: the `default` calendar (Asia/Shanghai, 09:00–18:00) with no days
yet, and the default SLA policies of SPEC §4 (the literal copy below; a test checks it equals
`shared.domain.sla.DEFAULT_POLICIES`).

NOT seeded here: the calendar's days. They come from the installed `chinesecalendar`, whose
knowledge grows with each release (2027 will appear in a later one). A migration runs once, so
seeding in it would freeze whatever the library knew that day, and it would make this revision
depend on library code. Instead `shared.db.calendars.seed_missing_years` adds, idempotently, the
years the library knows and the calendar does not yet (never touching a year already known, so
admin edits and loaded schedule files survive). It runs on the first use of the calendar in each
process and from `python -m services.intake_api.calendar.cli seed`.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

SEEDED_AT = datetime(2026, 11, 25, tzinfo=UTC)
# The seeded policy versions are in force for every complaint, however old (imported ones).
SEEDED_VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _stage(
    stage: str,
    amount: int,
    unit: str = "working_days",
    *,
    starts_on: str = "registration",
    repeats: bool = False,
    escalate: bool = True,
    notify: tuple[str, ...] = ("assignee", "manager"),
) -> dict[str, Any]:
    return {
        "stage": stage,
        "amount": amount,
        "unit": unit,
        "warn_ratio": 0.75,
        "starts_on": starts_on,
        "repeats": repeats,
        "on_breach": {"escalate": escalate, "notify": list(notify)},
    }


_TO_DIRECTOR = ("assignee", "director")

# (name, kind, level, category, channel, stages): SPEC §4, seeds 000 / 002 / 003. Ids 1..7.
DEFAULT_POLICIES: list[tuple[str, str | None, int | None, str | None, str | None, list[Any]]] = [
    (
        "投诉通用时限",
        "complaint",
        None,
        None,
        None,
        [
            _stage("acknowledgement", 1),
            _stage("first_contact", 24, "hours"),
            _stage("investigation", 2, starts_on="assignment"),
            _stage("result_to_customer", 1, starts_on="result_known"),
            _stage("progress_update", 5, repeats=True, escalate=False),
        ],
    ),
    ("一级投诉解决时限", "complaint", 1, None, None, [_stage("resolution", 3)]),
    ("二级投诉解决时限", "complaint", 2, None, None, [_stage("resolution", 7)]),
    (
        "三级投诉解决时限",
        "complaint",
        3,
        None,
        None,
        [_stage("resolution", 15, notify=_TO_DIRECTOR)],
    ),
    (
        "咨询答复时限",
        "inquiry",
        None,
        None,
        None,
        [_stage("acknowledgement", 1), _stage("resolution", 3)],
    ),
    (
        "建议答复时限",
        "suggestion",
        None,
        None,
        None,
        [_stage("acknowledgement", 1), _stage("resolution", 3)],
    ),
    (
        "监管转办回复时限",
        None,
        None,
        None,
        "regulator",
        [_stage("regulator_reply", 10, notify=_TO_DIRECTOR)],
    ),
]


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tz", sa.Text(), nullable=False),
        sa.Column("work_start", sa.Time(), nullable=False),
        sa.Column("work_end", sa.Time(), nullable=False),
        sa.Column("lunch_start", sa.Time(), nullable=True),
        sa.Column("lunch_end", sa.Time(), nullable=True),
        sa.Column("known_from", sa.Date(), nullable=True),
        sa.Column("known_until", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(known_from IS NULL AND known_until IS NULL) OR known_from <= known_until",
            name=op.f("ck_calendars_known_range"),
        ),
        sa.CheckConstraint(
            "(lunch_start IS NULL AND lunch_end IS NULL) OR "
            "(work_start < lunch_start AND lunch_start < lunch_end AND lunch_end < work_end)",
            name=op.f("ck_calendars_lunch_break"),
        ),
        sa.CheckConstraint("work_start < work_end", name=op.f("ck_calendars_working_hours")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_calendars")),
    )
    op.create_table(
        "calendar_days",
        sa.Column("calendar_code", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('chinesecalendar', 'admin', 'file')", name=op.f("ck_calendar_days_source")
        ),
        sa.CheckConstraint("type IN ('holiday', 'workday')", name=op.f("ck_calendar_days_type")),
        sa.ForeignKeyConstraint(
            ["calendar_code"],
            ["calendars.code"],
            name=op.f("fk_calendar_days_calendar_code_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("calendar_code", "day", name=op.f("pk_calendar_days")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), sa.Identity(always=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("level", sa.SmallInteger(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("stages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "sla_policy_versions",
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("valid_from", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("valid_until", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_sla_policy_versions_policy_id_sla_policies"),
        ),
        sa.PrimaryKeyConstraint("policy_id", "version", name=op.f("pk_sla_policy_versions")),
    )
    op.create_table(
        "deadlines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("calendar_version", sa.Integer(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("warn_ratio", sa.Double(), nullable=False),
        sa.Column("started_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("due_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("warn_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("paused_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("paused_total", sa.Interval(), server_default=sa.text("'0'"), nullable=False),
        sa.Column("warned_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("met_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("breached_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("breached_assignee_id", sa.UUID(), nullable=True),
        sa.Column("escalated_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("cancelled_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'warned', 'met', 'breached', 'cancelled')",
            name=op.f("ck_deadlines_status"),
        ),
        sa.CheckConstraint(
            "unit IN ('hours', 'business_hours', 'working_days')", name=op.f("ck_deadlines_unit")
        ),
        sa.CheckConstraint("cycle >= 1 AND amount >= 0", name=op.f("ck_deadlines_cycle_amount")),
        sa.CheckConstraint(
            "warn_ratio >= 0 AND warn_ratio <= 1", name=op.f("ck_deadlines_warn_ratio")
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_deadlines_complaint_id_complaints")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id", "policy_version"],
            ["sla_policy_versions.policy_id", "sla_policy_versions.version"],
            name="fk_deadlines_policy_version_sla_policy_versions",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint(
            "complaint_id", "stage", "cycle", name=op.f("uq_deadlines_complaint_id_stage_cycle")
        ),
    )
    op.create_index(
        "ix_deadlines_warn_at_pending",
        "deadlines",
        ["warn_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending' AND paused_at IS NULL"),
    )
    op.create_index(
        "ix_deadlines_due_at_open",
        "deadlines",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'warned') AND paused_at IS NULL"),
    )
    op.create_index(
        "ix_deadlines_complaint_id_breached",
        "deadlines",
        ["complaint_id"],
        unique=False,
        postgresql_where=sa.text("status = 'breached'"),
    )
    op.create_index(
        "ix_deadlines_breached_assignee_id",
        "deadlines",
        ["breached_assignee_id", "breached_at"],
        unique=False,
        postgresql_where=sa.text("status = 'breached'"),
    )
    op.create_index(
        "ix_deadlines_provisional_open",
        "deadlines",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("provisional AND status IN ('pending', 'warned')"),
    )
    _seed()


def _seed() -> None:
    calendars = sa.table(
        "calendars",
        *(sa.column(c) for c in ("code", "name", "tz", "work_start", "work_end", "version")),
        sa.column("created_at", postgresql.TIMESTAMP(timezone=True)),
        sa.column("updated_at", postgresql.TIMESTAMP(timezone=True)),
    )
    default_calendar = {
        "code": "default",
        "name": "默认工作日历",
        "tz": "Asia/Shanghai",
        "work_start": sa.text("'09:00'"),
        "work_end": sa.text("'18:00'"),
        "version": 1,
        "created_at": SEEDED_AT,
        "updated_at": SEEDED_AT,
    }
    op.execute(calendars.insert().values(**default_calendar))
    policies = sa.table(
        "sla_policies",
        *(sa.column(c) for c in ("name", "kind", "level", "category", "channel", "priority")),
        sa.column("active", sa.Boolean),
        sa.column("stages", postgresql.JSONB),
        sa.column("version", sa.Integer),
        sa.column("created_at", postgresql.TIMESTAMP(timezone=True)),
        sa.column("updated_at", postgresql.TIMESTAMP(timezone=True)),
    )
    versions = sa.table(
        "sla_policy_versions",
        sa.column("policy_id", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("document", postgresql.JSONB),
        sa.column("valid_from", postgresql.TIMESTAMP(timezone=True)),
    )
    # The table is new, so the identity hands out 1..7 in this order.
    for policy_id, (name, kind, level, category, channel, stages) in enumerate(
        DEFAULT_POLICIES, start=1
    ):
        match = {"kind": kind, "level": level, "category": category, "channel": channel}
        row = {
            "name": name,
            **match,
            "priority": 0,
            "active": True,
            "stages": stages,
            "version": 1,
            "created_at": SEEDED_AT,
            "updated_at": SEEDED_AT,
        }
        op.execute(policies.insert().values(**row))
        document = {
            "id": policy_id,
            "version": 1,
            "name": name,
            **match,
            "priority": 0,
            "active": True,
            "stages": stages,
        }
        op.execute(
            versions.insert().values(
                policy_id=policy_id, version=1, document=document, valid_from=SEEDED_VALID_FROM
            )
        )


def downgrade() -> None:
    op.drop_index("ix_deadlines_provisional_open", table_name="deadlines")
    op.drop_index("ix_deadlines_breached_assignee_id", table_name="deadlines")
    op.drop_index("ix_deadlines_complaint_id_breached", table_name="deadlines")
    op.drop_index("ix_deadlines_due_at_open", table_name="deadlines")
    op.drop_index("ix_deadlines_warn_at_pending", table_name="deadlines")
    op.drop_table("deadlines")
    op.drop_table("sla_policy_versions")
    op.drop_table("sla_policies")
    op.drop_table("calendar_days")
    op.drop_table("calendars")
