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
- `POST /same-write/complaints`: the same write a registration does, in ONE statement of
  data-modifying CTEs (`SAME_WRITE`, fed by one JSON document): the complaints row with every
  column a registration sets, its `complaint.registered` event, the audit entry, the outbox rows
  (the webhook when a subscription is active, and the customer's acknowledgement unless
  `notify_customer` is false), the deadlines a level-1 registration plans (the acknowledgement
  met at once when it is sent), and one idempotency_keys row per `Idempotency-Key` header and
  phone `channel_meta.call_id`. The
  values are computed cheaply: the intake's JSON completed with its defaults' null fields, level
  1, the department by category, a reference `SW-YYYYMMDD-NNNNNN` from a counter, deadline times
  as plain offsets from now (the winning policies are read once per kind/category/channel),
  a request hash of the raw body, a fixed integration as the actor. No validation, no
  authentication. Answers 201 with `{"id", "reference"}` (409 if an idempotency key was used).
  What a registration writes is set by shared/db/changes.py (write_changes),
  shared/db/complaint_effects.py (change_for), shared/domain/notify.py and
  services/intake_api/complaints/service.py (register); bench/intake.py checks after each run
  that both wrote the same rows per table, of about the same size.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from asyncpg.exceptions import UniqueViolationError
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


STAGES_SUMMARY = (
    "首次联系客户：2026年12月4日 18:00前；投诉处理：2026年12月8日 18:00前；"
    "处理期间每5个工作日向您通报进展"
)


def connect_kwargs(url: str) -> dict[str, Any]:
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
        **connect_kwargs(settings.require_database_url()),
        min_size=settings.db_pool_size,
        max_size=settings.db_pool_size,
        server_settings={"timezone": "UTC", "application_name": "kesu-bench-baseline"},
        init=_init_connection,
    )
    async with _pool.acquire() as conn:
        _insert_complaint = await _insert_sql(conn, "complaints", COMPLAINT_VALUES)
        _insert_event = await _insert_sql(conn, "complaint_events", EVENT_VALUES)
        await _prepare_same_write(conn)


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


# --- POST /same-write/complaints: the write of a registration, in one statement ---------------

# The columns each table gets are those a registration writes (the projection's every column,
# each companion row's keys); the others take their defaults, as there. Rows tied to the
# complaint are written only with its projection, as shared.db.changes does.
SAME_WRITE = """
WITH doc AS (SELECT $1::jsonb AS d),
proj AS (
    INSERT INTO complaints (
        id, reference, version, status, kind, category, subcategory, cause_class, level,
        channel, customer, product, content, desired_resolution, attachments, subject,
        channel_meta, notify_customer, department, assignee_id, repeat_of, created_by_kind,
        created_by_id, created_at, updated_at, level_reasons, status_before_pause, paused_at,
        last_contact_at, contact_count, investigation, root_cause, solution, corrective_actions,
        satisfaction, satisfaction_source, management_review, survey_nonce, regulator_reply,
        resolved_at, closed_at
    )
    SELECT
        id, reference, version, status, kind, category, subcategory, cause_class, level,
        channel, customer, product, content, desired_resolution, attachments, subject,
        channel_meta, notify_customer, department, assignee_id, repeat_of, created_by_kind,
        created_by_id, created_at, updated_at, level_reasons, status_before_pause, paused_at,
        last_contact_at, contact_count, investigation, root_cause, solution, corrective_actions,
        satisfaction, satisfaction_source, management_review, survey_nonce, regulator_reply,
        resolved_at, closed_at
    FROM jsonb_populate_record(NULL::complaints, (SELECT d -> 'complaint' FROM doc))
    RETURNING id
),
w_events AS (
    INSERT INTO complaint_events (
        complaint_id, seq, type, actor_kind, actor_id, occurred_at, payload
    )
    SELECT complaint_id, seq, type, actor_kind, actor_id, occurred_at, payload
    FROM jsonb_populate_record(NULL::complaint_events, (SELECT d -> 'event' FROM doc))
    WHERE complaint_id IN (SELECT id FROM proj)
    RETURNING 1
),
w_audit AS (
    INSERT INTO audit_events (
        occurred_at, actor_kind, actor_id, actor_label, action, outcome, target_type,
        target_id, client_ip, details
    )
    SELECT
        occurred_at, actor_kind, actor_id, actor_label, action, outcome, target_type,
        target_id, client_ip, details
    FROM jsonb_populate_record(NULL::audit_events, (SELECT d -> 'audit' FROM doc))
    WHERE EXISTS (SELECT 1 FROM proj)
    RETURNING 1
),
w_outbox AS (
    INSERT INTO outbox (
        created_at, available_at, kind, topic, complaint_id, event_seq, payload,
        template_key, audience, recipient_user_id
    )
    SELECT
        created_at, available_at, kind, topic, complaint_id, event_seq, payload,
        template_key, audience, recipient_user_id
    FROM jsonb_populate_recordset(NULL::outbox, (SELECT d -> 'outbox' FROM doc))
    WHERE complaint_id IN (SELECT id FROM proj)
    RETURNING 1
),
w_deadlines AS (
    INSERT INTO deadlines (
        complaint_id, stage, cycle, policy_id, policy_version, calendar_version, unit, amount,
        warn_ratio, started_at, due_at, warn_at, provisional, paused_at, status, met_at
    )
    SELECT
        complaint_id, stage, cycle, policy_id, policy_version, calendar_version, unit, amount,
        warn_ratio, started_at, due_at, warn_at, provisional, paused_at, status, met_at
    FROM jsonb_populate_recordset(NULL::deadlines, (SELECT d -> 'deadlines' FROM doc))
    WHERE complaint_id IN (SELECT id FROM proj)
    RETURNING 1
),
w_keys AS (
    INSERT INTO idempotency_keys (scope, key, request_hash, complaint_id, created_at)
    SELECT scope, key, request_hash, complaint_id, created_at
    FROM jsonb_populate_recordset(NULL::idempotency_keys, (SELECT d -> 'idempotency_keys' FROM doc))
    WHERE complaint_id IN (SELECT id FROM proj)
    RETURNING 1
)
SELECT count(*) FROM proj
"""

# The deadlines a level-1 registration plans: for each stage, the winning active policy that
# defines it (highest priority, then most specific, then oldest: shared.domain.sla), if that
# stage starts on registration. Read once per (kind, category, channel).
DEADLINE_PLAN = """
SELECT * FROM (
    SELECT DISTINCT ON (s.stage)
        p.id, p.version, s.stage, s.unit, s.amount, coalesce(s.warn_ratio, 0.75) AS warn_ratio,
        coalesce(s.starts_on, 'registration') AS starts_on
    FROM sla_policies AS p,
        jsonb_to_recordset(p.stages)
            AS s(stage text, unit text, amount int, warn_ratio float8, starts_on text)
    WHERE p.active AND (p.kind IS NULL OR p.kind = $1) AND (p.level IS NULL OR p.level = 1)
        AND (p.category IS NULL OR p.category = $2) AND (p.channel IS NULL OR p.channel = $3)
    ORDER BY s.stage, p.priority DESC,
        num_nonnulls(p.kind, p.level, p.category, p.channel) DESC, p.id
) AS winners
WHERE starts_on = 'registration'
ORDER BY array_position(ARRAY[
    'acknowledgement', 'first_contact', 'investigation', 'result_to_customer', 'resolution',
    'progress_update', 'regulator_reply'
], stage)
"""
CALENDAR_VERSION = "SELECT version FROM calendars WHERE code = 'default'"
# Whether the webhook row is written: a registration queues its event only when an active
# subscription wants it (shared.domain.notify.WebhookInterest; "*" or the family stands for it).
ANY_SUBSCRIPTION = (
    "SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active AND deleted_at IS NULL)"
)

# The intake as a registration stores it: every optional field present (null when not given).
CUSTOMER = {
    "name": None,
    "phone": None,
    "email": None,
    "address": None,
    "id_number": None,
    "customer_type": "consumer",
}
PRODUCT = dict.fromkeys(
    (
        "model",
        "serial_number",
        "order_number",
        "part_number",
        "quantity",
        "purchase_date",
        "ship_date",
        "symptom",
    )
)
WISH = {"detail": None}
ATTACHMENT = {"media_type": None, "size_bytes": None}
SUBJECT = dict.fromkeys(("staff_user_id", "staff_name", "shop"))
CHANNEL_META = dict.fromkeys(
    ("call_id", "caller_number", "agent_id", "regulator", "regulator_case_number", "source_url")
)
# The projection's columns a registration leaves empty (written as null or zero, as there).
UNSET: dict[str, Any] = {
    "assignee_id": None,
    "repeat_of": None,
    "level_reasons": [],
    "status_before_pause": None,
    "paused_at": None,
    "last_contact_at": None,
    "contact_count": 0,
    "investigation": None,
    "root_cause": None,
    "solution": None,
    "corrective_actions": [],
    "satisfaction": None,
    "satisfaction_source": None,
    "management_review": False,
    "survey_nonce": None,
    "regulator_reply": None,
    "resolved_at": None,
    "closed_at": None,
}
DEPARTMENTS = {  # the default routing rules (shared.domain.rules.RoutingRules)
    "product_quality": "quality",
    "after_sales_service": "service",
    "logistics": "logistics",
    "price_marketing": "sales",
    "other": "service",
}
IN_PERSON = frozenset({"phone", "visit"})  # the acknowledgement is given on the spot
UNIT_LENGTH = {  # a cheap stand-in for the business calendar: same columns, other instants
    "hours": timedelta(hours=1),
    "business_hours": timedelta(hours=1),
    "working_days": timedelta(days=1),
}
# The integration the baseline registers as (an API key's id and label, as a telephony bridge).
ACTOR_ID = str(uuid.uuid4())
ACTOR_LABEL = "key:bench-same-write"
IDEMPOTENCY_SCOPE = f"integration:{ACTOR_ID}"

_numbers = itertools.count(1)
_reference_prefix = ""
_calendar_version = 0
_webhook_wanted = True  # whether an active subscription exists (ANY_SUBSCRIPTION)
_plans: dict[tuple[str, str, str], list[asyncpg.Record]] = {}


async def _prepare_same_write(conn: asyncpg.Connection) -> None:
    global _reference_prefix, _calendar_version, _webhook_wanted
    day = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    _reference_prefix = f"SW-{day}-"  # the width of a KS-YYYYMMDD-NNNNNN reference
    _calendar_version = await conn.fetchval(CALENDAR_VERSION) or 1
    _webhook_wanted = bool(await conn.fetchval(ANY_SUBSCRIPTION))


async def _deadline_plan(kind: str, category: str, channel: str) -> list[asyncpg.Record]:
    key = (kind, category, channel)
    plan = _plans.get(key)
    if plan is None:
        assert _pool is not None
        plan = _plans[key] = await _pool.fetch(DEADLINE_PLAN, kind, category, channel)
    return plan


def _or_none(value: dict[str, Any] | None, defaults: dict[str, Any]) -> dict[str, Any] | None:
    return None if value is None else {**defaults, **value}


def _intake(data: dict[str, Any]) -> dict[str, Any]:
    customer = {**CUSTOMER, **data["customer"]}
    phone = customer["phone"]
    if phone and not phone.startswith("+"):
        customer["phone"] = "+86" + phone  # E.164, as PhoneNumber normalizes mainland numbers
    return {
        "channel": data["channel"],
        "kind": data.get("kind", "complaint"),
        "category": data.get("category", "other"),
        "subcategory": data.get("subcategory"),
        "cause_class": data.get("cause_class"),
        "customer": customer,
        "product": _or_none(data.get("product"), PRODUCT),
        "content": data["content"],
        "desired_resolution": _or_none(data.get("desired_resolution"), WISH),
        "attachments": [{**ATTACHMENT, **a} for a in data.get("attachments", ())],
        "subject": _or_none(data.get("subject"), SUBJECT),
        "channel_meta": {**CHANNEL_META, **data.get("channel_meta", {})},
        "occurred_at": data.get("occurred_at"),
        "notify_customer": data.get("notify_customer", True),
    }


async def register_same_write(
    body: bytes, *, idempotency_key: str | None, client_ip: str | None
) -> bytes | None:
    """Write what a registration writes, in one statement; the 201 response body, or None if
    an idempotency key was used already."""
    assert _pool is not None
    intake = _intake(orjson.loads(body))
    complaint_id = uuid.uuid4()
    reference = f"{_reference_prefix}{next(_numbers):06d}"
    now = datetime.now(UTC)
    kind, category, channel = intake["kind"], intake["category"], intake["channel"]
    department = DEPARTMENTS.get(category, "service")
    head = {"id": complaint_id, "reference": reference, "version": 1, "status": "registered"}
    complaint = {
        **head,
        **intake,
        "level": 1,
        "department": department,
        "created_by_kind": "integration",
        "created_by_id": ACTOR_ID,
        "created_at": now,
        "updated_at": now,
        **UNSET,
    }
    del complaint["occurred_at"]  # the event keeps it; the projection has no such column
    event = {
        "complaint_id": complaint_id,
        "seq": 1,
        "type": "complaint.registered",
        "actor_kind": "integration",
        "actor_id": ACTOR_ID,
        "occurred_at": now,
        "payload": {
            "reference": reference,
            "intake": intake,
            "level": 1,
            "level_reasons": [],
            "repeat_of": None,
            "department": department,
        },
    }
    audit = {
        "occurred_at": now,
        "actor_kind": "integration",
        "actor_id": ACTOR_ID,
        "actor_label": ACTOR_LABEL,
        "action": "complaint.register",
        "outcome": "ok",
        "target_type": "complaint",
        "target_id": str(complaint_id),
        "client_ip": client_ip,
        "details": {"reference": reference, "channel": channel},
    }
    message = {
        "created_at": now,
        "available_at": now,
        "topic": "complaint.registered",
        "complaint_id": complaint_id,
        "event_seq": 1,
    }
    webhook = [
        {
            **message,
            "kind": "webhook",
            "payload": {
                "complaint_id": str(complaint_id),
                "reference": reference,
                "event": "complaint.registered",
                "seq": 1,
                "occurred_at": now.isoformat(),
                "status": "registered",
                "level": 1,
                "kind": kind,
                "category": category,
                "department": department,
                "assignee_id": None,
            },
            "template_key": None,
            "audience": None,
            "recipient_user_id": None,
        }
    ]
    outbox = webhook if _webhook_wanted else []
    if intake["notify_customer"]:
        outbox.append(
            {
                **message,
                "kind": "message",
                # The stages and their times (issue 11): a text of the registration's size.
                "payload": {"reference": reference, "stages_summary": STAGES_SUMMARY},
                "template_key": "complaint_acknowledged",
                "audience": "customer",
                "recipient_user_id": None,
            }
        )
    acknowledged = intake["notify_customer"] or channel in IN_PERSON
    deadlines = []
    for p in await _deadline_plan(kind, category, channel):
        due = now + UNIT_LENGTH[p["unit"]] * p["amount"]
        met = acknowledged and p["stage"] == "acknowledgement"
        deadlines.append(
            {
                "complaint_id": complaint_id,
                "stage": p["stage"],
                "cycle": 1,
                "policy_id": p["id"],
                "policy_version": p["version"],
                "calendar_version": _calendar_version,
                "unit": p["unit"],
                "amount": p["amount"],
                "warn_ratio": p["warn_ratio"],
                "started_at": now,
                "due_at": due,
                "warn_at": now + (due - now) * p["warn_ratio"],
                "provisional": False,
                "paused_at": None,
                "status": "met" if met else "pending",
                "met_at": now if met else None,
            }
        )
    keys = []
    if idempotency_key:
        keys.append(f"key:{idempotency_key}")
    if channel == "phone" and intake["channel_meta"]["call_id"]:
        keys.append(f"call:{intake['channel_meta']['call_id']}")
    request_hash = hashlib.sha256(body).hexdigest() if keys else ""
    document = {
        "complaint": complaint,
        "event": event,
        "audit": audit,
        "outbox": outbox,
        "deadlines": deadlines,
        "idempotency_keys": [
            {
                "scope": IDEMPOTENCY_SCOPE,
                "key": key,
                "request_hash": request_hash,
                "complaint_id": complaint_id,
                "created_at": now,
            }
            for key in keys
        ],
    }
    try:
        await _pool.fetchval(SAME_WRITE, orjson.dumps(document).decode())
    except UniqueViolationError as exc:
        if exc.constraint_name == "pk_idempotency_keys":
            return None
        raise
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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


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
    elif path == "/same-write/complaints" and method == "POST":
        body = await _read_body(receive)
        key = _header(scope, b"idempotency-key")
        client = scope.get("client")
        created = await register_same_write(
            body, idempotency_key=key, client_ip=client[0] if client else None
        )
        if created is None:
            await _respond(send, 409, b'{"detail":"idempotency key already used"}')
        else:
            await _respond(send, 201, created)
    elif path == "/healthz":
        await _respond(send, 200, b'{"status":"ok"}')
    elif path.startswith("/fastapi/"):
        await fastapi_app(scope, receive, send)
    else:
        await _respond(send, 404, b'{"detail":"not found"}')
