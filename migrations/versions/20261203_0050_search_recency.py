"""Full-text search at a million complaints (issue 13): recency in the search index.

A search's page is the newest matches (relevance tiers, then recency). The GIN index alone
gives the matches unordered, so the newest 50 of a common term (上门维修 in 17 % of the
complaints) meant reading every match from the heap and sorting — and the planner, which
multiplies the grams' frequencies as if they were independent, could not tell those terms
from rare ones. So the index now also holds, for each complaint, its creation day in blocks
of 1, 4, 16, 64 and 256 days (`kesu_search_recency`): the query side
(shared/db/complaints.py) asks for the matches of one window of days at a time, newest
first, with the window's blocks in the same `tsquery` — GIN intersects the term's postings
with a few days' postings and reads only those rows.

The index is on an expression (`search_vector || kesu_search_recency(created_at)`), so no
row is rewritten; it replaces the index on `search_vector` alone (every query uses the
expression), and is maintained by the same statement as every write of a complaint, like the
column. The planner's statistics are the index expression's now: the column's own target
goes back to the default.

Revision ID: 0050
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0015"
branch_labels = None
depends_on = None

# Repeated in shared/domain/search.py (`recency_lexeme`, the blocks a window of days is made
# of): the prefix U+0001 U+0001 is never in a gram (the grams treat U+0001 as a space and a
# query never holds it), `2 * level` the shift of a block of 4**level days.
RECENCY_FUNCTION = r"""
CREATE FUNCTION kesu_search_recency(at timestamptz) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN array_to_tsvector(ARRAY[
    E'\x01\x01' || '0:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 0),
    E'\x01\x01' || '1:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 2),
    E'\x01\x01' || '2:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 4),
    E'\x01\x01' || '3:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 6),
    E'\x01\x01' || '4:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 8)
]);
"""

# Repeated verbatim in shared/db/tables.py and shared/db/search.py (`INDEXED`).
SEARCH_INDEX = "(search_vector || kesu_search_recency(created_at))"


def upgrade() -> None:
    op.execute(RECENCY_FUNCTION)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.create_index(
        "ix_complaints_search",
        "complaints",
        [sa.text(SEARCH_INDEX)],
        unique=False,
        postgresql_using="gin",
    )
    # Frequent grams' real share (a few % each) is what chooses between the plans: keep many
    # of them in the statistics, as migration 0030 did for the column.
    op.execute("ALTER INDEX ix_complaints_search ALTER COLUMN 1 SET STATISTICS 1000")
    op.drop_index("ix_complaints_search_vector", table_name="complaints", postgresql_using="gin")
    op.execute("ALTER TABLE complaints ALTER COLUMN search_vector SET STATISTICS -1")


def downgrade() -> None:
    op.execute("ALTER TABLE complaints ALTER COLUMN search_vector SET STATISTICS 1000")
    op.create_index(
        "ix_complaints_search_vector",
        "complaints",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.drop_index("ix_complaints_search", table_name="complaints", postgresql_using="gin")
    op.execute("DROP FUNCTION kesu_search_recency(timestamptz)")
