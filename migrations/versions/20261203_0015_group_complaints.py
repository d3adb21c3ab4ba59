"""Group complaints (集体投诉, issue 11 §5): `complaints.group_id` and what finds a group.

- `group_id`: the group a complaint belongs to (the id of the group's first complaint), set
  by the `complaint.group_linked` event;
- `product_model_key` (the model, case-folded) and `product_batch`, derived in the database
  from the stored product like `customer_phone`, indexed with `created_at`: at intake, the
  complaints about the same model or batch within the window are found through an index.

Downgrade: the columns and their indexes are dropped (the events keep the groups).

Revision ID: 0015
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaints", sa.Column("group_id", postgresql.UUID(), nullable=True))
    op.add_column(
        "complaints",
        sa.Column(
            "product_model_key",
            sa.Text(),
            sa.Computed("lower(product ->> 'model')", persisted=True),
            nullable=True,
        ),
    )
    op.add_column(
        "complaints",
        sa.Column(
            "product_batch",
            sa.Text(),
            sa.Computed("product ->> 'batch_number'", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_complaints_product_model_key", "complaints", ["product_model_key", "created_at"]
    )
    op.create_index("ix_complaints_product_batch", "complaints", ["product_batch", "created_at"])
    op.create_index("ix_complaints_group_id", "complaints", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_complaints_group_id", table_name="complaints")
    op.drop_index("ix_complaints_product_batch", table_name="complaints")
    op.drop_index("ix_complaints_product_model_key", table_name="complaints")
    op.drop_column("complaints", "product_batch")
    op.drop_column("complaints", "product_model_key")
    op.drop_column("complaints", "group_id")
