"""Lifecycle: what handling records on the complaint projection (investigation, solution,
corrective actions, satisfaction, regulator reply, pause and contact bookkeeping).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = postgresql.TIMESTAMP(timezone=True)
JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("level_reasons", JSONB, nullable=False, server_default="[]"),
        sa.Column("status_before_pause", sa.Text(), nullable=True),
        sa.Column("paused_at", TS, nullable=True),
        sa.Column("last_contact_at", TS, nullable=True),
        sa.Column("contact_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("investigation", JSONB, nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("solution", JSONB, nullable=True),
        sa.Column("corrective_actions", JSONB, nullable=False, server_default="[]"),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("satisfaction_source", sa.Text(), nullable=True),
        sa.Column("management_review", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("survey_nonce", sa.Text(), nullable=True),
        sa.Column("regulator_reply", JSONB, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
    ]
    for column in columns:
        op.add_column("complaints", column)
    # The defaults only fill existing rows; every write gives every column (shared.db.changes).
    for name in ("level_reasons", "contact_count", "corrective_actions", "management_review"):
        op.alter_column("complaints", name, server_default=None)


def downgrade() -> None:
    for name in (
        "closed_at",
        "resolved_at",
        "regulator_reply",
        "survey_nonce",
        "management_review",
        "satisfaction_source",
        "satisfaction",
        "corrective_actions",
        "solution",
        "root_cause",
        "investigation",
        "contact_count",
        "last_contact_at",
        "paused_at",
        "status_before_pause",
        "level_reasons",
    ):
        op.drop_column("complaints", name)
