"""The group complaints of a report period (集体投诉, issue 12): the registrations that spoke for
several customers, found through an index.

A complaint registered for `group_min_customers` customers or more (intake `customer_count`,
issue 11 §5) is a group complaint on its own; its count is in the registration event only. The
reports (shared/db/reports.py, `GROUPS`) find the period's such registrations through this
partial index: only registrations for more than one customer are in it, so it stays tiny and
costs the ordinary registration nothing but the test of its predicate.

Downgrade: the index is dropped.

Revision ID: 0045
Revises: 0050
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0050"
branch_labels = None
depends_on = None

# The reports' statement repeats this predicate word for word (shared/db/reports.py).
GROUP_REGISTRATIONS = (
    "type = 'complaint.registered' AND (payload #>> '{intake,customer_count}')::integer > 1"
)


def upgrade() -> None:
    op.create_index(
        "ix_complaint_events_group_registrations",
        "complaint_events",
        ["occurred_at"],
        postgresql_where=sa.text(GROUP_REGISTRATIONS),
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_events_group_registrations", table_name="complaint_events")
