"""Complaint intake and queries: the API's use cases, between the router and the domain."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from shared.db import complaints as repo
from shared.db.changes import ComplaintChange, DuplicateKey, write_change
from shared.db.engine import Database
from shared.domain.complaint import Actor, EventMeta
from shared.domain.enums import Channel, Level
from shared.domain.errors import DomainError, NotFound
from shared.domain.events import ComplaintRegistered
from shared.domain.intake import ComplaintIntake, check_intake
from shared.domain.reference import format_reference, is_reference, local_date
from shared.domain.values import normalize_phone


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key (or call id) was sent with a different body."""

    title = "Idempotency key reused with a different request"
    problem_type = "/problems/idempotency-key-reused"


@dataclass(frozen=True)
class Registration:
    row: dict[str, Any]
    created: bool  # False: an idempotent replay of an earlier registration


def _request_hash(intake: ComplaintIntake) -> str:
    canonical = orjson.dumps(intake.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _idempotency_keys(
    intake: ComplaintIntake, scope: str, idempotency_key: str | None
) -> list[tuple[str, str]]:
    keys = []
    if idempotency_key:
        keys.append((scope, f"key:{idempotency_key}"))
    if intake.channel is Channel.PHONE and intake.channel_meta.call_id:
        keys.append((scope, f"call:{intake.channel_meta.call_id}"))
    return keys


async def register(
    db: Database,
    intake: ComplaintIntake,
    *,
    actor: Actor,
    scope: str,
    idempotency_key: str | None,
    now: datetime,
) -> Registration:
    """受理: register a complaint and give it its reference number, exactly once per key."""
    check_intake(intake, now=now, today=local_date(now))
    keys = _idempotency_keys(intake, scope, idempotency_key)
    request_hash = _request_hash(intake) if keys else ""
    async with db.connect() as conn:
        day = local_date(now)
        reference = format_reference(day, await repo.next_reference_number(conn, day))
        event = ComplaintRegistered(reference=reference, intake=intake, level=Level.ORDINARY)
        meta = EventMeta(complaint_id=uuid.uuid4(), seq=1, occurred_at=now, actor=actor)
        state = event.apply(None, meta)
        idempotency_rows = [
            {"scope": s, "key": k, "request_hash": request_hash, "complaint_id": state.id,
             "created_at": now}
            for s, k in keys
        ]  # fmt: skip
        change = ComplaintChange(
            complaint_id=state.id,
            expected_version=None,
            state=state,
            events=[(event, meta)],
            rows={"idempotency_keys": idempotency_rows},
        )
        try:
            await write_change(conn, change)
        except DuplicateKey as exc:
            if exc.constraint != "pk_idempotency_keys":
                raise
            return await _replay(conn, keys, request_hash)
    return Registration(row=state.model_dump(mode="json"), created=True)


async def _replay(conn: Any, keys: list[tuple[str, str]], request_hash: str) -> Registration:
    found = await repo.find_idempotent(conn, keys)
    if found is None:  # the first request's key expired between the two statements
        raise IdempotencyKeyReused("the idempotency key was just released; retry the request")
    stored_hash, complaint_id = found
    if stored_hash != request_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key (or call id) was already used for a different complaint"
        )
    row = await repo.get_row(conn, complaint_id)
    assert row is not None
    return Registration(row=row, created=False)


async def get(db: Database, complaint_id: uuid.UUID) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_row(conn, complaint_id)
    if row is None:
        raise NotFound("no such complaint")
    return row


async def get_by_reference(db: Database, reference: str) -> dict[str, Any]:
    row = None
    if is_reference(reference):
        async with db.connect() as conn:
            row = await repo.get_row_by_reference(conn, reference)
    if row is None:
        raise NotFound("no complaint has this reference number")
    return row


async def list_page(
    db: Database,
    filters: repo.ComplaintFilters,
    *,
    limit: int,
    descending: bool,
    after: repo.Cursor | None,
) -> tuple[list[dict[str, Any]], repo.Cursor | None]:
    async with db.connect() as conn:
        return await repo.list_page(conn, filters, limit=limit, descending=descending, after=after)


async def events(db: Database, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        log = await repo.list_events(conn, complaint_id)
    if not log:
        raise NotFound("no such complaint")
    return [
        {"id": event_id, "seq": meta.seq, "type": event.type, "actor": meta.actor,
         "occurred_at": meta.occurred_at, "payload": event.payload()}
        for event, meta, event_id in log
    ]  # fmt: skip


STAGE_LABELS = {
    "registered": "已受理",
    "assigned": "已分派",
    "investigating": "调查处理中",
    "awaiting_customer": "等待您的回复",
    "solution_proposed": "处理方案已提出",
    "resolved": "已解决",
    "closed": "已结案",
    "invalid": "已核实，不予受理",
    "withdrawn": "已撤诉",
    "reopened": "重新处理中",
}


async def status_lookup(db: Database, reference: str, phone: str) -> dict[str, Any]:
    """The public status of a complaint for whoever knows its reference AND the phone number."""
    not_found = NotFound("no complaint matches this reference number and phone number")
    try:
        e164 = normalize_phone(phone)
    except ValueError:
        raise not_found from None
    if not is_reference(reference):
        raise not_found
    async with db.connect() as conn:
        row = await repo.get_row_by_reference(conn, reference)
    if row is None or row["customer_phone"] != e164:
        raise not_found
    return {
        "reference": row["reference"],
        "kind": row["kind"],
        "status": row["status"],
        "stage": STAGE_LABELS.get(row["status"], row["status"]),
        "registered_at": row["created_at"],
        "updated_at": row["updated_at"],
        "next_deadline": None,
    }
