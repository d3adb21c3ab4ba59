"""Request rate limits, fixed windows counted in Redis and shared by every API process.

Generous limits (a telephony integration's thousands a minute) are counted locally and added to
Redis in batches — at most every quarter of a second or every 20 requests — so the hot path
rarely waits on Redis; a process may overshoot by what it has not flushed yet. Tight limits
(sign-in attempts, public lookups, anything up to 100 per window) go to Redis on every request:
there, exactness is the point.

If Redis is unreachable the limiter lets requests through and logs it: registering a complaint
from a live call matters more than counting it. /readyz reports Redis as down meanwhile.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import parse
from redis.exceptions import RedisError

from shared.domain.errors import RateLimited

log = logging.getLogger("kesu.ratelimit")

EXACT_UP_TO = 100  # limits this small are counted in Redis on every request
FLUSH_EVERY = 20  # requests
FLUSH_AFTER = 0.25  # seconds


@dataclass
class _Window:
    ends_at: float
    pending: int = 0  # hits counted here, not yet added in Redis
    known: int = 0  # the shared count Redis returned at the last flush
    flushed_at: float = 0.0


class RateLimiter:
    def __init__(
        self,
        pool: aioredis.ConnectionPool,
        *,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: seconds since the epoch (windows are aligned on it, the same in every
        process); a test moves its own instead of waiting for a window to end."""
        self._redis = aioredis.Redis(connection_pool=pool)
        self._prefix = f"{prefix}:rl"
        self._clock = clock
        self._limits: dict[str, tuple[int, int]] = {}
        self._windows: dict[str, _Window] = {}

    def _parse(self, limit: str) -> tuple[int, int]:
        parsed = self._limits.get(limit)
        if parsed is None:
            item = parse(limit)
            parsed = self._limits[limit] = (item.amount, item.get_expiry())
        return parsed

    def _window_key(self, limit: str, ids: tuple[str, ...], now: float) -> tuple[str, float]:
        """The Redis key counting `ids` under `limit` in the window holding `now`, and
        when that window ends."""
        _, length = self._parse(limit)
        number = int(now // length)
        return f"{self._prefix}:{limit}:{':'.join(ids)}:{number}", (number + 1) * length

    async def hit(self, limit: str, *identifiers: str, what: str = "requests") -> None:
        """Count one request; raise RateLimited (429 with Retry-After) past the limit."""
        amount, length = self._parse(limit)
        now = self._clock()
        key, ends_at = self._window_key(limit, identifiers, now)
        window = self._windows.get(key)
        if window is None:
            self._forget_ended(now)
            window = self._windows[key] = _Window(ends_at=ends_at)
        window.pending += 1
        exact = amount <= EXACT_UP_TO
        due = window.pending >= FLUSH_EVERY or now - window.flushed_at >= FLUSH_AFTER
        if exact or due:
            pending, window.pending = window.pending, 0
            try:
                window.known = await self._add(key, pending, length)
                window.flushed_at = now
            except RedisError as exc:
                log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
                return
        if window.known + window.pending > amount:
            retry_after = max(1, math.ceil(window.ends_at - now))
            raise RateLimited(f"Too many {what}: the limit is {limit}.", retry_after)

    async def check(self, limit: str, *identifiers: str, what: str = "requests") -> None:
        """Raise RateLimited if what `hit(limit, *identifiers)` counts is already at the limit,
        counting nothing: for limits on failures, checked before an attempt and hit only when it
        fails. One Redis read; used on sign-in only, never on the authenticated hot path."""
        amount, _ = self._parse(limit)
        now = self._clock()
        key, ends_at = self._window_key(limit, identifiers, now)
        try:
            count = int(await self._redis.get(key) or 0)
        except RedisError as exc:
            log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
            return
        if count >= amount:
            retry_after = max(1, math.ceil(ends_at - now))
            raise RateLimited(f"Too many {what}: the limit is {limit}.", retry_after)

    async def _add(self, key: str, count: int, length: int) -> int:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(key, 0, ex=length + 1, nx=True)
            pipe.incrby(key, count)
            _, total = await pipe.execute()
        return int(total)

    def _forget_ended(self, now: float) -> None:
        """Drop windows that have ended (keeps the table to the keys in use now)."""
        if len(self._windows) > 1_000:
            self._windows = {k: w for k, w in self._windows.items() if w.ends_at > now}
