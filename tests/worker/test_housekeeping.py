"""Housekeeping: old idempotency keys go, tomorrow's reference sequence is ready."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from services.sla_worker.jobs.housekeeping import housekeeping
from shared.db.engine import Database
from shared.domain.reference import local_date
from tests.support.factories import complaint_body


async def test_purges_expired_idempotency_keys_and_prepares_tomorrow(
    client: httpx.AsyncClient, db: Database
) -> None:
    old_key, fresh_key = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    for key in (old_key, fresh_key):
        response = await client.post(
            "/api/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": key}
        )
        assert response.status_code == 201
    async with db.connect() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = now() - interval '3 days' "
                 "WHERE key = :key"),
            {"key": f"key:{old_key}"},
        )  # fmt: skip
    await housekeeping({"db": db})
    tomorrow = local_date(datetime.now(UTC)) + timedelta(days=1)
    async with db.connect() as conn:
        keys = {
            r[0]
            for r in await conn.execute(
                text("SELECT key FROM idempotency_keys WHERE key IN (:a, :b)"),
                {"a": f"key:{old_key}", "b": f"key:{fresh_key}"},
            )
        }
        sequence = (
            await conn.execute(
                text("SELECT to_regclass(:name)"),
                {"name": f"complaint_reference_{tomorrow:%Y%m%d}"},
            )
        ).scalar_one()
    assert keys == {f"key:{fresh_key}"}
    assert sequence is not None
