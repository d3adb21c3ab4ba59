"""Who holds each complaint, by id, from an index (issue 12: the settled deadlines of a week).

The reports count the deadlines met or breached in a period per handler and department, which
are the complaint's (`assignee_id`, `department`). Revision 0046 put them beside `assignee_id`,
so a report joined the period's deadlines to a scan of that whole index: right for a month, a
million entries read for a week's few thousand deadlines. An index by `id` carrying both lets
the database look each complaint up (a week) or scan it whole (a month), reading no table row
either way; `ix_complaints_assignee_id` goes back to its own column.

Downgrade: the index dropped, `ix_complaints_assignee_id` as revision 0046 left it.

Revision ID: 0047
Revises: 0046
"""

from __future__ import annotations

from alembic import op

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_complaints_holder",
        "complaints",
        ["id"],
        postgresql_include=["assignee_id", "department"],
    )
    op.drop_index("ix_complaints_assignee_id", table_name="complaints")
    op.create_index("ix_complaints_assignee_id", "complaints", ["assignee_id"])


def downgrade() -> None:
    op.drop_index("ix_complaints_assignee_id", table_name="complaints")
    op.create_index(
        "ix_complaints_assignee_id",
        "complaints",
        ["assignee_id"],
        postgresql_include=["id", "department"],
    )
    op.drop_index("ix_complaints_holder", table_name="complaints")
