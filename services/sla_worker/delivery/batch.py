"""Sending a claimed batch: bounded concurrency, and a batch in hand is never stranded.

Rows of one recipient (`in_order_of`) are sent one after the other, in the order of their ids:
the acknowledgement (受理回执) is never overtaken by a later message to the same customer. When
one of them does not go out now (a retry, a cap's deferral, an error), the recipient's later rows
are handed back unsent; the claim (`shared.db.outbox.claim_messages`) takes them again only after
the earlier one has gone.

Each item settles itself as soon as its attempt ends (a crash loses at most the items in
flight, which their lease brings back). When the job is cancelled (SIGTERM after arq's grace
period), the items not yet settled are released so another worker takes them at once instead of
waiting for the lease to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from services.sla_worker.logs import stack_of, worker_logger
from shared.db import outbox as repo
from shared.db.engine import Database

log = worker_logger("kesu.worker.deliveries")
_RELEASE_TIMEOUT = 5.0
# Outcomes after which a recipient's next row may go: the earlier one is settled for good.
_SETTLED_FOR_GOOD = frozenset({"delivered", "skipped", "dead"})
HELD = "held"  # the label of a row handed back because an earlier one to its recipient waits


async def run_batch(
    db: Database,
    table: repo.Table,
    rows: Sequence[dict[str, Any]],
    token: uuid.UUID,
    *,
    concurrency: int,
    handle: Callable[[dict[str, Any]], Awaitable[str]],
    in_order_of: Callable[[dict[str, Any]], Hashable] | None = None,
) -> list[str]:
    """Run `handle` on every row (at most `concurrency` recipients at once); returns each row's
    result label, in the order of `rows`. Rows with the same `in_order_of` key go one after the
    other in id order, and stop at the first that is not settled for good (the rest are
    released, labelled `held`). `handle` settles its row; an exception leaves the row to its
    lease, and rows not yet started when the batch is cancelled are released."""
    done: set[int] = set()
    gate = asyncio.Semaphore(max(1, concurrency))
    groups: dict[Hashable, list[dict[str, Any]]] = {}
    for row in rows:
        key = in_order_of(row) if in_order_of is not None else ("row", row["id"])
        groups.setdefault(key, []).append(row)
    labels: dict[int, str] = {}

    async def in_order(group: list[dict[str, Any]]) -> None:
        async with gate:
            for row in sorted(group, key=lambda r: int(r["id"])):
                labels[row["id"]] = label = await one(row)
                if label not in _SETTLED_FOR_GOOD:
                    break

    async def one(row: dict[str, Any]) -> str:
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
        await asyncio.gather(*(in_order(group) for group in groups.values()))
        return [labels.get(row["id"], HELD) for row in rows]
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
