"""The PostgreSQL and Redis the tests run against: the servers named by DATABASE_URL /
REDIS_URL when set, otherwise the same embedded servers as `make run`. Each test run gets its own
fresh database (and its own Redis key prefix and queue), so runs never see each other's data."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from services.devstack.embedded import start_postgres, start_redis
from services.devstack.migrate import upgrade_head

ROOT = Path(__file__).resolve().parents[2]
logging.getLogger("pgserver").setLevel(logging.WARNING)


@dataclass
class Servers:
    admin_url: str  # a database on the server we may CREATE/DROP DATABASE from
    redis_url: str


@contextmanager
def servers() -> Iterator[Servers]:
    data_dir = Path(os.environ.get("KESU_DATA_DIR", ROOT / ".data")).resolve()
    stoppers = []
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        pg = start_postgres(data_dir / "postgres")
        stoppers.append(pg.stop)
        admin_url = pg.url("postgres")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = start_redis(data_dir / "redis")
        stoppers.append(redis.stop)
        redis_url = redis.url()
    try:
        yield Servers(admin_url=admin_url, redis_url=redis_url)
    finally:
        for stop in reversed(stoppers):
            stop()


def _asyncpg_dsn(url: str) -> dict[str, object]:
    u = make_url(url)
    return {
        "user": u.username,
        "password": u.password,
        "host": u.query.get("host") or u.host,
        "port": u.port,
        "database": u.database,
    }


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(admin_url: str, *, migrate: bool = True) -> str:
    """A new empty database on the admin URL's server, migrated to head; returns its URL."""
    name = f"kesu_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8'))
    url = with_database(admin_url, name)
    if migrate:
        upgrade_head(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
