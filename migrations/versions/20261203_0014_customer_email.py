"""Repeat complaints by email too (issue 11 §5): `complaints.customer_email`, indexed.

The same customer is the same normalised phone or the same email (case-folded). Like
`customer_phone`, the column is derived in the database from the stored customer, so the
repeat lookup at intake uses an index for either.

Downgrade: the column and its index are dropped.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "complaints",
        sa.Column(
            "customer_email",
            sa.Text(),
            sa.Computed("lower(customer ->> 'email')", persisted=True),
            nullable=True,
        ),
    )
    op.create_index("ix_complaints_customer_email", "complaints", ["customer_email"])


def downgrade() -> None:
    op.drop_index("ix_complaints_customer_email", table_name="complaints")
    op.drop_column("complaints", "customer_email")
