"""The sign-off chain (审核 → 存档) and the honest 回访 (seed 002 §5.1.1, §5.3.1.6).

Adds to the complaint projection who told the customer the current result (`resolved_by`, the
handler who may never record its rating), the review (`review`: reviewer, role, time) and the
follow-up (`followup`: failed attempts and the unreachable outcome); and two partial indexes:
the tiers' queues of unassigned cases and the management meeting's list.

Existing complaints keep their events; the new fields start empty (a resolved case is then
reviewed and archived through the new chain).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaints", sa.Column("resolved_by", sa.Text(), nullable=True))
    op.add_column(
        "complaints", sa.Column("review", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "complaints", sa.Column("followup", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.create_index(
        "ix_complaints_unassigned_level",
        "complaints",
        ["level", "created_at"],
        postgresql_where=sa.text("assignee_id IS NULL"),
    )
    op.create_index(
        "ix_complaints_management_review",
        "complaints",
        ["created_at"],
        postgresql_where=sa.text("management_review"),
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_management_review", table_name="complaints")
    op.drop_index("ix_complaints_unassigned_level", table_name="complaints")
    op.drop_column("complaints", "followup")
    op.drop_column("complaints", "review")
    op.drop_column("complaints", "resolved_by")
