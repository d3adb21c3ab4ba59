"""Room on complaint pages for heap-only updates: the SLA worker and staff actions rewrite a
complaint's row often, and HOT updates skip the indexes when no indexed column changed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE complaints SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE complaints RESET (fillfactor)")
