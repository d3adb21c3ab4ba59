"""The candidates of a group complaint (集体投诉) read in date order, whatever the statistics say
(issue 16).

Registering a complaint about a product model reads the oldest complaints about that model in
the window (at most 200: `shared.db.complaints.GROUP_CANDIDATES_MAX`) from the index
(product_model_key, created_at), and the same by batch. The planner chose that plan only when its
statistics knew the model was common. A new model — the very start of a wave of calls about one
washing machine — is estimated at a handful of rows, so PostgreSQL read EVERY complaint about it
by a bitmap scan and sorted them to keep 200: at 3,377 complaints about the model, 1,148 buffers
and 3.6 ms per registration, growing with the wave (bench/system.py: PostgreSQL's CPU per
registration rose with the length of the run, and collapsed the throughput at 64 callers).

`kesu_group_candidates` runs the same query with its plan pinned by the function's own `SET`s
(restored when it returns): bitmap and sequential scans off, index scans on. Each side is an
index scan in date order that stops after `lim` rows (0.8 ms at the same 3,377, bounded), which
is the right plan for any model, rare or common — so it is planned once per connection and
kept (`plan_cache_mode = force_generic_plan`: a custom plan per call cost more CPU than the
scan itself).

Revision ID: 0052
Revises: 0051
"""

from __future__ import annotations

from alembic import op

revision = "0052"
down_revision = "0051"
branch_labels = None
depends_on = None

# The customer is named by phone, else email, else the complaint itself (shared.application.
# groups.group_query names the new one the same way).
FUNCTION = r"""
CREATE FUNCTION kesu_group_candidates(model text, batch text, since timestamptz, lim integer)
RETURNS TABLE (id uuid, group_id uuid, created_at timestamptz, customer text)
LANGUAGE plpgsql STABLE
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_indexscan = on
SET plan_cache_mode = force_generic_plan
AS $body$
BEGIN
    RETURN QUERY
    SELECT s.id, s.group_id, s.created_at, s.customer FROM (
        (SELECT c.id, c.group_id, c.created_at,
                coalesce(c.customer_phone, lower(c.customer ->> 'email'), c.id::text) AS customer
         FROM complaints c
         WHERE c.product_model_key = model AND c.created_at >= since AND c.kind = 'complaint'
         ORDER BY c.created_at LIMIT lim)
        UNION
        (SELECT c.id, c.group_id, c.created_at,
                coalesce(c.customer_phone, lower(c.customer ->> 'email'), c.id::text) AS customer
         FROM complaints c
         WHERE c.product_batch = batch AND c.created_at >= since AND c.kind = 'complaint'
         ORDER BY c.created_at LIMIT lim)
    ) AS s
    ORDER BY s.created_at, s.id
    LIMIT lim;
END
$body$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION kesu_group_candidates(text, text, timestamptz, integer)")
