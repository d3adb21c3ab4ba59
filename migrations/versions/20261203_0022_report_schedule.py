"""Scheduled reports (定期报表): subscriptions and the runs the worker produced.

A run is unique per (kind, department scope, period start): however many workers run, each
report is produced once per period; its JSON, Excel workbook and chart page are kept for
download. The e-mails go through the outbox like every other message.

Downgrade: drops both tables (the kept reports are lost).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_KINDS = "kind IN ('weekly', 'monthly', 'causes', 'expectations')"


def upgrade() -> None:
    op.create_table(
        "report_subscriptions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("recipient_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint(_KINDS, name=op.f("ck_report_subscriptions_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_subscriptions")),
    )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("produced_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("file_stem", sa.Text(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("xlsx", sa.LargeBinary(), nullable=False),
        sa.Column("html", sa.LargeBinary(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.CheckConstraint(_KINDS, name=op.f("ck_report_runs_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_runs")),
        sa.UniqueConstraint(
            "kind",
            "scope",
            "period_start",
            name=op.f("uq_report_runs_kind_scope_period_start"),
        ),
    )
    op.create_index("ix_report_runs_produced_at", "report_runs", ["produced_at"])


def downgrade() -> None:
    op.drop_index("ix_report_runs_produced_at", table_name="report_runs")
    op.drop_table("report_runs")
    op.drop_table("report_subscriptions")
