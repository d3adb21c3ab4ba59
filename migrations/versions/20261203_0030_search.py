"""Chinese full-text search (全文检索): a CJK bigram index over what a complaint says.

Chinese needs no spaces and Debian has no Chinese parser for PostgreSQL, so the index holds
character bigrams (FACTS.md, "Search in Chinese"): every two-character window of every
whitespace-separated word, plus each word's last character, ASCII letters folded to lower
case. `search_vector` is a generated column of the projection, so every write of a complaint
(registration, actions, the sweep, a recompute, a bulk COPY) keeps it current in the same
statement. Words from the notes and replies (events, not projection columns) reach it through
`search_notes`, which the complaint change writer appends to (shared/db/changes.py).

Three kinds of grams in one vector: the complaint's own words as they are, its handling
records (findings, solution, notes …) prefixed with U+0001, the customer's name and phone
with U+0002 (only principals who may see contact data query those). So one- and two-character terms
are decided by the index alone, relevance tier included, with no row rechecked.

The SQL functions below are the one definition of the searchable text: the query side
(shared/db/search.py) calls them for the exact `LIKE` check and the highlighted snippet.

Also: expression indexes for similar complaints (same e-mail, order, serial number).

Revision ID: 0030
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0030"
down_revision = "0022"
branch_labels = None
depends_on = None

FUNCTIONS = [
    r"""
CREATE FUNCTION kesu_search_fold(doc text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN translate(doc, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
""",
    r"""
CREATE FUNCTION kesu_search_grams(doc text, prefix text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
DECLARE
    -- One character per element (O(1) access, where substr would rescan UTF-8 from the start);
    -- whitespace, the ideographic space (U+3000) included, becomes ' '.
    -- \x01 and \x02 (the prefixes of handling and contact grams) are separators too. Only
    -- built-in functions here: pg_restore computes the column with an empty search_path.
    c text[] := string_to_array(
        translate(
            translate(doc, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
            E'\n\t\r\u3000\x01\x02',
            '      '
        ),
        NULL
    );
    n int := cardinality(c);
    out text[] := '{}';
BEGIN
    FOR i IN 1..n LOOP
        CONTINUE WHEN c[i] = ' ';
        IF i < n AND c[i + 1] <> ' ' THEN
            out := out || (prefix || c[i] || c[i + 1]);
        ELSE
            out := out || (prefix || c[i]);  -- a word's last character
        END IF;
    END LOOP;
    RETURN out;  -- duplicates are fine: array_to_tsvector drops them
END
$$;
""",
    r"""
CREATE FUNCTION kesu_search_main(reference text, content text, product jsonb, subject jsonb,
                                 desired_resolution jsonb, channel_meta jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    coalesce(reference, '') || E'\n' || coalesce(content, '') || E'\n'
    || coalesce(product ->> 'model', '') || ' ' || coalesce(product ->> 'serial_number', '') || ' '
    || coalesce(product ->> 'order_number', '') || ' ' || coalesce(product ->> 'part_number', '')
    || E'\n' || coalesce(product ->> 'symptom', '') || E'\n'
    || coalesce(desired_resolution ->> 'detail', '') || E'\n'
    || coalesce(subject ->> 'staff_name', '') || ' ' || coalesce(subject ->> 'shop', '') || ' '
    || coalesce(channel_meta ->> 'regulator_case_number', '')
);
""",
    r"""
CREATE FUNCTION kesu_search_handling(investigation jsonb, root_cause text, solution jsonb,
                                     corrective_actions jsonb, regulator_reply jsonb,
                                     notes text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    coalesce(investigation ->> 'findings', '') || E'\n' || coalesce(root_cause, '') || E'\n'
    || coalesce(solution ->> 'description', '') || ' '
    || coalesce(jsonb_path_query_array(solution, '$.remedies[*].amount') #>> '{}', '') || ' '
    || coalesce(jsonb_path_query_array(solution, '$.remedies[*].description') #>> '{}', '')
    || E'\n' || coalesce(solution ->> 'customer_response_reason', '') || ' '
    || coalesce(solution ->> 'implementation_note', '') || E'\n'
    || coalesce(jsonb_path_query_array(corrective_actions, '$[*].description') #>> '{}', '')
    || ' ' || coalesce(jsonb_path_query_array(corrective_actions, '$[*].note') #>> '{}', '')
    || E'\n' || coalesce(regulator_reply ->> 'content', '') || E'\n' || coalesce(notes, '')
);
""",
    r"""
CREATE FUNCTION kesu_search_contact(customer jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    coalesce(customer ->> 'name', '') || ' ' || coalesce(customer ->> 'phone', '')
);
""",
    r"""
CREATE FUNCTION kesu_search_vector(main text, handling text, contact text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_to_tsvector(
    kesu_search_grams(main, '') || kesu_search_grams(handling, E'\x01')
    || kesu_search_grams(contact, E'\x02')
);
""",
]

DROP_FUNCTIONS = [
    "DROP FUNCTION kesu_search_vector(text, text, text)",
    "DROP FUNCTION kesu_search_contact(jsonb)",
    "DROP FUNCTION kesu_search_handling(jsonb, text, jsonb, jsonb, jsonb, text)",
    "DROP FUNCTION kesu_search_main(text, text, jsonb, jsonb, jsonb, jsonb)",
    "DROP FUNCTION kesu_search_grams(text, text)",
    "DROP FUNCTION kesu_search_fold(text)",
]

# Repeated verbatim in shared/db/tables.py (alembic check compares them).
SEARCH_VECTOR = (
    "kesu_search_vector("
    "kesu_search_main(reference, content, product, subject, desired_resolution, channel_meta), "
    "kesu_search_handling(investigation, root_cause, solution, corrective_actions, "
    "regulator_reply, search_notes), "
    "kesu_search_contact(customer))"
)


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)
    op.add_column(
        "complaints",
        sa.Column("search_notes", sa.Text(), server_default=sa.text("''"), nullable=False),
    )
    # The notes and replies already written (events) reach the index once, here.
    op.execute(
        """
        UPDATE complaints AS c SET search_notes = n.notes
        FROM (
            SELECT complaint_id, string_agg(t, E'\n' ORDER BY seq) AS notes
            FROM (
                SELECT complaint_id, seq,
                       concat_ws(' ', payload ->> 'text', payload ->> 'result',
                                 payload ->> 'summary',
                                 payload ->> 'note', payload ->> 'reason',
                                 payload ->> 'explanation', payload ->> 'comment') AS t
                FROM complaint_events
            ) AS e
            WHERE t <> ''
            GROUP BY complaint_id
        ) AS n
        WHERE c.id = n.complaint_id
        """
    )
    # Adding a stored generated column computes it for every existing row (the backfill).
    op.add_column(
        "complaints",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_VECTOR, persisted=True),
            nullable=True,
        ),
    )
    # The planner's estimate of a gram's frequency comes from the most common elements kept
    # for the column: with ~300 grams a complaint, the default keeps too few (吞卡 at 3 % was
    # estimated at 0.1 %, and the plan chosen for it was the wrong one).
    op.execute("ALTER TABLE complaints ALTER COLUMN search_vector SET STATISTICS 1000")
    op.create_index(
        "ix_complaints_search_vector",
        "complaints",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_complaints_customer_email",
        "complaints",
        [sa.text("lower(customer ->> 'email')")],
        unique=False,
    )
    op.create_index(
        "ix_complaints_order_number",
        "complaints",
        [sa.text("(product ->> 'order_number')")],
        unique=False,
    )
    op.create_index(
        "ix_complaints_serial_number",
        "complaints",
        [sa.text("(product ->> 'serial_number')")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_serial_number", table_name="complaints")
    op.drop_index("ix_complaints_order_number", table_name="complaints")
    op.drop_index("ix_complaints_customer_email", table_name="complaints")
    op.drop_index("ix_complaints_search_vector", table_name="complaints", postgresql_using="gin")
    op.drop_column("complaints", "search_vector")
    op.drop_column("complaints", "search_notes")
    for statement in DROP_FUNCTIONS:
        op.execute(statement)
