"""Indexes for the reports (统计分析): what was closed, resolved, withdrawn and settled in a period.

The weekly and monthly reports (shared/db/reports.py) select by the moment something happened
(and list the cases still open from a covering partial index):
complaints closed (`closed_at`) and resolved (`resolved_at`) in the period, deadlines met or
breached in it, withdrawals in it, and the pauses awaiting the customer of the complaints
resolved (excluded from handling time). The partial indexes stay small: a deadline is in one
of them only once settled, an event only when it is a withdrawal or a pause.

Revision ID: 0020
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0034"
branch_labels = None
depends_on = None

_PAUSE_EVENTS = "type IN ('complaint.awaiting_customer', 'complaint.customer_responded')"
# The lifecycle's open states (shared.domain.lifecycle.OPEN_STATES), sorted.
_OPEN = (
    "status IN ('assigned', 'awaiting_customer', 'investigating', 'registered', 'reopened', "
    "'resolved', 'solution_proposed')"
)


def upgrade() -> None:
    op.create_index("ix_complaints_closed_at", "complaints", ["closed_at"])
    op.create_index("ix_complaints_resolved_at", "complaints", ["resolved_at"])
    # The cases still open, with what the report lists of them: read from the index alone.
    op.create_index(
        "ix_complaints_open",
        "complaints",
        ["created_at"],
        postgresql_include=["reference", "department", "id"],
        postgresql_where=sa.text(_OPEN),
    )
    op.create_index(
        "ix_deadlines_met_at", "deadlines", ["met_at"], postgresql_where=sa.text("status = 'met'")
    )
    op.create_index(
        "ix_deadlines_breached_at",
        "deadlines",
        ["breached_at"],
        postgresql_where=sa.text("status = 'breached'"),
    )
    op.create_index(
        "ix_complaint_events_withdrawn",
        "complaint_events",
        ["occurred_at"],
        postgresql_where=sa.text("type = 'complaint.withdrawn'"),
    )
    op.create_index(
        "ix_complaint_events_pauses",
        "complaint_events",
        ["complaint_id"],
        postgresql_where=sa.text(_PAUSE_EVENTS),
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_events_pauses", table_name="complaint_events")
    op.drop_index("ix_complaint_events_withdrawn", table_name="complaint_events")
    op.drop_index("ix_deadlines_breached_at", table_name="deadlines")
    op.drop_index("ix_deadlines_met_at", table_name="deadlines")
    op.drop_index("ix_complaints_open", table_name="complaints")
    op.drop_index("ix_complaints_resolved_at", table_name="complaints")
    op.drop_index("ix_complaints_closed_at", table_name="complaints")
