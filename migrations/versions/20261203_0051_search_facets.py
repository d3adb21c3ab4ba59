"""Full-text search with list filters at a million complaints (issue 13): the filters in the
search index.

Migration 0050 put each complaint's creation day into the search index, so a page reads one
window of days at a time. A filter the index does not know is checked on the heap, row by row:
`漏水` with `status=closed` read every 漏水 of each window (recent complaints are rarely closed),
and the windows grew back over months — thousands of matches read to drop nearly all (1.1–1.4 s
at 1,000,000 complaints). So the index now also holds the values the list filters on — status,
kind, category, level, channel, department and who holds the case — as one lexeme each
(`kesu_search_facets`), and the query side (shared/db/complaints.py) ANDs the filters' lexemes
into each window's `tsquery`: GIN intersects the term's, the days' and the filter's postings and
reads only the rows that pass all three.

Still an expression index (`search_vector || kesu_search_recency(created_at) ||
kesu_search_facets(…)`): no row is rewritten; it replaces 0050's index under the same name, with
the same statistics target.

Revision ID: 0051
Revises: 0047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0051"
down_revision = "0047"
branch_labels = None
depends_on = None

# Repeated in shared/domain/search.py (`facet_lexeme`): the prefix U+0001 U+0002 is never in a
# gram (a handling gram is U+0001 and two characters of text, which never hold U+0001 or
# U+0002) nor in 0050's days (U+0001 U+0001); then a letter for the column, a colon and the
# value (empty when the column is NULL). Never STRICT: a NULL department is a value too.
FACETS_FUNCTION = r"""
CREATE FUNCTION kesu_search_facets(
    status text, kind text, category text, level integer, channel text, department text,
    assignee uuid
) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_to_tsvector(ARRAY[
    E'\x01\x02' || 's:' || coalesce(status, ''),
    E'\x01\x02' || 'k:' || coalesce(kind, ''),
    E'\x01\x02' || 'c:' || coalesce(category, ''),
    E'\x01\x02' || 'l:' || coalesce(level::text, ''),
    E'\x01\x02' || 'h:' || coalesce(channel, ''),
    E'\x01\x02' || 'd:' || coalesce(department, ''),
    E'\x01\x02' || 'a:' || coalesce(assignee::text, '')
]);
"""

# Repeated verbatim in shared/db/tables.py and shared/db/search.py (`INDEXED`).
SEARCH_INDEX = (
    "((search_vector || kesu_search_recency(created_at)) || kesu_search_facets("
    "status, kind, category, level, channel, department, assignee_id))"
)
OLD_SEARCH_INDEX = "(search_vector || kesu_search_recency(created_at))"


def _index(expression: str) -> None:
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.create_index(
        "ix_complaints_search",
        "complaints",
        [sa.text(expression)],
        unique=False,
        postgresql_using="gin",
    )
    # As migration 0050: the grams' real share chooses between the plans.
    op.execute("ALTER INDEX ix_complaints_search ALTER COLUMN 1 SET STATISTICS 1000")


def upgrade() -> None:
    op.execute(FACETS_FUNCTION)
    op.drop_index("ix_complaints_search", table_name="complaints", postgresql_using="gin")
    _index(SEARCH_INDEX)


def downgrade() -> None:
    op.drop_index("ix_complaints_search", table_name="complaints", postgresql_using="gin")
    _index(OLD_SEARCH_INDEX)
    op.execute("DROP FUNCTION kesu_search_facets(text, text, text, integer, text, text, uuid)")
