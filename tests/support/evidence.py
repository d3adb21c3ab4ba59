"""An API on a test module's own database and file storage, with the staff and integration
keys the evidence and case-file tests act as."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.intake_api.app import create_app
from shared.config import Settings
from tests.support.factories import complaint_body
from tests.support.principals import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    Account,
    create_key,
    create_user,
    sign_in,
)


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Stack:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, settings: Settings) -> None:
        self.app = app
        self.client = client
        self.settings = settings
        self.admin: dict[str, str] = {}
        self.agent: Account
        self.auditor: Account
        self.integration: Account
        self.other_integration: Account

    async def register(self, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/complaints", json=complaint_body(**body), headers=headers
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.app.state.db.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(text(sql), params)]


async def open_stack(settings: Settings) -> AsyncIterator[Stack]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            stack = Stack(app, c, settings)
            stack.admin = await sign_in(c, ADMIN_USERNAME, ADMIN_PASSWORD)
            stack.agent = await create_user(c, stack.admin, role="agent", department="service")
            stack.auditor = await create_user(c, stack.admin, role="auditor")
            stack.integration = await create_key(
                c, stack.admin, ["complaints:create", "complaints:read", "pii:read"]
            )
            stack.other_integration = await create_key(
                c, stack.admin, ["complaints:create", "complaints:read"]
            )
            yield stack
