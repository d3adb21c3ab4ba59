"""The reports read the indexes alone (issue 12: reports at 1,000,000 complaints).

A monthly report at a million complaints touched a few hundred thousand complaint rows in the
table itself — wide rows, read page by page — to learn a handful of columns. The indexes it
selects by now carry those columns (INCLUDE), so the counts are index-only scans:

- `ix_complaints_resolved_at` + created_at, department, id: handling time of the resolved;
- `ix_complaints_paid` (new, partial: implemented solutions only): the rows whose refunds and
  compensation the report sums, the only resolved ones it reads from the table;
- `ix_complaints_closed_at` + reference, satisfaction, department, id: the closed and their
  回访 scores (the table is read only for those without a score: unreachable or not);
- `ix_complaints_assignee_id` + id, department: who holds each complaint and its department,
  for the deadlines settled in the period (a hash join on this index instead of a scan of the
  whole table);
- `ix_complaints_created_at_id` + status, level, repeat_of, department: the previous period's
  headline counts and the trend of one department;
- `ix_deadlines_met_at` + complaint_id, stage and `ix_deadlines_breached_at` + complaint_id,
  stage, breached_assignee_id: the deadlines settled in the period (those columns never change
  once a deadline is settled).

Every included column is already indexed elsewhere (status, level, department, assignee,
satisfaction is set once), so no update that was HOT stops being HOT; the only new index is
the small partial one.

Downgrade: the indexes as they were (revisions 0001 and 0020), the partial one dropped.

Revision ID: 0046
Revises: 0045
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

_PAID = "(solution ->> 'implemented_at') IS NOT NULL"

# name: (columns, included now)
_WIDENED: dict[str, tuple[list[str], list[str]]] = {
    "ix_complaints_resolved_at": (["resolved_at"], ["created_at", "department", "id"]),
    "ix_complaints_closed_at": (["closed_at"], ["reference", "satisfaction", "department", "id"]),
    "ix_complaints_assignee_id": (["assignee_id"], ["id", "department"]),
    "ix_complaints_created_at_id": (
        ["created_at", "id"],
        ["status", "level", "repeat_of", "department"],
    ),
}


# name: (column, included now, predicate), on deadlines
_SETTLED: dict[str, tuple[str, list[str], str]] = {
    "ix_deadlines_met_at": ("met_at", ["complaint_id", "stage"], "status = 'met'"),
    "ix_deadlines_breached_at": (
        "breached_at",
        ["complaint_id", "stage", "breached_assignee_id"],
        "status = 'breached'",
    ),
}


def upgrade() -> None:
    for name, (columns, included) in _WIDENED.items():
        op.drop_index(name, table_name="complaints")
        op.create_index(name, "complaints", columns, postgresql_include=included)
    for name, (column, included, where) in _SETTLED.items():
        op.drop_index(name, table_name="deadlines")
        op.create_index(
            name,
            "deadlines",
            [column],
            postgresql_include=included,
            postgresql_where=sa.text(where),
        )
    op.create_index(
        "ix_complaints_paid",
        "complaints",
        ["resolved_at"],
        postgresql_include=["department"],
        postgresql_where=sa.text(_PAID),
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_paid", table_name="complaints")
    for name, (column, _, where) in _SETTLED.items():
        op.drop_index(name, table_name="deadlines")
        op.create_index(name, "deadlines", [column], postgresql_where=sa.text(where))
    for name, (columns, _) in _WIDENED.items():
        op.drop_index(name, table_name="complaints")
        op.create_index(name, "complaints", columns)
