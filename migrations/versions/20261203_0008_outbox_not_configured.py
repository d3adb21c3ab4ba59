"""Outbox messages for a channel no gateway is configured for wait as `not_configured`.

A message whose channel (SMS, email) has no gateway in the worker that claimed it is no longer
retried on the back-off schedule: it waits with status `not_configured` and the channel it
waits for in `waiting_for`, is never claimed meanwhile, and becomes pending again when a worker
starts with that gateway configured. The partial index serves that start-up and the readiness
check.

Downgrade: waiting messages become pending again (retried as before).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STATUSES_BEFORE = "status IN ('pending', 'delivered', 'dispatched', 'skipped', 'dead')"
_STATUSES = "status IN ('pending', 'not_configured', 'delivered', 'dispatched', 'skipped', 'dead')"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("waiting_for", sa.Text(), nullable=True))
    op.drop_constraint(op.f("ck_outbox_status"), "outbox", type_="check")
    op.create_check_constraint(op.f("ck_outbox_status"), "outbox", _STATUSES)
    op.create_check_constraint(
        op.f("ck_outbox_waiting_for"),
        "outbox",
        "(status = 'not_configured') = (waiting_for IS NOT NULL) "
        "AND (waiting_for IS NULL OR waiting_for IN ('sms', 'email'))",
    )
    op.create_index(
        "ix_outbox_not_configured",
        "outbox",
        ["waiting_for"],
        unique=False,
        postgresql_where=sa.text("status = 'not_configured'"),
    )


def downgrade() -> None:
    op.execute(
        "UPDATE outbox SET status = 'pending', waiting_for = NULL, next_attempt_at = now(), "
        "updated_at = now() WHERE status = 'not_configured'"
    )
    op.drop_index(
        "ix_outbox_not_configured",
        table_name="outbox",
        postgresql_where=sa.text("status = 'not_configured'"),
    )
    op.drop_constraint(op.f("ck_outbox_waiting_for"), "outbox", type_="check")
    op.drop_constraint(op.f("ck_outbox_status"), "outbox", type_="check")
    op.create_check_constraint(op.f("ck_outbox_status"), "outbox", _STATUSES_BEFORE)
    op.drop_column("outbox", "waiting_for")
