"""Sending a claimed batch: bounded concurrency, and a batch in hand is never stranded.

Each item settles itself as soon as its attempt ends (a crash loses at most the items in
flight, which their lease brings back). When the job is cancelled (SIGTERM after arq's grace
period), the items not yet settled are released so another worker takes them at once instead of
waiting for the lease to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.sla_worker.logs import stack_of, worker_logger
from shared.db import outbox as repo
from shared.db.engine import Database

log = worker_logger("kesu.worker.deliveries")
_RELEASE_TIMEOUT = 5.0


async def run_batch(
    db: Database,
    table: repo.Table,
    rows: Sequence[dict[str, Any]],
    token: uuid.UUID,
    *,
    concurrency: int,
    handle: Callable[[dict[str, Any]], Awaitable[str]],
) -> list[str]:
    """Run `handle` on every row (at most `concurrency` at once); returns each row's result
    label. `handle` settles its row; an exception leaves the row to its lease, and rows not
    yet started when the batch is cancelled are released."""
    done: set[int] = set()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(row: dict[str, Any]) -> str:
        async with gate:
            try:
                label = await handle(row)
            except Exception as exc:
                # A bug or the database going away: the row stays leased, so it comes back
                # after its lease instead of failing again in a tight loop. The message may
                # hold the recipient's address, name or text: the type and stack only.
                log.error(
                    "delivery of %s %s failed unexpectedly (%s):\n%s",
                    table,
                    row["id"],
                    type(exc).__name__,
                    stack_of(exc),
                )
                label = "error"
            # Not reached when cancelled: a row cancelled before or during its send is
            # released below (sent again at once, with the same id: at least once).
            done.add(row["id"])
            return label

    try:
        return list(await asyncio.gather(*(one(row) for row in rows)))
    finally:
        unsettled = [row["id"] for row in rows if row["id"] not in done]
        if unsettled:
            await _release(db, table, unsettled, token)


async def _release(db: Database, table: repo.Table, ids: list[int], token: uuid.UUID) -> None:
    async def go() -> int:
        async with db.connect() as conn:
            return await repo.release(conn, table, ids=ids, token=token)

    # Shielded: this runs while the job is being cancelled, and must still reach the database.
    with contextlib.suppress(Exception):
        released = await asyncio.wait_for(asyncio.shield(go()), _RELEASE_TIMEOUT)
        if released:
            log.info("released %d unsent %s rows", released, table)
