"""The search column and index computed without planning SQL functions on every write (issue 16).

Every INSERT and every UPDATE of a complaint computes `complaints.search_vector`, a stored
generated column (migration 0030), and the GIN index's expression (`search_vector ||
kesu_search_recency(created_at) || kesu_search_facets(…)`, migrations 0050 and 0051). Both
called SQL functions, and PostgreSQL prepares such expressions again for every statement that
writes a row: a SQL function it can inline has its stored body read back (`stringToNode`) and
const-folded, the JSON path expressions included; one it cannot (`kesu_search_recency` is
STRICT) is parsed and planned as a query. Measured on PostgreSQL 15, one-row INSERTs in a loop
(the documented phone example):
- the generated column: 320 µs per row as 0030 wrote it, 115–160 µs with the functions below,
  9 µs without the column;
- a GIN index on `v || kesu_search_recency(created_at)`: 90–160 µs per row with the SQL
  function (inlinable or not), 10–15 µs with the same body in PL/pgSQL.
In bench/system.py's profile of the embedded server this planning was about 12 % of PostgreSQL's
CPU per registration.

So the functions the column and the index name (by OID: no row is rewritten, no index rebuilt)
become PL/pgSQL, opaque to the planner: PostgreSQL plans their bodies once per connection and
keeps the plans. Their results are the same, so the stored vectors and the index stay valid,
and the query side's index expression (shared/db/search.py `INDEXED`) still matches the
index's, neither being inlined. The texts the column's functions compute have new names,
`kesu_search_main_text`, `kesu_search_handling_text` and `kesu_search_contact_text`: SQL
functions with 0030's bodies, still the one definition of the searchable text, which the query
side inlines as before. The grams (`kesu_search_grams`) stay as they are: PL/pgSQL already, and
a regular-expression version measured slower.

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

# The column's text functions: each calls what it computes, schema-qualified (`{schema}`).
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
]

# The column's outer function, in PL/pgSQL or (the downgrade) in SQL, as RECENCY below.
VECTOR = r"""
CREATE OR REPLACE FUNCTION kesu_search_vector(main text, handling text, contact text)
RETURNS tsvector
LANGUAGE {language} IMMUTABLE PARALLEL SAFE
{open}array_to_tsvector(
    {schema}.kesu_search_grams(main, '') || {schema}.kesu_search_grams(handling, E'\x01')
    || {schema}.kesu_search_grams(contact, E'\x02')
){close}
"""

# The index's functions: 0050's and 0051's bodies, in PL/pgSQL (`{language}` and `{open}`/`{close}`
# around the body) or, for the downgrade, in SQL as those migrations wrote them.
RECENCY = r"""
CREATE OR REPLACE FUNCTION kesu_search_recency(at timestamptz) RETURNS tsvector
LANGUAGE {language} IMMUTABLE PARALLEL SAFE STRICT
{open}array_to_tsvector(ARRAY[
    E'\x01\x01' || '0:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 0),
    E'\x01\x01' || '1:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 2),
    E'\x01\x01' || '2:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 4),
    E'\x01\x01' || '3:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 6),
    E'\x01\x01' || '4:' || ((timezone('UTC', at)::date - DATE '2000-01-01') >> 8)
]){close}
"""

FACETS = r"""
CREATE OR REPLACE FUNCTION kesu_search_facets(
    status text, kind text, category text, level integer, channel text, department text,
    assignee uuid
) RETURNS tsvector
LANGUAGE {language} IMMUTABLE PARALLEL SAFE
{open}array_to_tsvector(ARRAY[
    E'\x01\x02' || 's:' || coalesce(status, ''),
    E'\x01\x02' || 'k:' || coalesce(kind, ''),
    E'\x01\x02' || 'c:' || coalesce(category, ''),
    E'\x01\x02' || 'l:' || coalesce(level::text, ''),
    E'\x01\x02' || 'h:' || coalesce(channel, ''),
    E'\x01\x02' || 'd:' || coalesce(department, ''),
    E'\x01\x02' || 'a:' || coalesce(assignee::text, '')
]){close}
"""

PLPGSQL = {"language": "plpgsql", "open": "AS $$ BEGIN RETURN ", "close": "; END $$;"}
SQL = {"language": "sql", "open": "RETURN ", "close": ";"}

TEXTS = {"main": MAIN, "handling": HANDLING, "contact": CONTACT}


def _schema() -> str:
    """The schema the functions live in, quoted, as the PL/pgSQL bodies name it."""
    return str(op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one())


def upgrade() -> None:
    for part, statement in TEXTS.items():
        op.execute(statement.format(name=f"kesu_search_{part}_text"))
    schema = _schema()
    for statement in OPAQUE:
        op.execute(statement.format(schema=schema))
    op.execute(VECTOR.format(schema=schema, **PLPGSQL))
    for statement in (RECENCY, FACETS):
        op.execute(statement.format(**PLPGSQL))


def downgrade() -> None:
    for part, statement in TEXTS.items():
        op.execute(statement.format(name=f"kesu_search_{part}"))
    schema = _schema()
    op.execute(VECTOR.format(schema=schema, **SQL))
    for statement in (RECENCY, FACETS):
        op.execute(statement.format(**SQL))
    op.execute("DROP FUNCTION kesu_search_contact_text(jsonb)")
    op.execute("DROP FUNCTION kesu_search_handling_text(jsonb, text, jsonb, jsonb, jsonb, text)")
    op.execute("DROP FUNCTION kesu_search_main_text(text, text, jsonb, jsonb, jsonb, jsonb)")
