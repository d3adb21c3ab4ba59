"""Request rate limits in Redis (fixed windows from `limits`), shared by every API process.

If Redis is unreachable the limiter lets requests through and logs it: registering a complaint
from a live call matters more than counting it. /readyz reports Redis as down meanwhile.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from shared.domain.errors import RateLimited

log = logging.getLogger("kesu.ratelimit")


class RateLimiter:
    def __init__(self, pool: aioredis.ConnectionPool, *, prefix: str) -> None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=f"{prefix}:rl",
            connection_pool=pool,  # type: ignore[arg-type]  # passed through to redis-py
        )
        self._limiter = FixedWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(self, limit: str, *identifiers: str, what: str = "requests") -> None:
        """Count one request; raise RateLimited (429 with Retry-After) past the limit."""
        item = self._item(limit)
        try:
            if await self._limiter.hit(item, *identifiers):
                return
            stats = await self._limiter.get_window_stats(item, *identifiers)
        except RedisError as exc:
            log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(f"Too many {what}: the limit is {limit}.", retry_after)
