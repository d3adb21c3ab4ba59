"""The search column computed without planning its expression on every write (issue 16).

`complaints.search_vector` is a stored generated column (migration 0030): every INSERT and every
UPDATE of a complaint computes it. Its expression called four SQL functions with `RETURN`
bodies, which PostgreSQL inlines — and it does so each time a statement starts, for the
generated column's expression is planned again for every INSERT or UPDATE statement: the four
bodies read back from their stored node trees (`stringToNode`) and const-folded, the JSON path
expressions included. Measured on PostgreSQL 15 (one-row INSERTs in a loop, the documented phone
example): 320 µs per row with the column as 0030 wrote it, 115–160 µs with the functions below;
9 µs without the column. In bench/system.py's profile of the embedded server it was about 8 %
of PostgreSQL's CPU per registration.

So the four functions the column names (by OID: the column itself is not rewritten, no row
changes) become PL/pgSQL, opaque to the planner: PostgreSQL plans their bodies once per
connection and keeps the plans. Their results are the same, so the index and the stored
vectors stay valid. The texts they compute have new names, `kesu_search_main_text`,
`kesu_search_handling_text` and `kesu_search_contact_text`: SQL functions with the same bodies
as 0030's, still the one definition of the searchable text, which the query side (shared/db/
search.py) inlines as before. The grams (`kesu_search_grams`) stay as they are: PL/pgSQL
already, and a regular-expression version measured slower.

A PL/pgSQL body finds the functions it calls by `search_path` when it runs, and `pg_restore`
computes the column with an empty one: the bodies name their schema, as it is when this
migration runs (tests/db/test_backup_restore.py restores a dump).

Revision ID: 0053
Revises: 0052
"""

from __future__ import annotations

from alembic import op

revision = "0053"
down_revision = "0052"
branch_labels = None
depends_on = None

# Migration 0030's texts, verbatim but for the name (`{name}`): the `_text` functions now, and
# what the downgrade gives the column's functions back.
MAIN = r"""
CREATE OR REPLACE FUNCTION {name}(reference text, content text, product jsonb, subject jsonb,
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
"""

HANDLING = r"""
CREATE OR REPLACE FUNCTION {name}(investigation jsonb, root_cause text, solution jsonb,
                                  corrective_actions jsonb, regulator_reply jsonb,
                                  notes text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    coalesce(investigation ->> 'findings', '') || E'\n' || coalesce(root_cause, '') || E'\n'
    || coalesce(solution ->> 'description', '') || ' '
    || coalesce(jsonb_path_query_array(solution, '$.remedies[*].amount') #>> '{{}}', '') || ' '
    || coalesce(jsonb_path_query_array(solution, '$.remedies[*].description') #>> '{{}}', '')
    || E'\n' || coalesce(solution ->> 'customer_response_reason', '') || ' '
    || coalesce(solution ->> 'implementation_note', '') || E'\n'
    || coalesce(jsonb_path_query_array(corrective_actions, '$[*].description') #>> '{{}}', '')
    || ' ' || coalesce(jsonb_path_query_array(corrective_actions, '$[*].note') #>> '{{}}', '')
    || E'\n' || coalesce(regulator_reply ->> 'content', '') || E'\n' || coalesce(notes, '')
);
"""

CONTACT = r"""
CREATE OR REPLACE FUNCTION {name}(customer jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    coalesce(customer ->> 'name', '') || ' ' || coalesce(customer ->> 'phone', '')
);
"""

VECTOR_SQL = r"""
CREATE OR REPLACE FUNCTION kesu_search_vector(main text, handling text, contact text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_to_tsvector(
    kesu_search_grams(main, '') || kesu_search_grams(handling, E'\x01')
    || kesu_search_grams(contact, E'\x02')
);
"""

# The column's functions: each calls what it computes, schema-qualified (`{schema}`).
OPAQUE = [
    r"""
CREATE OR REPLACE FUNCTION kesu_search_main(reference text, content text, product jsonb,
                                            subject jsonb, desired_resolution jsonb,
                                            channel_meta jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$ BEGIN
    RETURN {schema}.kesu_search_main_text(reference, content, product, subject,
                                          desired_resolution, channel_meta);
END $$;
""",
    r"""
CREATE OR REPLACE FUNCTION kesu_search_handling(investigation jsonb, root_cause text,
                                                solution jsonb, corrective_actions jsonb,
                                                regulator_reply jsonb, notes text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$ BEGIN
    RETURN {schema}.kesu_search_handling_text(investigation, root_cause, solution,
                                              corrective_actions, regulator_reply, notes);
END $$;
""",
    r"""
CREATE OR REPLACE FUNCTION kesu_search_contact(customer jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$ BEGIN
    RETURN {schema}.kesu_search_contact_text(customer);
END $$;
""",
    r"""
CREATE OR REPLACE FUNCTION kesu_search_vector(main text, handling text, contact text)
RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$ BEGIN
    RETURN array_to_tsvector(
        {schema}.kesu_search_grams(main, '') || {schema}.kesu_search_grams(handling, E'\x01')
        || {schema}.kesu_search_grams(contact, E'\x02')
    );
END $$;
""",
]

TEXTS = {"main": MAIN, "handling": HANDLING, "contact": CONTACT}


def upgrade() -> None:
    for part, statement in TEXTS.items():
        op.execute(statement.format(name=f"kesu_search_{part}_text"))
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one()
    for statement in OPAQUE:
        op.execute(statement.format(schema=schema))


def downgrade() -> None:
    for part, statement in TEXTS.items():
        op.execute(statement.format(name=f"kesu_search_{part}"))
    op.execute(VECTOR_SQL)
    op.execute("DROP FUNCTION kesu_search_contact_text(jsonb)")
    op.execute("DROP FUNCTION kesu_search_handling_text(jsonb, text, jsonb, jsonb, jsonb, text)")
    op.execute("DROP FUNCTION kesu_search_main_text(text, text, jsonb, jsonb, jsonb, jsonb)")
