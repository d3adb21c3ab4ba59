"""Request rate limits, counted in Redis and shared by every API process.

Two kinds, because they fail differently:

- **Security limits** (`hit`, `check`, `back_off`): sign-in attempts and failures, requests
  without valid credentials, public lookups, searches by contact data. Moving windows: the hits
  of the last N seconds, counted exactly (a sorted set per key, one Lua call per request that
  also gives Retry-After), so no burst across a window boundary passes twice the limit. When
  Redis is unreachable they are counted in this process instead (each process then allows the
  limit on its own): they are never switched off.
- **The request quota** of a signed-in user or integration key (`quota`): sliding-window
  counters (this window's count plus the previous one's, weighted by how much of it still
  overlaps the last N seconds). Generous quotas (a telephony integration's thousands a minute)
  are counted locally and added to Redis in batches — at most every quarter of a second or
  every 20 requests — so the hot path rarely waits on Redis; a process may overshoot by what it
  has not flushed yet. If Redis is unreachable the quota lets requests through: registering a
  complaint from a live call matters more than counting it.

An outage is logged once when it starts and once when it ends (`shared.outage`); meanwhile
Redis is tried again at most every `RETRY_REDIS_AFTER` seconds. /readyz reports Redis as down.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import parse
from redis.exceptions import RedisError

from shared.domain.errors import RateLimited
from shared.outage import Outage

log = logging.getLogger("kesu.ratelimit")

EXACT_UP_TO = 100  # quotas this small are counted in Redis on every request
FLUSH_EVERY = 20  # requests
FLUSH_AFTER = 0.25  # seconds
RETRY_REDIS_AFTER = 1.0  # seconds without trying Redis after it failed
LOCAL_KEYS = 10_000  # keys counted in this process while Redis is down, before a clean-up

# KEYS[1]: the window; ARGV: now (ms), window length (ms), amount, a unique member, record
# (1: count this hit if allowed; 0: only check). Returns {allowed, count, oldest hit (ms)}.
MOVING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[3]) then
  if ARGV[5] == '1' then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return {1, count, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, count, tonumber(oldest[2])}
"""

# KEYS[1]: the failure count, KEYS[2]: the block; ARGV: free failures, base delay (ms), the
# longest delay (ms), how long failures are remembered (ms). Returns the block's length (ms).
BACK_OFF = """
local failures = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local over = failures - tonumber(ARGV[1])
if over <= 0 then return 0 end
local delay = math.min(tonumber(ARGV[2]) * 2 ^ (over - 1), tonumber(ARGV[3]))
redis.call('SET', KEYS[2], '1', 'PX', math.floor(delay))
return math.floor(delay)
"""


@dataclass
class _Window:
    ends_at: float
    pending: int = 0  # hits counted here, not yet added in Redis
    known: int = 0  # the shared count Redis returned at the last flush
    previous: int = 0  # the previous window's shared count
    flushed_at: float = 0.0


@dataclass
class _LocalBackOff:
    failures: int = 0
    forget_at: float = 0.0
    blocked_until: float = 0.0


@dataclass(frozen=True)
class BackOff:
    """Exponential back-off after failures: `free` failures pass, then each further one blocks
    the next attempt for `base` seconds, doubled each time up to `longest`; failures are
    forgotten `memory` seconds after the last one, or at the first success."""

    free: int = 3
    base: float = 2.0
    longest: float = 900.0
    memory: float = 3600.0


class RateLimiter:
    def __init__(
        self,
        pool: aioredis.ConnectionPool,
        *,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: seconds since the epoch (quota windows are aligned on it, the same in every
        process); a test moves its own instead of waiting for a window to end."""
        self._redis = aioredis.Redis(connection_pool=pool)
        self._moving_window = self._redis.register_script(MOVING_WINDOW)
        self._back_off = self._redis.register_script(BACK_OFF)
        self._prefix = f"{prefix}:rl"
        self._clock = clock
        self._limits: dict[str, tuple[int, int]] = {}
        self._windows: dict[str, _Window] = {}
        self._local: dict[str, deque[float]] = {}
        self._local_back_offs: dict[str, _LocalBackOff] = {}
        self._retry_redis_at = 0.0
        self.outage = Outage(
            "Redis",
            log,
            consequence="security limits are counted in this process and request quotas "
            "are not enforced",
        )

    def _parse(self, limit: str) -> tuple[int, int]:
        parsed = self._limits.get(limit)
        if parsed is None:
            item = parse(limit)
            parsed = self._limits[limit] = (item.amount, item.get_expiry())
        return parsed

    def _key(self, kind: str, limit: str, ids: tuple[str, ...]) -> str:
        return f"{self._prefix}:{kind}:{limit}:{':'.join(ids)}"

    # --- Redis availability ---------------------------------------------------------------

    def _redis_usable(self) -> bool:
        return time.monotonic() >= self._retry_redis_at

    def _redis_failed(self, exc: RedisError) -> None:
        self._retry_redis_at = time.monotonic() + RETRY_REDIS_AFTER
        self.outage.failed(exc)

    def _redis_answered(self) -> None:
        if self.outage.down:
            self.outage.recovered()
            self._local.clear()
            self._local_back_offs.clear()

    # --- security limits: moving windows --------------------------------------------------

    async def hit(self, limit: str, *identifiers: str, what: str = "requests") -> None:
        """Count one attempt; raise RateLimited (429 with Retry-After) past the limit (a refused
        attempt is not counted)."""
        await self._moving(limit, identifiers, what, record=True)

    async def check(self, limit: str, *identifiers: str, what: str = "requests") -> None:
        """Raise RateLimited if what `hit(limit, *identifiers)` counts is already at the limit,
        counting nothing: for limits on failures, checked before an attempt and hit only when
        it fails."""
        await self._moving(limit, identifiers, what, record=False)

    async def _moving(self, limit: str, ids: tuple[str, ...], what: str, *, record: bool) -> None:
        amount, length = self._parse(limit)
        key = self._key("mw", limit, ids)
        now = self._clock()
        allowed, oldest = None, 0.0
        if self._redis_usable():
            try:
                answer = await self._moving_window(
                    keys=[key],
                    args=[
                        int(now * 1000),
                        length * 1000,
                        amount,
                        f"{int(now * 1000)}:{secrets.token_hex(6)}",
                        int(record),
                    ],
                )
                allowed, oldest = bool(answer[0]), int(answer[2]) / 1000
                self._redis_answered()
            except RedisError as exc:
                self._redis_failed(exc)
        if allowed is None:
            allowed, oldest = self._local_moving(key, amount, length, now, record=record)
        if not allowed:
            retry_after = max(1, math.ceil(oldest + length - now))
            raise RateLimited(f"Too many {what}: the limit is {limit}.", retry_after)

    def _local_moving(
        self, key: str, amount: int, length: int, now: float, *, record: bool
    ) -> tuple[bool, float]:
        if len(self._local) > LOCAL_KEYS:
            self._local = {k: hits for k, hits in self._local.items() if hits and hits[-1] > now}
        hits = self._local.setdefault(key, deque())
        while hits and hits[0] <= now - length:
            hits.popleft()
        if len(hits) < amount:
            if record:
                hits.append(now)
            return True, 0.0
        return False, hits[0]

    # --- security limits: back-off after failures -----------------------------------------

    async def blocked(self, name: str, *identifiers: str, what: str = "attempts") -> None:
        """Raise RateLimited while the back-off of `identifiers` (after failures) runs."""
        key = self._key("bo", name, identifiers)
        now = self._clock()
        if self._redis_usable():
            try:
                left_ms = int(await self._redis.pttl(f"{key}:block"))
                self._redis_answered()
                if left_ms > 0:
                    raise RateLimited(f"Too many failed {what}: wait.", math.ceil(left_ms / 1000))
                return
            except RedisError as exc:
                self._redis_failed(exc)
        local = self._local_back_offs.get(key)
        if local is not None and local.blocked_until > now:
            raise RateLimited(
                f"Too many failed {what}: wait.", math.ceil(local.blocked_until - now)
            )

    async def failed(self, name: str, *identifiers: str, policy: BackOff) -> None:
        """One more failure of `identifiers`: past `policy.free`, the next attempt waits."""
        key = self._key("bo", name, identifiers)
        if self._redis_usable():
            try:
                await self._back_off(
                    keys=[f"{key}:failures", f"{key}:block"],
                    args=[
                        policy.free,
                        int(policy.base * 1000),
                        int(policy.longest * 1000),
                        int(policy.memory * 1000),
                    ],
                )
                self._redis_answered()
                return
            except RedisError as exc:
                self._redis_failed(exc)
        now = self._clock()
        local = self._local_back_offs.get(key)
        if local is None or local.forget_at <= now:
            if len(self._local_back_offs) > LOCAL_KEYS:
                self._local_back_offs = {
                    k: v for k, v in self._local_back_offs.items() if v.forget_at > now
                }
            local = self._local_back_offs[key] = _LocalBackOff()
        local.failures += 1
        local.forget_at = now + policy.memory
        over = local.failures - policy.free
        if over > 0:
            local.blocked_until = now + min(policy.base * 2 ** (over - 1), policy.longest)

    async def succeeded(self, name: str, *identifiers: str) -> None:
        """A success forgets the failures of `identifiers`."""
        key = self._key("bo", name, identifiers)
        self._local_back_offs.pop(key, None)
        if self._redis_usable():
            try:
                await self._redis.delete(f"{key}:failures", f"{key}:block")
                self._redis_answered()
            except RedisError as exc:
                self._redis_failed(exc)

    # --- the request quota: sliding-window counters, batched ------------------------------

    async def quota(self, limit: str, *identifiers: str, what: str = "requests") -> None:
        """Count one request of a principal; raise RateLimited past its quota. Lets requests
        through while Redis is unreachable."""
        if not self._redis_usable():
            return  # not even counted: the quota fails open, and does not bill the outage later
        amount, length = self._parse(limit)
        now = self._clock()
        number = int(now // length)
        base = self._key("sw", limit, identifiers)
        key = f"{base}:{number}"
        window = self._windows.get(key)
        if window is None:
            self._forget_ended(now)
            window = self._windows[key] = _Window(ends_at=(number + 1) * length)
        window.pending += 1
        exact = amount <= EXACT_UP_TO
        due = window.pending >= FLUSH_EVERY or now - window.flushed_at >= FLUSH_AFTER
        if exact or due:
            pending, window.pending = window.pending, 0
            # Stamped before the round trip: the requests that arrive while it is under way
            # count locally instead of each sending a flush of its own.
            window.flushed_at = now
            try:
                window.known, window.previous = await self._add(
                    key, f"{base}:{number - 1}", pending, length
                )
                self._redis_answered()
            except RedisError as exc:
                self._redis_failed(exc)
                return
        # The previous window counts for the part of it still inside the last `length` s.
        overlap = (window.ends_at - now) / length
        current = window.known + window.pending
        if window.previous * overlap + current > amount:
            raise RateLimited(
                f"Too many {what}: the limit is {limit}.",
                _quota_retry_after(amount, length, window, now),
            )

    async def _add(self, key: str, previous: str, count: int, length: int) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(key, 0, ex=2 * length + 1, nx=True)
            pipe.incrby(key, count)
            pipe.get(previous)
            _, total, before = await pipe.execute()
        return int(total), int(before or 0)

    def _forget_ended(self, now: float) -> None:
        """Drop windows that have ended (keeps the table to the keys in use now)."""
        if len(self._windows) > 1_000:
            self._windows = {k: w for k, w in self._windows.items() if w.ends_at > now}


def _quota_retry_after(amount: int, length: int, window: _Window, now: float) -> int:
    """When the sliding count drops to the quota again (the previous window's weight falls as
    time passes; this window's hits count until the next one ends)."""
    current = window.known + window.pending
    if current < amount and window.previous:
        # previous * (ends_at - t) / length + current <= amount
        until = window.ends_at - (amount - current) * length / window.previous
        return max(1, math.ceil(until - now))
    return max(1, math.ceil(window.ends_at - now + length * (1 - amount / max(current, 1))))
