"""The assessment ledger (考核台账, seed 002 §5.4): entries against handlers.

Automatic entries (first contact missed §5.4.1.1, survey not done before 结案 §5.4.1.3) are
written by complaint changes in the same statement as their event, once per fact (`key`);
managers add procedure violations (§5.4.1.2) and void entries with a reason.

Downgrade: drops the ledger (its entries are lost).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("handler_id", sa.UUID(), nullable=False),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("complaint_id", sa.UUID(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("occurred_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("voided_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Text(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "rule IN ('first_contact_missed', 'procedure_violation', 'survey_not_done')",
            name=op.f("ck_assessment_entries_rule"),
        ),
        sa.CheckConstraint(
            "source IN ('automatic', 'manual')", name=op.f("ck_assessment_entries_source")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_assessment_entries_amount")),
        sa.CheckConstraint(
            "(voided_at IS NULL) = (void_reason IS NULL)", name=op.f("ck_assessment_entries_void")
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_assessment_entries_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["users.id"], name=op.f("fk_assessment_entries_handler_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_assessment_entries_key")),
    )
    op.create_index(
        "ix_assessment_entries_handler_id", "assessment_entries", ["handler_id", "occurred_at"]
    )
    op.create_index("ix_assessment_entries_occurred_at", "assessment_entries", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_assessment_entries_occurred_at", table_name="assessment_entries")
    op.drop_index("ix_assessment_entries_handler_id", table_name="assessment_entries")
    op.drop_table("assessment_entries")
