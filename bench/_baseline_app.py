"""The baseline for bench/intake.py: the least an HTTP endpoint can do to register a complaint.

A raw ASGI app (no framework, no validation) on one asyncpg pool of the API's size
(`Settings.db_pool_size`). Run it like the API:

    python -m uvicorn bench._baseline_app:app --port 8001 --no-access-log

- `POST /complaints`: parses the JSON body and, in ONE transaction with bare asyncpg, inserts a
  `complaints` row (reference `BL-<uuid>`, version 1) and its `complaint_events` row (seq 1),
  then answers 201 with `{"id", "reference"}`. Columns a registration does not set but the
  schema requires (NOT NULL, no default: the schema grows) get their type's zero value.
- `GET /complaints/{id}`: the row as JSON (200) or 404.
- `GET /healthz`: `{"status": "ok"}` without touching the database (the client's ceiling).
- `POST /fastapi/complaints`: the same insert behind a FastAPI route (`Request.body()`, no
  model), to tell the framework's share from ours.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.engine import make_url
from starlette.types import Message, Receive, Scope, Send

from shared.config import Settings

# What the baseline writes: the columns a registration sets, as SQL expressions ($n: parameters).
COMPLAINT_VALUES = {
    "id": "$1",
    "reference": "$2",
    "version": "1",
    "status": "'registered'",
    "kind": "$3",
    "category": "$4",
    "subcategory": "$5",
    "level": "1",
    "channel": "$6",
    "customer": "$7::jsonb",
    "product": "$8::jsonb",
    "content": "$9",
    "desired_resolution": "$10::jsonb",
    "attachments": "$11::jsonb",
    "subject": "$12::jsonb",
    "channel_meta": "$13::jsonb",
    "notify_customer": "true",
    "created_by_kind": "'integration'",
    "created_at": "$14",
    "updated_at": "$14",
}
EVENT_VALUES = {
    "complaint_id": "$1",
    "seq": "1",
    "type": "'complaint.registered'",
    "actor_kind": "'integration'",
    "occurred_at": "$2",
    "payload": "$3::jsonb",
}
# Any other NOT NULL column without a default (the schema grows) gets its type's zero value.
ZERO_VALUES = {
    "text": "''",
    "character varying": "''",
    "integer": "0",
    "smallint": "0",
    "bigint": "0",
    "numeric": "0",
    "boolean": "false",
    "jsonb": "'[]'::jsonb",
    "json": "'[]'::json",
    "uuid": "gen_random_uuid()",
    "date": "current_date",
    "timestamp with time zone": "now()",
    "timestamp without time zone": "now()",
}
REQUIRED_COLUMNS = """
SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1 AND is_nullable = 'NO'
  AND column_default IS NULL AND is_generated = 'NEVER' AND is_identity = 'NO'
ORDER BY ordinal_position
"""
SELECT_COMPLAINT = "SELECT * FROM complaints WHERE id = $1"

_pool: asyncpg.Pool | None = None
_insert_complaint = ""
_insert_event = ""


def _connect_kwargs(url: str) -> dict[str, Any]:
    u = make_url(url)
    return {
        "user": u.username,
        "password": u.password,
        "host": u.query.get("host") or u.host,
        "port": u.port,
        "database": u.database,
    }


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb goes in as JSON text and comes out embedded as is in the response (no re-parsing).
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=str, decoder=orjson.Fragment, format="text"
    )


async def _insert_sql(conn: asyncpg.Connection, table: str, values: dict[str, str]) -> str:
    columns = dict(values)
    for row in await conn.fetch(REQUIRED_COLUMNS, table):
        name, data_type = row["column_name"], row["data_type"]
        if name not in columns:
            if data_type not in ZERO_VALUES:
                raise RuntimeError(f"baseline: no zero value for {table}.{name} ({data_type})")
            columns[name] = ZERO_VALUES[data_type]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(columns.values())})"


async def _open_pool() -> None:
    global _pool, _insert_complaint, _insert_event
    settings = Settings()
    _pool = await asyncpg.create_pool(
        **_connect_kwargs(settings.require_database_url()),
        min_size=settings.db_pool_size,
        max_size=settings.db_pool_size,
        server_settings={"timezone": "UTC", "application_name": "kesu-bench-baseline"},
        init=_init_connection,
    )
    async with _pool.acquire() as conn:
        _insert_complaint = await _insert_sql(conn, "complaints", COMPLAINT_VALUES)
        _insert_event = await _insert_sql(conn, "complaint_events", EVENT_VALUES)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


async def register(body: bytes) -> bytes:
    """Insert the complaint and its first event in one transaction; the 201 response body."""
    assert _pool is not None
    data = orjson.loads(body)
    complaint_id = uuid.uuid4()
    reference = f"BL-{complaint_id.hex}"
    now = datetime.now(UTC)
    async with _pool.acquire() as conn, conn.transaction():
        await conn.execute(
            _insert_complaint,
            complaint_id,
            reference,
            data.get("kind", "complaint"),
            data.get("category", "other"),
            data.get("subcategory"),
            data.get("channel", "web"),
            _json(data.get("customer", {})),
            _json(data.get("product")),
            data.get("content", ""),
            _json(data.get("desired_resolution")),
            _json(data.get("attachments", [])),
            _json(data.get("subject")),
            _json(data.get("channel_meta", {})),
            now,
        )
        await conn.execute(_insert_event, complaint_id, now, body.decode())
    return orjson.dumps({"id": complaint_id, "reference": reference})


async def fetch(complaint_id: str) -> bytes | None:
    assert _pool is not None
    try:
        key = uuid.UUID(complaint_id)
    except ValueError:
        return None
    async with _pool.acquire() as conn:
        row = await conn.fetchrow(SELECT_COMPLAINT, key)
    if row is None:
        return None
    return orjson.dumps(dict(row), default=str)  # default: asyncpg's own UUID type


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await _open_pool()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


fastapi_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@fastapi_app.post("/fastapi/complaints", status_code=201)
async def fastapi_register(request: Request) -> Response:
    return Response(await register(await request.body()), 201, media_type="application/json")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    if path == "/complaints" and method == "POST":
        await _respond(send, 201, await register(await _read_body(receive)))
    elif path.startswith("/complaints/") and method == "GET":
        found = await fetch(path[len("/complaints/") :])
        if found is None:
            await _respond(send, 404, b'{"detail":"not found"}')
        else:
            await _respond(send, 200, found)
    elif path == "/healthz":
        await _respond(send, 200, b'{"status":"ok"}')
    elif path.startswith("/fastapi/"):
        await fastapi_app(scope, receive, send)
    else:
        await _respond(send, 404, b'{"detail":"not found"}')
