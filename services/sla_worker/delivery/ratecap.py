"""Send caps (发送频率上限): per recipient and global, shared by every worker through Redis.

A bug or a flood of events must not send one customer fifty SMS in an hour, nor burn through
the SMS budget in a minute. Moving windows (`limits`) count the sends of the last hour / minute
exactly, so a burst at a window edge cannot double the cap.

Recipients are never stored in Redis in clear: the key holds a keyed BLAKE2b digest. A plain
hash of a phone number is reversible by trying all 10^11 numbers, so the digest is keyed with
`key_secret`, which lives in the worker's configuration, not in Redis.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import redis.asyncio
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

DEFAULT_PER_RECIPIENT = "10/hour"
DEFAULT_GLOBAL = "600/minute"
_MIN_WAIT = timedelta(milliseconds=10)


class SendCaps:
    """`await caps.acquire(recipient)`: None when a send may go now, else how long to wait.

    Check and count are one step, so acquire only right before sending. Redis errors
    propagate (`redis.RedisError`): whether to hold messages or send uncapped while Redis
    restarts is the caller's decision, not this class's. The global cap is counted first, so a
    full system spends no recipient's slots; when it passes and the recipient's cap then
    refuses, the global slot stays spent: `limits` has no way to give a moving-window slot
    back, and erring towards fewer messages is the safe side. A batch of sends may take its
    global slots at once (`reserve`), then each send counts only its recipient's.
    """

    def __init__(
        self,
        storage_uri: str,
        *,
        key_secret: bytes,
        per_recipient: str = DEFAULT_PER_RECIPIENT,
        global_cap: str = DEFAULT_GLOBAL,
        key_prefix: str = "kesu:ratecap",
    ) -> None:
        if len(key_secret) < 16:
            raise ValueError("key_secret must be at least 16 bytes")
        self._key_secret = key_secret
        self._per_recipient: RateLimitItem = parse(per_recipient)
        self._global: RateLimitItem = parse(global_cap)
        # Our own pool: it understands every URL form we use (redis://, rediss://, unix://, the
        # async+ forms of `limits`) and we can close it.
        self._pool = redis.asyncio.ConnectionPool.from_url(_redis_url(storage_uri))
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=key_prefix,
            connection_pool=self._pool,  # type: ignore[arg-type]  # passed through to redis-py
        )
        self._limiter = MovingWindowRateLimiter(storage)

    def recipient_key(self, recipient: str) -> str:
        """The digest that stands for `recipient` in Redis (case and spaces do not matter)."""
        normalized = "".join(recipient.split()).casefold().encode("utf-8")
        return hashlib.blake2b(normalized, key=self._key_secret, digest_size=16).hexdigest()

    async def acquire(self, recipient: str, *, reserved: bool = False) -> timedelta | None:
        """None when a send to `recipient` may go now, else how long to wait. `reserved`: its
        global slot was taken with its batch's (`reserve`)."""
        key = self.recipient_key(recipient)
        if not reserved and not await self._limiter.hit(self._global, "global"):
            return await self._wait(self._global, "global")
        if not await self._limiter.hit(self._per_recipient, "recipient", key):
            return await self._wait(self._per_recipient, "recipient", key)
        return None

    async def reserve(self, sends: int) -> bool:
        """Take the global cap's slots of a batch of `sends` at once (one round trip instead of
        one per send); False when they do not all fit (each send then asks for its own)."""
        if sends <= 0:
            return False
        return await self._limiter.hit(self._global, "global", cost=sends)

    async def room(self) -> int:
        """The global cap's slots free now (a claim takes no more messages than that: a message
        claimed only to be deferred is a row written for nothing, again at every run while
        the cap stays full)."""
        stats = await self._limiter.get_window_stats(self._global, "global")
        return max(0, int(stats.remaining))

    async def _wait(self, item: RateLimitItem, *identifiers: str) -> timedelta:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        # `limits` stamps entries with this process's clock, so compare with the same clock.
        return max(timedelta(seconds=stats.reset_time - time.time()), _MIN_WAIT)

    async def aclose(self) -> None:
        await self._pool.aclose()


def _redis_url(uri: str) -> str:
    url = uri.removeprefix("async+")
    for scheme in ("redis+unix://", "valkey+unix://"):
        if url.startswith(scheme):
            return "unix://" + url.removeprefix(scheme)
    return url
