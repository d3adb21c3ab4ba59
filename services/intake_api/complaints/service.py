"""Complaint intake and queries: the API's use cases, between the router and the domain."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import audit
from shared.db import complaints as repo
from shared.db import deadlines as deadlines_repo
from shared.db.audit import AuditRecord
from shared.db.calendars import calendar_cache
from shared.db.changes import DuplicateKey, write_change
from shared.db.complaint_effects import Effects, change_for
from shared.db.engine import Database
from shared.db.rule_sets import rules_cache
from shared.domain.access import Principal, Visibility, can_register, can_reveal, visibility
from shared.domain.complaint import EventMeta
from shared.domain.enums import Channel, DurationUnit
from shared.domain.errors import DomainError, Forbidden, NotFound, NotVisible
from shared.domain.events import ComplaintRegistered
from shared.domain.handling import Rules
from shared.domain.intake import ComplaintIntake, check_intake
from shared.domain.reference import format_reference, is_reference, local_date
from shared.domain.rules import RepeatKey, is_repeat_of, level_text, route, suggest_level
from shared.domain.sla import time_remaining
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
    principal: Principal,
    idempotency_key: str | None,
    now: datetime,
    client_ip: str | None,
    effects: Effects,
) -> Registration:
    """受理: register a complaint and give it its reference number, exactly once per key."""
    if not can_register(principal):
        raise Forbidden("This account may not register complaints.")
    check_intake(intake, now=now, today=local_date(now))
    keys = _idempotency_keys(intake, principal.idempotency_scope, idempotency_key)
    request_hash = _request_hash(intake) if keys else ""
    async with db.connect() as conn:
        day = local_date(now)
        rules = await effects.rules(conn)
        number, earlier = await repo.intake_lookup(
            conn, day, phone=intake.customer.phone, since=now - rules.repeat.window
        )
        reference = format_reference(day, number)
        repeat_of = _repeat_of(intake, earlier, now, rules)
        suggestion = suggest_level(
            channel=intake.channel,
            text=level_text(intake),
            is_repeat=repeat_of is not None,
            rules=rules.level,
        )
        routing = route(intake.category, suggestion.level, rules=rules.routing)
        event = ComplaintRegistered(
            reference=reference,
            intake=intake,
            level=suggestion.level,
            level_reasons=suggestion.reasons,
            repeat_of=repeat_of,
            department=routing.department_code,
        )
        meta = EventMeta(complaint_id=uuid.uuid4(), seq=1, occurred_at=now, actor=principal.actor)
        state = event.apply(None, meta)
        idempotency_rows = [
            {
                "scope": s,
                "key": k,
                "request_hash": request_hash,
                "complaint_id": state.id,
                "created_at": now,
            }
            for s, k in keys
        ]
        audit = _audit(
            principal,
            "complaint.register",
            state.id,
            now,
            client_ip,
            {"reference": reference, "channel": intake.channel.value},
        )
        change = await change_for(
            conn,
            effects,
            [(event, meta)],
            [state],
            before=None,
            now=now,
            audit=audit,
            rows={"idempotency_keys": idempotency_rows},
        )
        try:
            await write_change(conn, change)
        except DuplicateKey as exc:
            if exc.constraint != "pk_idempotency_keys":
                raise
            return await _replay(conn, keys, request_hash)
    return Registration(row=state.model_dump(), created=True)


def _repeat_of(
    intake: ComplaintIntake, earlier: list[dict[str, Any]], now: datetime, rules: Rules
) -> uuid.UUID | None:
    """二次投诉: the earliest complaint of the same customer about the same order, serial number
    or product within the repeat window (shared.domain.rules.is_repeat_of)."""
    phone = intake.customer.phone
    if phone is None or intake.product is None:
        return None
    new = _repeat_key(phone, intake.product.model_dump(), now)
    window = rules.repeat.window
    for previous in earlier:
        key = _repeat_key(phone, previous["product"] or {}, previous["created_at"])
        if is_repeat_of(new, key, window=window):
            return uuid.UUID(str(previous["id"]))
    return None


def _repeat_key(phone: str, product: dict[str, Any], at: datetime) -> RepeatKey:
    return RepeatKey(
        phone=phone,
        order_number=product.get("order_number"),
        serial_number=product.get("serial_number"),
        product_model=product.get("model"),
        created_at=at,
    )


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


def _audit(
    principal: Principal,
    action: str,
    complaint_id: uuid.UUID,
    now: datetime,
    client_ip: str | None,
    details: dict[str, Any],
) -> AuditRecord:
    return AuditRecord(
        occurred_at=now,
        actor_kind=principal.kind.value,
        actor_id=principal.id,
        actor_label=principal.label,
        action=action,
        target_type="complaint",
        target_id=str(complaint_id),
        client_ip=client_ip,
        details=details,
    )


async def visible_to(conn: AsyncConnection, principal: Principal) -> Visibility:
    """The principal's record rule under the routing rules in force (which tier handles which
    level decides the levels managers and directors see)."""
    routing = (await rules_cache.get(conn)).routing
    return visibility(principal, tier_by_level=routing.tier_by_level)


async def ensure_visible(
    conn: AsyncConnection, principal: Principal, row: dict[str, Any] | None
) -> dict[str, Any]:
    """The complaint, if this principal may read it; otherwise the same 404 as an unknown one
    (existence is not revealed) — audited as a denied request."""
    if row is None:
        raise NotFound("no such complaint")
    if not (await visible_to(conn, principal)).allows(repo.facts_from_row(row)):
        raise NotVisible("no such complaint")
    return row


async def get(db: Database, principal: Principal, complaint_id: uuid.UUID) -> dict[str, Any]:
    async with db.connect() as conn:
        return await ensure_visible(conn, principal, await repo.get_row(conn, complaint_id))


async def get_by_reference(db: Database, principal: Principal, reference: str) -> dict[str, Any]:
    async with db.connect() as conn:
        row = await repo.get_row_by_reference(conn, reference) if is_reference(reference) else None
        return await ensure_visible(conn, principal, row)


async def reveal(
    db: Database,
    principal: Principal,
    complaint_id: uuid.UUID,
    *,
    now: datetime,
    client_ip: str | None,
) -> dict[str, Any]:
    """Personal data in clear, for someone who may read the complaint; always audited."""
    row = await get(db, principal, complaint_id)
    if not can_reveal(principal):
        raise Forbidden("This account may not reveal personal data.")
    fields = sorted(k for k, v in row["customer"].items() if v is not None and k != "name")
    async with db.connect() as conn:
        await audit.append(
            conn,
            [
                AuditRecord(
                    occurred_at=now,
                    actor_kind=principal.kind.value,
                    actor_id=principal.id,
                    actor_label=principal.label,
                    action="complaint.reveal",
                    target_type="complaint",
                    target_id=str(complaint_id),
                    client_ip=client_ip,
                    details={"fields": fields},
                )
            ],
        )
    return row


async def list_page(
    db: Database,
    principal: Principal,
    filters: repo.ComplaintFilters,
    *,
    limit: int,
    descending: bool,
    after: repo.Cursor | None,
) -> tuple[list[dict[str, Any]], repo.Cursor | None]:
    async with db.connect() as conn:
        return await repo.list_page(
            conn,
            filters,
            limit=limit,
            descending=descending,
            after=after,
            visible=await visible_to(conn, principal),
        )


async def events(
    db: Database, principal: Principal, complaint_id: uuid.UUID
) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        await ensure_visible(conn, principal, await repo.get_row(conn, complaint_id))
        log = await repo.list_events(conn, complaint_id)
    return [
        {
            "id": event_id,
            "seq": meta.seq,
            "type": event.type,
            "actor": meta.actor,
            "occurred_at": meta.occurred_at,
            "payload": event.payload(),
        }
        for event, meta, event_id in log
    ]


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
        upcoming = await deadlines_repo.next_deadline(conn, row["id"])
    return {
        "reference": row["reference"],
        "kind": row["kind"],
        "status": row["status"],
        "stage": STAGE_LABELS.get(row["status"], row["status"]),
        "registered_at": row["created_at"],
        "updated_at": row["updated_at"],
        "next_deadline": upcoming["due_at"] if upcoming else None,
    }


OPEN_DEADLINE_STATUSES = ("pending", "warned")


async def deadlines(
    db: Database, principal: Principal, complaint_id: uuid.UUID, *, now: datetime
) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        await ensure_visible(conn, principal, await repo.get_row(conn, complaint_id))
        rows = await deadlines_repo.list_for_complaint(conn, complaint_id)
        calendar = (await calendar_cache.get(conn)).calendar
    out = []
    for row in rows:
        remaining = None
        if row["status"] in OPEN_DEADLINE_STATUSES:
            left = time_remaining(
                row["due_at"],
                DurationUnit(row["unit"]),
                now=now,
                calendar=calendar,
                paused_at=row["paused_at"],
            )
            remaining = int(left.total_seconds())
        out.append({**row, "paused": row["paused_at"] is not None, "remaining_seconds": remaining})
    return out


async def deadline_filters(
    db: Database,
    *,
    now: datetime,
    due_within_hours: int | None,
    overdue: bool | None,
    breached: bool | None,
) -> tuple[Any, ...]:
    """The list's deadline filters as SQL conditions ("due within N working hours" is turned
    into calendar time on the business calendar)."""
    clauses: list[Any] = []
    if due_within_hours is not None:
        async with db.connect() as conn:
            calendar = (await calendar_cache.get(conn)).calendar
        until = calendar.add(now, due_within_hours, DurationUnit.BUSINESS_HOURS).at
        clauses.append(deadlines_repo.due_within_clause(now, until - now))
    if overdue is not None:
        clause = deadlines_repo.overdue_clause(now)
        clauses.append(clause if overdue else ~clause)
    if breached is not None:
        clause = deadlines_repo.breached_clause()
        clauses.append(clause if breached else ~clause)
    return tuple(clauses)
