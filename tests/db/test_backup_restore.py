"""Backup and restore (seed 000 「定期归档和备份」): a `pg_dump` of a live Kesu database,
restored with `pg_restore` into an empty one, holds the same complaints, event log, evidence
records and audit trail, at the same migration — the procedure the README gives."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pgserver  # type: ignore[import-untyped]
import pytest

from tests.conftest import make_settings
from tests.support.evidence import Stack, open_stack, png
from tests.support.servers import Servers, _asyncpg_dsn, create_database, drop_database

TABLES = ("complaints", "complaint_events", "evidence_files", "deadlines", "outbox", "audit_events")


async def _server_major(url: str) -> int:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


def pg_tool(name: str, major: int) -> str:
    """The server's own client tool: Debian's for its cluster's version, else the binaries the
    embedded PostgreSQL ships (pgserver), else whatever is on PATH."""
    candidates = [
        Path(f"/usr/lib/postgresql/{major}/bin/{name}"),
        Path(pgserver.__file__).parent / "pginstall" / "bin" / name,
    ]
    for path in candidates:
        if path.exists() and (major >= 16) == ("pgserver" in str(path)):
            return str(path)
    found = shutil.which(name)
    assert found, f"{name} not found"
    return found


def _run(*args: str) -> None:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    subprocess.run(args, check=True, capture_output=True, env=env)


async def _fingerprint(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        out: dict[str, object] = {}
        for table in TABLES:
            out[table] = await conn.fetchval(
                f"SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' "
                f"ORDER BY t::text)), '') FROM {table} t"
            )
        out["alembic"] = await conn.fetchval("SELECT version_num FROM alembic_version")
        return out
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def stack(
    own_url: str, test_servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    settings = make_settings(
        own_url, test_servers.redis_url, files_dir=tmp_path_factory.mktemp("files")
    )
    async for s in open_stack(settings):
        yield s


async def test_a_dump_restores_into_an_empty_database(
    stack: Stack, own_url: str, test_servers: Servers, tmp_path: Path
) -> None:
    for _ in range(3):
        complaint = await stack.register(stack.agent.headers)
        uploaded = await stack.client.post(
            f"/api/v1/complaints/{complaint['id']}/attachments",
            files={"file": ("照片.png", png(), "image/png")},
            headers=stack.agent.headers,
        )
        assert uploaded.status_code == 201
    before = await _fingerprint(own_url)
    assert str(before["complaints"]).startswith("3:")

    major = await _server_major(own_url)
    dump = tmp_path / "kesu.dump"
    await asyncio.to_thread(_run, pg_tool("pg_dump", major), "-Fc", "-f", str(dump), own_url)
    restored = await asyncio.to_thread(create_database, test_servers.admin_url, migrate=False)
    try:
        await asyncio.to_thread(
            _run,
            pg_tool("pg_restore", major),
            "--no-owner",
            "--exit-on-error",
            "-d",
            restored,
            str(dump),
        )
        assert await _fingerprint(restored) == before
    finally:
        await asyncio.to_thread(drop_database, test_servers.admin_url, restored)
