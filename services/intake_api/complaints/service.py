"""Complaint intake and queries: the API's use cases, between the router and the domain."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake_api.complaints.schemas import (
    ActorView,
    ComplaintOut,
    ComplaintQuery,
    SearchMatch,
    Viewer,
    local_times,
    named_ids,
)
from shared.application import groups
from shared.application.bootstrap import Caches, Collaborators
from shared.application.complaint_changes import Decision, change_complaints
from shared.db import accounts
from shared.db import audit as audit_repo
from shared.db import complaints as repo
from shared.db import deadlines as deadlines_repo
from shared.db import similar as similar_repo
from shared.db.audit import AuditContext
from shared.db.changes import DuplicateKey, IdempotencyKeyRow
from shared.db.engine import Database
from shared.domain.access import (
    Principal,
    Visibility,
    can_register,
    can_reveal,
    sees_contact_data,
    visibility,
)
from shared.domain.complaint import ComplaintState
from shared.domain.enums import (
    OPEN_DEADLINE_STATUSES,
    Category,
    Channel,
    DurationUnit,
)
from shared.domain.errors import (
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    NotVisible,
)
from shared.domain.events import ComplaintRegistered, Event, GroupLinked
from shared.domain.intake import ComplaintIntake, check_intake
from shared.domain.reference import format_reference, is_reference, local_date
from shared.domain.rules import (
    GroupFinding,
    RepeatKey,
    Rules,
    level_text,
    route,
    suggest_level,
)
from shared.domain.search import TextQuery, parse_query, phone_like, text_similarity
from shared.domain.sla import time_remaining
from shared.domain.values import normalize_phone


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key (or call id) was sent with a different body."""

    title = "Idempotency key reused with a different request"
    code = "idempotency-key-reused"


Answer = TypeVar("Answer")
# Builds the caller's answer from a complaint's projection row (the router's view of it), and
# from its state when the caller holds it (a change just decided; None: the row was read).
Present = Callable[[dict[str, Any], Viewer, ComplaintState | None], Answer]


async def viewer_for(
    conn: AsyncConnection,
    caches: Caches,
    principal: Principal,
    rows: Sequence[dict[str, Any]],
    *,
    now: datetime,
    more_ids: Sequence[uuid.UUID] = (),
) -> Viewer:
    """What answers about `rows` need besides them: the rules in force (what the caller may do
    now) and the names of the accounts they name, in one query for the page."""
    ids = [i for row in rows for i in named_ids(row)] + list(more_ids)
    # The caller's own name came with its credentials (the authenticator's cache).
    known = {principal.id: principal.name} if principal.name is not None else {}
    names = await accounts.display_names(conn, [i for i in ids if str(i) not in known])
    return Viewer(
        principal=principal,
        rules=await caches.rules.get(conn),
        now=now,
        names={**known, **{str(k): v for k, v in names.items()}},
    )


async def present_rows(
    collab: Collaborators, principal: Principal, rows: Sequence[dict[str, Any]], *, now: datetime
) -> list[ComplaintOut]:
    """Complaint rows already loaded, as this caller sees them."""
    async with collab.db.connect() as conn:
        viewer = await viewer_for(conn, collab.caches, principal, rows, now=now)
    return [ComplaintOut.from_row(row, viewer=viewer) for row in rows]


@dataclass(frozen=True)
class Registration(Generic[Answer]):
    answer: Answer
    created: bool  # False: an idempotent replay of an earlier registration


def presenting(
    present: Callable[[dict[str, Any], ComplaintState], Answer], answers: list[Answer]
) -> Callable[..., None]:
    """A `before_write` for `change_complaints`: the answer to the caller is built from the
    new state before the change is written, so an answer that cannot be built writes nothing
    (the caller gets an error and no complaint stands behind it). The state goes along with
    its row: the answer need not read it back from the row."""

    def build(states: Sequence[ComplaintState]) -> None:
        answers.extend(present(repo.row_from_state(state), state) for state in states)

    return build


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
    collab: Collaborators,
    intake: ComplaintIntake,
    *,
    principal: Principal,
    idempotency_key: str | None,
    audit: AuditContext,
    present: Present[Answer],
) -> Registration[Answer]:
    """受理: register a complaint and give it its reference number, exactly once per key.
    `present` builds the answer from the complaint's row (before it is written).

    Two round trips: one statement numbers it and reads what deciding needs (the customer's
    earlier complaints, the group's candidates), one writes it. Only a registration that
    forms or grows a group with complaints not yet in it takes a transaction, which locks
    them and links them together with the registration (shared.application.groups)."""
    if not can_register(principal):
        raise Forbidden("This account may not register complaints.")
    now = audit.now
    check_intake(intake, now=now, today=local_date(now))
    keys = _idempotency_keys(intake, principal.idempotency_scope, idempotency_key)
    request_hash = _request_hash(intake) if keys else ""
    caches = collab.caches
    complaint_id = uuid.uuid4()
    answers: list[Answer] = []
    write = functools.partial(
        change_complaints, now=now, caches=caches, survey_url=collab.survey_url
    )
    async with collab.db.connect() as conn:
        day = local_date(now)
        rules = await caches.rules.get(conn)
        found = await repo.intake_lookup(
            conn,
            day,
            phone=intake.customer.phone,
            email=intake.customer.email,
            since=now - rules.repeat.window,
            group=groups.group_query(intake, complaint_id, now, rules),
        )
        viewer = await viewer_for(
            conn, caches, principal, [], now=now, more_ids=_ids(principal.actor.id)
        )

        def answer(row: dict[str, Any], state: ComplaintState | None = None) -> Answer:
            return present(row, viewer, state)

        facts = _Intake(
            intake=intake,
            reference=format_reference(day, found.number),
            repeat_of=_repeat_of(intake, found.earlier, now, rules),
            complaint_id=complaint_id,
            keys=[IdempotencyKeyRow(s, k, request_hash, complaint_id, now) for s, k in keys],
        )
        record = audit.record(
            "complaint.register",
            target_type="complaint",
            target_id=str(complaint_id),
            details={"reference": facts.reference, "channel": intake.channel.value},
        )
        group = groups.group_of(found.group, rules)
        if group is None or not group.members:
            # The common case: one statement, atomic by itself, on the same connection.
            decision = _registration(facts, group, principal, rules)
            try:
                await write(
                    conn, [decision], audit=[record], before_write=presenting(answer, answers)
                )
            except DuplicateKey as exc:
                if exc.constraint != "pk_idempotency_keys":
                    raise
                return await _replay(conn, keys, request_hash, answer)
            return Registration(answers[0], created=True)
    # It forms or grows a group with complaints not yet in it: they are locked and linked in
    # the registration's transaction (shared.application.groups).
    try:
        async with collab.db.begin() as tx:
            group, members = await groups.lock_members(tx, group, rules=rules)
            decision = _registration(facts, group, principal, rules)
            await write(tx, [decision], audit=[record], before_write=presenting(answer, answers))
            if members:
                await write(tx, members, audit=[])
    except DuplicateKey as exc:
        if exc.constraint != "pk_idempotency_keys":
            raise
        async with collab.db.connect() as conn:
            return await _replay(conn, keys, request_hash, answer)
    return Registration(answers[0], created=True)


@dataclass(frozen=True)
class _Intake:
    """What a registration found out before deciding."""

    intake: ComplaintIntake
    reference: str
    repeat_of: uuid.UUID | None
    complaint_id: uuid.UUID
    keys: list[IdempotencyKeyRow]


def _registration(
    facts: _Intake, group: GroupFinding | None, principal: Principal, rules: Rules
) -> Decision:
    """The registration's decision: its level (a group's raises it), its department, and its
    link to the group."""
    intake = facts.intake
    suggestion = suggest_level(
        channel=intake.channel,
        text=level_text(intake),
        is_repeat=facts.repeat_of is not None,
        customer_count=max(intake.customer_count, group.customers if group else 1),
        rules=rules.level,
    )
    routing = route(intake.category, suggestion.level, rules=rules.routing)
    events: list[Event] = [
        ComplaintRegistered(
            reference=facts.reference,
            intake=intake,
            level=suggestion.level,
            level_reasons=suggestion.reasons,
            repeat_of=facts.repeat_of,
            department=routing.department_code,
        )
    ]
    if group is not None:
        events.append(
            GroupLinked(
                group_id=uuid.UUID(group.group_id),
                customers=group.customers,
                formed=group.formed,
            )
        )
    return Decision(
        before=None,
        events=events,
        actor=principal.actor,
        new_id=facts.complaint_id,
        idempotency_keys=facts.keys,
    )


def _repeat_of(
    intake: ComplaintIntake, earlier: list[dict[str, Any]], now: datetime, rules: Rules
) -> uuid.UUID | None:
    """二次投诉: the earliest complaint of the same customer (phone or email) about the same
    order, serial number or product, or the same category, within the repeat window
    (shared.domain.rules.RepeatRule)."""
    customer = intake.customer
    if customer.phone is None and customer.email is None:
        return None
    product = intake.product.model_dump() if intake.product is not None else {}
    new = _repeat_key(customer.phone, customer.email, product, intake.category, now)
    for previous in earlier:
        key = _repeat_key(
            previous.get("phone"),
            previous.get("email"),
            previous["product"] or {},
            previous.get("category"),
            previous["created_at"],
        )
        if rules.repeat.is_repeat(new, key):
            return uuid.UUID(str(previous["id"]))
    return None


def _repeat_key(
    phone: str | None,
    email: str | None,
    product: dict[str, Any],
    category: str | None,
    at: datetime,
) -> RepeatKey:
    return RepeatKey(
        phone=phone,
        email=email,
        order_number=product.get("order_number"),
        serial_number=product.get("serial_number"),
        product_model=product.get("model"),
        category=Category(category) if category else None,
        created_at=at,
    )


def _ids(*values: str | None) -> list[uuid.UUID]:
    out = []
    for value in values:
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return out


async def _replay(
    conn: Any,
    keys: list[tuple[str, str]],
    request_hash: str,
    present: Callable[[dict[str, Any]], Answer],
) -> Registration[Answer]:
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
    return Registration(present(row), created=False)


async def visible_to(conn: AsyncConnection, caches: Caches, principal: Principal) -> Visibility:
    """The principal's record rule under the routing rules in force (which tier handles which
    level decides the levels managers and directors see)."""
    routing = (await caches.rules.get(conn)).routing
    return visibility(
        principal,
        tier_by_level=routing.tier_by_level,
        report_to_manager_from=routing.report_to_manager_from,
    )


async def ensure_visible(
    conn: AsyncConnection, caches: Caches, principal: Principal, row: dict[str, Any] | None
) -> dict[str, Any]:
    """The complaint, if this principal may read it; otherwise the same 404 as an unknown one
    (existence is not revealed) — audited as a denied request."""
    if row is None:
        raise NotFound("no such complaint")
    if not (await visible_to(conn, caches, principal)).allows(repo.facts_from_row(row)):
        raise NotVisible("no such complaint")
    return row


async def load_visible(
    conn: AsyncConnection, caches: Caches, principal: Principal, complaint_id: uuid.UUID
) -> dict[str, Any]:
    """The one way a complaint in a URL is loaded: the row if this principal may read it,
    else 404 (`ComplaintDep`, and the actions after their `If-Match` check)."""
    return await ensure_visible(conn, caches, principal, await repo.get_row(conn, complaint_id))


async def get_visible(
    collab: Collaborators, principal: Principal, complaint_id: uuid.UUID
) -> dict[str, Any]:
    async with collab.db.connect() as conn:
        return await load_visible(conn, collab.caches, principal, complaint_id)


async def get_by_reference(
    collab: Collaborators, principal: Principal, reference: str, *, now: datetime
) -> ComplaintOut:
    async with collab.db.connect() as conn:
        row = await repo.get_row_by_reference(conn, reference) if is_reference(reference) else None
        row = await ensure_visible(conn, collab.caches, principal, row)
        viewer = await viewer_for(conn, collab.caches, principal, [row], now=now)
    return ComplaintOut.from_row(row, viewer=viewer)


async def reveal(
    collab: Collaborators, principal: Principal, row: dict[str, Any], *, audit: AuditContext
) -> dict[str, Any]:
    """Personal data in clear, for someone who may read the complaint; always audited."""
    if not can_reveal(principal):
        raise Forbidden("This account may not reveal personal data.")
    fields = sorted(k for k, v in row["customer"].items() if v is not None and k != "name")
    record = audit.record(
        "complaint.reveal",
        target_type="complaint",
        target_id=str(row["id"]),
        details={"fields": fields},
    )
    async with collab.db.connect() as conn:
        await audit_repo.append(conn, [record])
    return row


def ranked(query: ComplaintQuery) -> bool:
    """Relevance order: a text search without another `sort` (or with `sort=relevance`)."""
    return query.q is not None and query.sort in (None, "relevance")


def descending(query: ComplaintQuery) -> bool:
    return query.sort != "created_at"


def _cursor(query: ComplaintQuery) -> repo.Cursor | None:
    if query.cursor is None:
        return None
    try:
        after = repo.Cursor.decode(query.cursor)
    except ValueError:
        raise InvalidInput([FieldError(("query", "cursor"), "invalid cursor")]) from None
    if after.descending != descending(query) or (after.tier is not None) != ranked(query):
        raise InvalidInput([FieldError(("query", "cursor"), "cursor is for another sort")])
    return after


def text_query(query: ComplaintQuery, principal: Principal) -> TextQuery | None:
    """The parsed `q` (None: no text search); the customer's name and phone are searched only
    for principals who see contact data."""
    if query.q is None:
        return None
    try:
        return parse_query(query.q, contact=sees_contact_data(principal))
    except ValueError as exc:
        raise InvalidInput([FieldError(("query", "q"), str(exc))]) from None


def _phone(query: ComplaintQuery) -> str | None:
    if query.customer_phone is None:
        return None
    try:
        return normalize_phone(query.customer_phone)
    except ValueError as exc:
        raise InvalidInput([FieldError(("query", "customer_phone"), str(exc))]) from None


async def _deadline_clauses(
    conn: AsyncConnection, caches: Caches, query: ComplaintQuery, now: datetime
) -> tuple[Any, ...]:
    """The list's deadline filters as SQL conditions ("due within N working hours" is turned
    into calendar time on the business calendar)."""
    clauses: list[Any] = []
    if query.due_within_hours is not None:
        calendar = (await caches.calendars.get(conn)).calendar
        until = calendar.add(now, query.due_within_hours, DurationUnit.BUSINESS_HOURS).at
        clauses.append(deadlines_repo.due_within_clause(now, until - now))
    if query.overdue is not None:
        clause = deadlines_repo.overdue_clause(now)
        clauses.append(clause if query.overdue else ~clause)
    if query.breached is not None:
        clause = deadlines_repo.breached_clause()
        clauses.append(clause if query.breached else ~clause)
    return tuple(clauses)


async def list_filters(
    conn: AsyncConnection,
    collab: Collaborators,
    principal: Principal,
    query: ComplaintQuery,
    *,
    now: datetime,
    guard_contact_search: Callable[[], Awaitable[None]],
) -> repo.ComplaintFilters:
    """The list's query as SQL filters — the one place the list, and the 台帐 export that
    follows it, parse their filters.

    A search by contact data (`ComplaintQuery.contact_filters`) is allowed only to those who
    see contact data (otherwise it is an oracle: masked numbers confirmed by guessing) and
    passes `guard_contact_search` (a per-caller rate limit); the caller audits it
    (`contact_searches`). The text query (`q`) searches the customer's name and phone only
    for those who see contact data."""
    if query.contact_filters() and not sees_contact_data(principal):
        raise Forbidden("Searching by contact data needs access to contact data.")
    if contact_searches(query, principal):
        await guard_contact_search()
    phone = _phone(query)
    assignee_id = query.assignee_id
    if query.queue == "mine":
        if principal.user_id is None:
            raise InvalidInput([FieldError(("query", "queue"), "only staff hold cases")])
        assignee_id = principal.user_id
    return repo.ComplaintFilters(
        status=tuple(query.status),
        kind=query.kind,
        category=query.category,
        level=query.level,
        channel=query.channel,
        department=query.department,
        assignee_id=assignee_id,
        created_from=query.created_from,
        created_to=query.created_to,
        customer_phone=phone,
        reference=query.reference,
        unassigned=query.queue == "unassigned",
        management_review=query.management_review,
        deadline_clauses=await _deadline_clauses(conn, collab.caches, query, now),
        text=text_query(query, principal),
    )


def contact_searches(query: ComplaintQuery, principal: Principal) -> list[str]:
    """The filters of the query that search by contact data: `customer_phone`, and `q` when
    it has a phone-like term and reaches contact data (a phone number typed into the search
    box is the same oracle)."""
    found = query.contact_filters()
    text = text_query(query, principal)
    if text is not None and text.contact and any(phone_like(t) for t in text.terms):
        found.append("q")
    return found


async def list_page(
    collab: Collaborators,
    principal: Principal,
    query: ComplaintQuery,
    *,
    now: datetime,
    limit: int,
    audit: AuditContext,
    guard_contact_search: Callable[[], Awaitable[None]],
) -> tuple[list[ComplaintOut], repo.Cursor | None, int | None]:
    """A page of the complaints this principal may see, filtered, after the query's cursor.
    A search by contact data (`contact_searches`) is audited like a reveal: which filters,
    and which complaints it found (never the searched value)."""
    contact = contact_searches(query, principal)
    after = _cursor(query)
    async with collab.db.connect() as conn:
        filters = await list_filters(
            conn, collab, principal, query, now=now, guard_contact_search=guard_contact_search
        )
        visible = await visible_to(conn, collab.caches, principal)
        rows, next_cursor = await repo.list_page(
            conn,
            filters,
            limit=limit,
            descending=descending(query),
            after=after,
            visible=visible,
            ranked=ranked(query),
        )
        total = await repo.count_matching(conn, filters, visible=visible) if query.count else None
        if contact:
            # Written before the page is returned: no audit entry, no answer.
            record = audit.record(
                "complaint.contact_search",
                target_type="complaint",
                details={"filters": contact, "found": [str(r["id"]) for r in rows]},
            )
            await audit_repo.append(conn, [record])
        viewer = await viewer_for(conn, collab.caches, principal, rows, now=now)
    text = text_query(query, principal)
    items = []
    for row in rows:
        out = ComplaintOut.from_row(row, viewer=viewer)
        if text is not None:
            out.match = SearchMatch.of(row, text.terms)
        items.append(out)
    return items, next_cursor, total


async def events(
    collab: Collaborators, row: dict[str, Any], *, after_seq: int, limit: int
) -> list[dict[str, Any]]:
    """The complaint's history after `after_seq`, oldest first, `limit + 1` events (`row`: a
    complaint already loaded), each actor with its name and the payload's times in +08:00."""
    async with collab.db.connect() as conn:
        log = await repo.list_events(conn, row["id"], after_seq=after_seq, limit=limit + 1)
        names = await accounts.display_names(conn, _ids(*{meta.actor.id for _, meta, _ in log}))
    shown = {str(k): v for k, v in names.items()}
    return [
        {
            "id": event_id,
            "seq": meta.seq,
            "type": event.type,
            "actor": ActorView.of(meta.actor, shown),
            "occurred_at": meta.occurred_at,
            "payload": local_times(event.model_dump(mode="python"), event.payload()),
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


async def customer_complaint(conn: AsyncConnection, reference: str, phone: str) -> dict[str, Any]:
    """The complaint a customer proves with its reference (受理号) AND phone number; the same
    404 for an unknown reference and a wrong phone (references cannot be confirmed)."""
    not_found = NotFound("no complaint matches this reference number and phone number")
    try:
        e164 = normalize_phone(phone)
    except ValueError:
        raise not_found from None
    reference = reference.strip().upper()
    if not is_reference(reference):
        raise not_found
    row = await repo.get_row_by_reference(conn, reference)
    if row is None or row["customer_phone"] != e164:
        raise not_found
    return row


async def status_lookup(db: Database, reference: str, phone: str) -> dict[str, Any]:
    """The public status of a complaint for whoever knows its reference AND the phone number."""
    async with db.connect() as conn:
        row = await customer_complaint(conn, reference, phone)
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


async def deadlines(
    collab: Collaborators, row: dict[str, Any], *, now: datetime
) -> list[dict[str, Any]]:
    """The complaint's deadlines with the working time left on each open one."""
    async with collab.db.connect() as conn:
        rows = await deadlines_repo.list_for_complaint(conn, row["id"])
        calendar = (await collab.caches.calendars.get(conn)).calendar
    out = []
    for deadline in rows:
        remaining = None
        if deadline["status"] in OPEN_DEADLINE_STATUSES:
            left = time_remaining(
                deadline["due_at"],
                DurationUnit(deadline["unit"]),
                now=now,
                calendar=calendar,
                paused_at=deadline["paused_at"],
            )
            remaining = int(left.total_seconds())
        out.append(
            {
                **deadline,
                "paused": deadline["paused_at"] is not None,
                "remaining_seconds": remaining,
            }
        )
    return out


# --- similar complaints (相似投诉) ---------------------------------------------------------------

SIMILAR_PER_KIND = 20
MIN_TEXT_SIMILARITY = 0.3


@dataclass(frozen=True)
class SimilarComplaint:
    row: dict[str, Any]
    reasons: list[str]  # same_customer, same_order, same_product, similar_text
    text_similarity: float


def _identity_reasons(row: dict[str, Any], other: dict[str, Any]) -> list[str]:
    reasons = []
    mine, theirs = row.get("customer") or {}, other.get("customer") or {}
    if (row.get("customer_phone") and row["customer_phone"] == other.get("customer_phone")) or (
        mine.get("email")
        and theirs.get("email")
        and str(mine["email"]).lower() == str(theirs["email"]).lower()
    ):
        reasons.append("same_customer")
    product, other_product = row.get("product") or {}, other.get("product") or {}
    for key, reason in (("order_number", "same_order"), ("serial_number", "same_product")):
        if product.get(key) and product.get(key) == other_product.get(key):
            reasons.append(reason)
    return reasons


async def similar(
    collab: Collaborators, principal: Principal, row: dict[str, Any], *, limit: int
) -> list[SimilarComplaint]:
    """Complaints like this one that the principal may read (the list's rule, recusal
    included), each with why it is similar: the same customer, order or product unit first
    (newest first), then similar text (closest first)."""
    async with collab.db.connect() as conn:
        visible = await visible_to(conn, collab.caches, principal)
        found: dict[Any, dict[str, Any]] = {}
        for other in [
            *await similar_repo.same_customer(conn, row, visible, limit=SIMILAR_PER_KIND),
            *await similar_repo.same_order_or_product(conn, row, visible, limit=SIMILAR_PER_KIND),
            *await similar_repo.text_candidates(conn, row, visible),
        ]:
            found.setdefault(other["id"], other)
    out = []
    for other in found.values():
        score = round(text_similarity(row["content"], other["content"]), 3)
        reasons = _identity_reasons(row, other)
        if score >= MIN_TEXT_SIMILARITY:
            reasons.append("similar_text")
        if reasons:
            out.append(SimilarComplaint(row=other, reasons=reasons, text_similarity=score))
    out.sort(
        key=lambda s: (
            s.reasons != ["similar_text"],
            s.text_similarity if s.reasons == ["similar_text"] else 0.0,
            s.row["created_at"],
        ),
        reverse=True,
    )
    return out[:limit]
