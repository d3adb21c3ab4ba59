"""Send caps against the real Redis (REDIS_URL, default the local one)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
import redis.asyncio

from services.sla_worker.delivery import SendCaps

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_SECRET = b"test-key-secret-0123456789"


@pytest.fixture(scope="module")
def redis_url(request: pytest.FixtureRequest) -> str:
    """REDIS_URL when set; else the suite's own Redis when its conftest is loaded; else local."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    try:
        servers = request.getfixturevalue("test_servers")
    except pytest.FixtureLookupError:
        return DEFAULT_REDIS_URL
    return str(servers.redis_url)


@pytest_asyncio.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    # A random prefix per test: runs (and parallel CI jobs) never see each other's counters.
    name = f"kesu-test:{secrets.token_hex(6)}"
    yield name
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def caps(prefix: str, redis_url: str) -> AsyncIterator[SendCaps]:
    caps = SendCaps(
        redis_url,
        key_secret=KEY_SECRET,
        per_recipient="2/hour",
        global_cap="5/minute",
        key_prefix=prefix,
    )
    yield caps
    await caps.aclose()


async def test_per_recipient_cap(caps: SendCaps) -> None:
    assert await caps.acquire("+8613800138000") is None
    assert await caps.acquire("+8613800138000") is None
    wait = await caps.acquire("+8613800138000")
    assert wait is not None
    # The first send of this hour frees its slot an hour after it was made.
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)
    assert await caps.acquire("+8613900139000") is None  # other recipients are unaffected


async def test_room_is_what_the_global_cap_has_left(caps: SendCaps) -> None:
    assert await caps.room() == 5
    assert await caps.acquire("+8613800138000") is None
    assert await caps.reserve(2)
    assert await caps.room() == 2
    assert await caps.reserve(2)
    assert await caps.room() == 0
    assert await caps.acquire("+8613900139000") is not None  # full indeed


async def test_global_cap(caps: SendCaps) -> None:
    for n in range(5):
        assert await caps.acquire(f"user{n}@example.com") is None
    wait = await caps.acquire("user5@example.com")
    assert wait is not None
    assert timedelta(0) < wait <= timedelta(minutes=1)


async def test_refused_global_send_spends_no_recipient_slot(prefix: str, redis_url: str) -> None:
    caps = SendCaps(
        redis_url,
        key_secret=KEY_SECRET,
        per_recipient="1/hour",
        global_cap="1/minute",
        key_prefix=prefix,
    )
    try:
        assert await caps.acquire("first@example.com") is None
        assert await caps.acquire("second@example.com") is not None  # global cap
        redis_client = redis.asyncio.Redis.from_url(redis_url)
        try:
            keys = [k.decode() async for k in redis_client.scan_iter(match=f"{prefix}:*")]
        finally:
            await redis_client.aclose()
        assert not any(caps.recipient_key("second@example.com") in k for k in keys)
    finally:
        await caps.aclose()


async def test_recipients_are_stored_hashed(caps: SendCaps, prefix: str, redis_url: str) -> None:
    recipients = ["+8613800138000", "Customer@Example.com"]
    for recipient in recipients:
        assert await caps.acquire(recipient) is None
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        keys = [key.decode() async for key in client.scan_iter(match=f"{prefix}:*")]
    finally:
        await client.aclose()
    assert keys, "the caps must be kept in Redis"
    joined = " ".join(keys).lower()
    for raw in ("13800138000", "customer", "example.com"):
        assert raw not in joined
    for recipient in recipients:
        assert any(caps.recipient_key(recipient) in key for key in keys)


def test_recipient_key_is_keyed_and_normalized() -> None:
    # No connection is made until a cap is acquired.
    one = SendCaps(DEFAULT_REDIS_URL, key_secret=KEY_SECRET)
    other = SendCaps(DEFAULT_REDIS_URL, key_secret=b"another-secret-9876543210")
    assert one.recipient_key("A@Example.com ") == one.recipient_key("a@example.com")
    assert one.recipient_key("a@example.com") != other.recipient_key("a@example.com")
    with pytest.raises(ValueError, match="16 bytes"):
        SendCaps(DEFAULT_REDIS_URL, key_secret=b"short")
