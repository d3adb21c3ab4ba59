"""Evidence files (证据附件): one row per stored file, written with its event.

Revision ID: 0034
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0034"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("uploaded_by_kind", sa.Text(), nullable=False),
        sa.Column("uploaded_by_id", sa.Text(), nullable=True),
        sa.Column("uploaded_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_evidence_files_size_positive")),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_evidence_files_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_evidence_files_storage_key")),
    )
    op.create_index(
        "ix_evidence_files_complaint_id",
        "evidence_files",
        ["complaint_id", "uploaded_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_files_complaint_id", table_name="evidence_files")
    op.drop_table("evidence_files")
