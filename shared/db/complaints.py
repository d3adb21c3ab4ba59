"""Reading complaints and their events, and the idempotency and reference-number helpers."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from asyncpg.exceptions import DuplicateTableError, UndefinedTableError, UniqueViolationError
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import search
from shared.db.engine import fetch
from shared.db.tables import SEARCH_COLUMNS, Complaint, ComplaintEvent, IdempotencyKey, table_of
from shared.domain.access import FOLLOW_UP_STATUS, ComplaintFacts, Visibility
from shared.domain.complaint import Actor, ComplaintState, EventMeta
from shared.domain.events import Event, parse_event
from shared.domain.search import (
    HANDLING_ONLY,
    OWN_WORDS,
    RANK_TIERS,
    TextQuery,
    checked_terms,
    contact_text,
    day_number,
    facet_tsquery,
    next_span,
    own_words_tsquery,
    rank_of,
    tsquery,
    window,
)
from shared.domain.values import STORED, representable_instant

complaints = table_of(Complaint)
events = table_of(ComplaintEvent)
idempotency = table_of(IdempotencyKey)


# What reading a complaint fetches: every column but the search index (revision 0030).
ROW_COLUMNS = [c for c in complaints.c if c.name not in SEARCH_COLUMNS]
ROW_COLUMNS_SQL = ", ".join(c.name for c in ROW_COLUMNS)

_BY_ID = f"SELECT {ROW_COLUMNS_SQL} FROM complaints WHERE id = $1"


async def get_row(conn: AsyncConnection, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    rows = await fetch(conn, _BY_ID, complaint_id)
    return dict(rows[0]) if rows else None


async def get_row_by_reference(conn: AsyncConnection, reference: str) -> dict[str, Any] | None:
    stmt = select(*ROW_COLUMNS).where(complaints.c.reference == reference)
    row = (await conn.execute(stmt)).first()
    return dict(row._mapping) if row else None


async def get_state(conn: AsyncConnection, complaint_id: uuid.UUID) -> ComplaintState | None:
    row = await get_row(conn, complaint_id)
    return state_from_row(row) if row else None


GENERATED = (
    "customer_phone",
    "subject_user_id",
    "product_model_key",
    "product_batch",
    *SEARCH_COLUMNS,
    "search_text",
    "search_tier",
)


def state_from_row(row: dict[str, Any]) -> ComplaintState:
    """The projection row as the domain's state (validated as stored data: see STORED)."""
    return ComplaintState.model_validate(
        {k: v for k, v in row.items() if k not in GENERATED}, context=STORED
    )


def row_from_state(state: ComplaintState) -> dict[str, Any]:
    """The projection row of a state, with the values a read of the row gives back: the
    writer (`shared.db.changes`) stores the state's JSON form, so an answer built from a state
    just written is built from what a later read shows (URLs as text, not the domain's URL
    objects), and the two cannot differ."""
    return state.model_dump(mode="json")


def facts_from_row(row: dict[str, Any]) -> ComplaintFacts:
    return ComplaintFacts(
        created_by_kind=row["created_by_kind"],
        created_by_id=row["created_by_id"],
        assignee_id=row["assignee_id"],
        department=row["department"],
        level=row["level"],
        subject_user_id=row["subject_user_id"],
        status=row["status"],
    )


async def list_events(
    conn: AsyncConnection, complaint_id: uuid.UUID, *, after_seq: int = 0, limit: int | None = None
) -> list[tuple[Event, EventMeta, int]]:
    """The complaint's log, oldest first, as (event, meta, global event id): the events after
    `after_seq`, at most `limit` of them (all by default)."""
    stmt = (
        select(events)
        .where(events.c.complaint_id == complaint_id, events.c.seq > after_seq)
        .order_by(events.c.seq)
        .limit(limit)
    )
    out = []
    for row in (await conn.execute(stmt)).mappings():
        meta = EventMeta(
            complaint_id=row["complaint_id"],
            seq=row["seq"],
            occurred_at=row["occurred_at"],
            actor=Actor(kind=row["actor_kind"], id=row["actor_id"]),
        )
        out.append((parse_event(row["type"], row["payload"]), meta, row["id"]))
    return out


async def last_reopened_at(conn: AsyncConnection, complaint_id: uuid.UUID) -> datetime | None:
    """When the complaint was last reopened (its current handling round began), if ever."""
    stmt = select(func.max(events.c.occurred_at)).where(
        events.c.complaint_id == complaint_id, events.c.type == "complaint.reopened"
    )
    at: datetime | None = (await conn.execute(stmt)).scalar_one()
    return at


async def event_rows(conn: AsyncConnection, complaint_id: uuid.UUID) -> list[dict[str, Any]]:
    """The complaint's whole log as stored, oldest first (printing and archiving show every
    event as it was written, whatever its type)."""
    stmt = select(events).where(events.c.complaint_id == complaint_id).order_by(events.c.seq)
    return [
        {
            "id": row["id"],
            "complaint_id": row["complaint_id"],
            "seq": row["seq"],
            "type": row["type"],
            "actor": {"kind": row["actor_kind"], "id": row["actor_id"]},
            "occurred_at": row["occurred_at"],
            "payload": row["payload"],
        }
        for row in (await conn.execute(stmt)).mappings()
    ]


async def find_idempotent(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> tuple[str, uuid.UUID] | None:
    """The (request hash, complaint id) stored under any of the given (scope, key) pairs."""
    if not keys:
        return None
    stmt = select(idempotency.c.request_hash, idempotency.c.complaint_id).where(
        tuple_(idempotency.c.scope, idempotency.c.key).in_(list(keys))
    )
    row = (await conn.execute(stmt)).first()
    return (row.request_hash, row.complaint_id) if row else None


async def purge_idempotency_keys(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return int(result.rowcount or 0)


# --- reference numbers (受理号) ---------------------------------------------------------------


def _sequence_name(day: date) -> str:
    return f"complaint_reference_{day:%Y%m%d}"


async def ensure_reference_sequence(conn: AsyncConnection, day: date) -> None:
    """Create the day's number sequence (idempotent; safe when several processes race)."""
    try:
        await conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {_sequence_name(day)}"))
    except (IntegrityError, ProgrammingError) as exc:
        # Two concurrent CREATE … IF NOT EXISTS can still collide in the catalogue.
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if not isinstance(cause, UniqueViolationError | DuplicateTableError):
            raise


# The group's candidates (集体投诉): the oldest complaints about the same product model
# (case-folded) or batch within the window, at most `GROUP_CANDIDATES_MAX`, each side read from
# its index ((model, created_at), (batch, created_at)) in date order, a row at a time, by
# `kesu_group_candidates` (migration 0052: bitmap scans off inside it, so a model the statistics
# do not know yet is not read whole and sorted). The customer is named by phone, else email,
# else the complaint itself.
_INTAKE_LOOKUP = (
    "WITH candidates AS MATERIALIZED ("
    "  SELECT id, group_id, created_at, customer FROM kesu_group_candidates("
    "    CAST($5 AS text), CAST($6 AS text), $7, $8)"
    ")"
    " SELECT nextval(CAST(CAST($1 AS text) AS regclass)) AS number, ("
    "  SELECT coalesce(json_agg(json_build_object("
    "    'id', e.id, 'created_at', e.created_at, 'product', e.product,"
    "    'category', e.category, 'phone', e.customer_phone, 'email', e.customer_email"
    "  ) ORDER BY e.created_at), '[]'::json)"
    "  FROM (SELECT id, created_at, product, category, customer_phone,"
    "        lower(customer ->> 'email') AS customer_email"
    "        FROM complaints"
    "        WHERE (customer_phone = CAST($2 AS text)"
    "        OR lower(customer ->> 'email') = lower(CAST($4 AS text)))"
    "        AND created_at >= $3"
    "        ORDER BY created_at LIMIT 50) AS e"
    " ) AS earlier,"
    " (SELECT id FROM candidates ORDER BY created_at, id LIMIT 1) AS group_first,"
    " (SELECT count(DISTINCT customer) FROM candidates"
    "  WHERE customer <> CAST($9 AS text)) AS group_others,"
    " (SELECT group_id FROM candidates WHERE group_id IS NOT NULL"
    "  ORDER BY created_at, id LIMIT 1) AS group_existing,"
    " (SELECT coalesce(array_agg(id ORDER BY created_at, id), '{}') FROM candidates"
    "  WHERE group_id IS NULL) AS group_members"
)

GROUP_CANDIDATES_MAX = 200


@dataclass(frozen=True)
class GroupQuery:
    """Which earlier complaints could form a group with a new one (集体投诉): those about
    `model` (case-folded) or `batch` since `since`; `customer` names the new one's customer."""

    model: str | None
    batch: str | None
    since: datetime
    customer: str
    limit: int = GROUP_CANDIDATES_MAX


@dataclass(frozen=True)
class GroupRows:
    """The group's candidates summed up (shared.domain.rules.GroupSummary's fields)."""

    first_id: uuid.UUID | None
    others: int
    existing_group_id: uuid.UUID | None
    members: list[uuid.UUID]


@dataclass(frozen=True)
class IntakeLookup:
    number: int  # the day's next reference number (受理号)
    earlier: list[dict[str, Any]]  # the customer's complaints within the repeat window
    group: GroupRows  # the group's candidates (none when `group` was not asked)


def _lookup_params(
    day: date,
    *,
    phone: str | None,
    since: datetime,
    email: str | None,
    group: GroupQuery | None,
) -> tuple[Any, ...]:
    """`_INTAKE_LOOKUP`'s parameters ($1 … $9)."""
    asked = group or GroupQuery(model=None, batch=None, since=since, customer="", limit=0)
    return (
        _sequence_name(day),
        phone,
        since,
        email,
        asked.model.casefold() if asked.model else None,
        asked.batch,
        asked.since,
        asked.limit,
        asked.customer,
    )


async def intake_lookup(
    conn: AsyncConnection,
    day: date,
    *,
    phone: str | None,
    since: datetime,
    email: str | None = None,
    group: GroupQuery | None = None,
) -> IntakeLookup:
    """What registering needs from the database, in one round trip: the next reference number
    of the day (受理号; a sequence never blocks and never rolls back: unique, with gaps), the
    customer's complaints (same phone or same email) since `since`, oldest first (repeat
    detection, 二次投诉), and the complaints about the same product model or batch that could
    form a group with it (`group`; 集体投诉), summed up.

    `conn` must be in autocommit mode (a failed nextval must not poison a transaction).
    """
    params = _lookup_params(day, phone=phone, since=since, email=email, group=group)
    try:
        (row,) = await fetch(conn, _INTAKE_LOOKUP, *params)
    except UndefinedTableError:
        await ensure_reference_sequence(conn, day)
        (row,) = await fetch(conn, _INTAKE_LOOKUP, *params)
    earlier = row["earlier"] if isinstance(row["earlier"], list) else orjson.loads(row["earlier"])
    for item in earlier:
        item["created_at"] = datetime.fromisoformat(item["created_at"])
    rows = GroupRows(
        first_id=row["group_first"],
        others=int(row["group_others"]),
        existing_group_id=row["group_existing"],
        members=list(row["group_members"]),
    )
    return IntakeLookup(int(row["number"]), earlier, rows)


async def lock_rows(conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """These complaints' rows, locked in id order until the transaction ends (batches of
    changes to several complaints: no deadlock between two such batches)."""
    stmt = select(complaints).where(complaints.c.id.in_(list(ids))).order_by(complaints.c.id)
    return [dict(r) for r in (await conn.execute(stmt.with_for_update())).mappings()]


async def drop_reference_sequences(conn: AsyncConnection, before: date) -> list[str]:
    """Drop the number sequences of days before `before` (their numbers are all handed out)."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema() "
            "AND c.relname ~ '^complaint_reference_[0-9]{8}$'"
        )
    )
    cutoff = _sequence_name(before)
    dropped = [name for (name,) in rows if name < cutoff]
    for name in dropped:
        await conn.execute(text(f"DROP SEQUENCE IF EXISTS {name}"))
    return dropped


# --- listing with keyset (cursor) pagination --------------------------------------------------


@dataclass(frozen=True)
class ComplaintFilters:
    status: Sequence[str] = ()
    kind: str | None = None
    category: str | None = None
    level: int | None = None
    channel: str | None = None
    department: str | None = None
    assignee_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer_phone: str | None = None
    reference: str | None = None
    unassigned: bool = False  # the queue: nobody holds the case yet
    management_review: bool | None = None  # 总经理例会: level 3 rated 4–5
    # Deadline filters (时限): conditions computed by shared.db.deadlines over complaints.id.
    deadline_clauses: tuple[ColumnElement[bool], ...] = ()
    # Full-text search (`q`, shared.db.search): every term in the complaint's text.
    text: TextQuery | None = None

    def clauses(self, *, text: bool = True) -> list[ColumnElement[bool]]:
        """The filters as SQL. `text=False` leaves out the text query (the list's text search
        states it window by window: `_scan`)."""
        c = complaints.c
        out: list[ColumnElement[bool]] = []
        if self.status:
            out.append(c.status.in_(list(self.status)))
        for name in ("kind", "category", "level", "channel", "department", "assignee_id"):
            value = getattr(self, name)
            if value is not None:
                out.append(c[name] == value)
        if self.created_from is not None:
            out.append(c.created_at >= self.created_from)
        if self.created_to is not None:
            out.append(c.created_at < self.created_to)
        if self.customer_phone is not None:
            out.append(c.customer_phone == self.customer_phone)
        if self.reference is not None:
            out.append(c.reference == self.reference)
        if self.unassigned:
            out.append(c.assignee_id.is_(None))
        if self.management_review is not None:
            out.append(c.management_review.is_(self.management_review))
        out.extend(self.deadline_clauses)
        if self.text is not None and text:
            out.append(search.match_clause(self.text))
        return out

    def facets(self) -> list[str]:
        """The filters the search index holds (migration 0051), as `tsquery`s its rows pass
        (shared.domain.search.facet_tsquery): a text search reads only those rows. The SQL of
        `clauses` still decides."""
        out = [facet_tsquery("status", self.status)] if self.status else []
        for name in ("kind", "category", "level", "channel", "department", "assignee_id"):
            value = getattr(self, name)
            if value is not None:
                out.append(facet_tsquery(name, [value]))
        if self.unassigned:
            out.append(facet_tsquery("assignee_id", [None]))
        return out


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: opaque to clients (base64 of JSON)."""

    created_at: datetime
    id: uuid.UUID
    descending: bool
    # Ranked search pages (relevance, then recency): the relevance tier of the last row.
    tier: int | None = None

    def encode(self) -> str:
        fields: dict[str, Any] = {"t": self.created_at, "i": str(self.id), "d": self.descending}
        if self.tier is not None:
            fields["r"] = self.tier
        raw = orjson.dumps(fields)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Raises ValueError for anything `encode` did not write: a client can send any JSON,
        and a value of the wrong type would otherwise fail later, in uuid or in the driver."""
        try:
            data = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            t, i, d, r = data.get("t"), data.get("i"), data.get("d"), data.get("r")
            if not (isinstance(t, str) and isinstance(i, str) and isinstance(d, bool)):
                raise ValueError("wrong field types")
            if r is not None and r not in RANK_TIERS:
                raise ValueError("wrong tier")
            created_at = datetime.fromisoformat(t)
            if created_at.tzinfo is None:
                raise ValueError("naive time")
            return cls(
                created_at=representable_instant(created_at),
                id=uuid.UUID(i),
                descending=d,
                tier=r,
            )
        except ValueError as exc:  # binascii.Error and orjson.JSONDecodeError included
            raise ValueError("invalid cursor") from exc


def visibility_clause(vis: Visibility) -> ColumnElement[bool]:
    """The SQL form of `Visibility.allows` (shared.domain.access): the same rule, for lists."""
    c = complaints.c
    grants: list[ColumnElement[bool]] = []
    if vis.everything:
        grants.append(true())
    if vis.created_by is not None:
        grants.append(
            and_(c.created_by_kind == vis.created_by[0], c.created_by_id == vis.created_by[1])
        )
    if vis.assignee_id is not None:
        grants.append(c.assignee_id == vis.assignee_id)
    if vis.queue_max_level is not None:
        queued = or_(c.assignee_id.is_(None), c.status == FOLLOW_UP_STATUS)
        grants.append(and_(queued, c.level <= vis.queue_max_level))
    if vis.max_level is not None:
        level_ok = c.level <= vis.max_level
        grants.append(
            level_ok if vis.department is None else and_(level_ok, c.department == vis.department)
        )
    elif vis.department is not None:
        grants.append(c.department == vis.department)
    clause: ColumnElement[bool] = or_(*grants) if grants else false()
    if vis.excluded_subject is not None:
        clause = and_(
            clause,
            or_(c.subject_user_id.is_(None), c.subject_user_id != vis.excluded_subject),
        )
    return clause


def visibility_facets(vis: Visibility) -> str | None:
    """What the search index (migration 0051) can tell of `visibility_clause`: a `tsquery`
    every complaint this principal may see passes (it may pass others: the clause decides);
    None when the index cannot narrow it (everything, or who registered it)."""
    grants: list[str] = []
    if vis.everything or vis.created_by is not None:
        return None
    if vis.assignee_id is not None:
        grants.append(facet_tsquery("assignee_id", [vis.assignee_id]))
    if vis.queue_max_level is not None:
        queued = [facet_tsquery("assignee_id", [None]), facet_tsquery("status", [FOLLOW_UP_STATUS])]
        grants.extend(queued)
    if vis.department is not None:
        grants.append(facet_tsquery("department", [vis.department]))
    elif vis.max_level is not None:
        return None
    return " | ".join(grants) if grants else None


def page_query(
    filters: ComplaintFilters,
    *,
    limit: int,
    descending: bool,
    after: Cursor | None,
    visible: Visibility,
) -> Select[Any]:
    """A page in creation order (without a text query: see `_scan` for those)."""
    c = complaints.c
    clauses = [visibility_clause(visible), *filters.clauses()]
    if after is not None:
        position = tuple_(c.created_at, c.id)
        mark = tuple_(after.created_at, after.id)
        clauses.append(position < mark if descending else position > mark)
    order = (c.created_at.desc(), c.id.desc()) if descending else (c.created_at, c.id)
    return select(*ROW_COLUMNS).where(and_(*clauses)).order_by(*order).limit(limit + 1)


Position = tuple[datetime, uuid.UUID]
MAX_BATCH = 2000


def _batch(where: list[ColumnElement[bool]], *, descending: bool, resume: bool) -> Select[Any]:
    """The next candidates in creation order (the parameter `size` of them; after the
    parameters `after_at`, `after_id` when `resume`), with their searchable texts
    (`search_main`, `search_handling`) for the check and the snippet: PostgreSQL computes
    those after the sort and limit, for these rows only."""
    c = complaints.c
    clauses = list(where)
    if resume:
        position = tuple_(c.created_at, c.id)
        mark = tuple_(
            bindparam("after_at", type_=c.created_at.type), bindparam("after_id", type_=c.id.type)
        )
        clauses.append(position < mark if descending else position > mark)
    order = (c.created_at.desc(), c.id.desc()) if descending else (c.created_at, c.id)
    return (
        select(
            *ROW_COLUMNS,
            c.search_notes,
            search.main_text(c).label("search_main"),
            search.handling_text(c).label("search_handling"),
        )
        .where(and_(*clauses))
        .order_by(*order)
        .limit(bindparam("size", type_=Integer))
    )


Days = tuple[int, int]


async def _days(conn: AsyncConnection, filters: ComplaintFilters) -> Days | None:
    """The UTC days (shared.domain.search.day_number) a text search reads: from the oldest
    complaint's to the newest's (two probes of the creation index), within the filters'
    creation range; None when there is nothing to read."""
    c = complaints.c
    span = select(func.min(c.created_at), func.max(c.created_at))
    oldest, newest = (await conn.execute(span)).one()
    if oldest is None:
        return None
    first, last = day_number(oldest), day_number(newest)
    if filters.created_from is not None:
        first = max(first, day_number(filters.created_from))
    if filters.created_to is not None:
        last = min(last, day_number(filters.created_to))
    return (first, last) if first <= last else None


async def _scan(
    conn: AsyncConnection,
    where: list[ColumnElement[bool]],
    query: TextQuery,
    grams: str,
    *,
    days: Days,
    want: int,
    descending: bool,
    after: Position | None,
    tier: int | None = None,
) -> list[dict[str, Any]]:
    """Up to `want` matches of a text search in creation order — of the relevance `tier`, or
    any — read one window of days at a time from the cursor's day
    (shared.domain.search.window): 1 day, then as many days as the matches found so far say
    the page still needs (`next_span`). A window's candidates — the index's answer for the
    `tsquery` `grams` on those days only (`search.in_days`), with `where` — are read in
    batches, each row checked on its texts (`rank_of`: every term, as `LIKE` decides). So a
    common term costs the rows of its first day or so and a rare one a handful of index
    reads: neither reads every match, and the plan does not hang on the planner's guess of
    how common a term is (it multiplies the grams' frequencies as if independent)."""
    exact = tier != HANDLING_ONLY and not checked_terms(query)
    found: list[dict[str, Any]] = []
    edge = origin = day_number(after[0]) if after is not None else days[1 if descending else 0]
    span = 1
    # Two statements at most (from a window's start, after a row), built once: only their
    # parameters change from window to window.
    statements: dict[bool, Select[Any]] = {}
    clauses = [*where, search.in_days("grams")]
    while True:
        first, last = window(*days, edge=edge, span=span, descending=descending)
        if first > last:
            return found
        missing = want - len(found)
        params: dict[str, Any] = {
            "grams": search.days_query(grams, first, last),
            "size": missing if exact else missing * 2 + 8,
        }
        while True:
            resume = after is not None
            if resume not in statements:
                statements[resume] = _batch(clauses, descending=descending, resume=resume)
            if after is not None:
                params.update(after_at=after[0], after_id=after[1])
            rows = [dict(r) for r in (await conn.execute(statements[resume], params)).mappings()]
            for row in rows:
                own, handling = row.pop("search_main"), row.pop("search_handling")
                rank = rank_of(
                    query, own=own, handling=handling, contact=contact_text(row["customer"])
                )
                if rank is not None and tier in (None, rank):
                    row["search_text"] = own + "\n" + handling
                    if tier is not None:
                        row["search_tier"] = tier
                    found.append(row)
            if len(found) >= want:
                return found[:want]
            if len(rows) < params["size"]:
                break  # the window is read: the next one is older (newer)
            after = (rows[-1]["created_at"], rows[-1]["id"])
            params["size"] = min(params["size"] * 4, MAX_BATCH)
        edge = first - 1 if descending else last + 1
        span = next_span(abs(edge - origin), len(found), want - len(found))


async def _text_page(
    conn: AsyncConnection,
    filters: ComplaintFilters,
    text: TextQuery,
    *,
    limit: int,
    visible: Visibility,
    descending: bool,
    after: Cursor | None,
    ranked: bool,
) -> list[dict[str, Any]]:
    """`limit + 1` rows of a text search: in creation order, or ranked — the complaints whose
    own words hold every term (`OWN_WORDS`), newest first, then those matched only through
    their handling records (`HANDLING_ONLY`), the second tier read only when the first does
    not fill the page; a cursor resumes inside its tier."""
    days = await _days(conn, filters)
    if days is None:
        return []
    base = [visibility_clause(visible), *filters.clauses(text=False)]
    # The filters the index holds, read with the grams (GIN reads only the rows passing them).
    facets = filters.facets()
    seen = visibility_facets(visible)
    if seen is not None:
        facets.append(seen)
    position = None if after is None else (after.created_at, after.id)
    if not ranked:
        return await _scan(
            conn,
            base,
            text,
            search.with_facets(tsquery(text), facets),
            days=days,
            want=limit + 1,
            descending=descending,
            after=position,
        )
    tiers = [
        (OWN_WORDS, search.with_facets(own_words_tsquery(text), facets)),
        (HANDLING_ONLY, search.with_facets(tsquery(text), facets)),
    ]
    rows: list[dict[str, Any]] = []
    for rank, grams in tiers:
        if after is not None and after.tier is not None and after.tier < rank:
            continue  # the cursor is past this tier
        resume = position if after is not None and after.tier == rank else None
        rows += await _scan(
            conn,
            base,
            text,
            grams,
            days=days,
            want=limit + 1 - len(rows),
            descending=True,
            after=resume,
            tier=rank,
        )
        if len(rows) > limit:
            break
    return rows


# A text search's statements are prepared once and run window by window with new parameters
# (`_scan`); after five runs PostgreSQL may keep one generic plan for them, planned without the
# `tsquery` nor the filters' values — and that plan, guessing a status's share at one in nine,
# ANDs the search index with `ix_complaints_status` (826,000 closed complaints read per window,
# 135 ms, at 1,000,000). So a text search has its statements planned each time for their own
# values (`plan_cache_mode`), and puts the connection's setting back after the page. On a
# connection in a transaction an error rolls the setting back with it; on an autocommit one it
# stays until the connection closes — which costs only planning time, never a wrong answer.
_CUSTOM_PLANS = text(
    "SELECT previous, set_config('plan_cache_mode', 'force_custom_plan', false) "
    "FROM (SELECT current_setting('plan_cache_mode') AS previous OFFSET 0) AS s"
)
_PLANS_BACK = text("SELECT set_config('plan_cache_mode', :previous, false)")


async def count_matching(
    conn: AsyncConnection, filters: ComplaintFilters, *, visible: Visibility
) -> int:
    """How many complaints the list's filters match, over all pages (`count=true`)."""
    where = and_(visibility_clause(visible), *filters.clauses())
    stmt = select(func.count()).select_from(complaints).where(where)
    return int((await conn.execute(stmt)).scalar_one())


async def list_page(
    conn: AsyncConnection,
    filters: ComplaintFilters,
    *,
    limit: int,
    visible: Visibility,
    descending: bool = True,
    after: Cursor | None = None,
    ranked: bool = False,
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """A page of complaints and the cursor of the next one. `ranked` (with a text query in the
    filters): relevance, then recency (`_text_page`); otherwise creation order."""
    if filters.text is not None:
        previous = (await conn.execute(_CUSTOM_PLANS)).scalar_one()
        rows = await _text_page(
            conn,
            filters,
            filters.text,
            limit=limit,
            visible=visible,
            descending=descending,
            after=after,
            ranked=ranked,
        )
        await conn.execute(_PLANS_BACK, {"previous": previous})
    else:
        stmt = page_query(filters, limit=limit, descending=descending, after=after, visible=visible)
        rows = [dict(r) for r in (await conn.execute(stmt)).mappings()]
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    tier = last.get("search_tier") if ranked else None
    return rows, Cursor(
        created_at=last["created_at"], id=last["id"], descending=descending, tier=tier
    )


# --- the 台帐 (ledger) export -------------------------------------------------------------------


def _local_text(column: Any) -> ColumnElement[str]:
    """A stored instant as Asia/Shanghai wall time text (formatted by PostgreSQL: 100,000 rows
    cost nothing there, and a second each in Python)."""
    return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD HH24:MI")


def ledger_query(filters: ComplaintFilters, *, visible: Visibility) -> Select[Any]:
    """Every complaint of the list's filters this principal may see, oldest first, with the
    ledger's columns only, as text (the list's rule: `visibility_clause`, `ComplaintFilters`;
    shared.documents.ledger lays them out)."""
    c = complaints.c
    return (
        select(
            c.reference,
            _local_text(c.created_at).label("created_local"),
            c.channel,
            c.kind,
            c.category,
            c.level,
            c.status,
            c.customer["name"].astext.label("customer_name"),
            c.customer_phone,
            c.product["model"].astext.label("product_model"),
            c.product["order_number"].astext.label("order_number"),
            c.content,
            c.desired_resolution["types"].label("wish_types"),
            c.department,
            c.investigation["responsibility"].astext.label("responsibility"),
            c.solution["description"].astext.label("solution_text"),
            c.satisfaction,
            _local_text(c.resolved_at).label("resolved_local"),
            _local_text(c.closed_at).label("closed_local"),
        )
        .where(and_(visibility_clause(visible), *filters.clauses()))
        .order_by(c.created_at, c.id)
    )


# --- the yearly case file (案宗) ----------------------------------------------------------------


async def closed_between(
    conn: AsyncConnection, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The complaints closed (结案, archived) in [since, until), by closing time then 受理号:
    id, reference and closed_at (each case's rows are read when its turn comes)."""
    c = complaints.c
    stmt = (
        select(c.id, c.reference, c.closed_at)
        .where(c.status == "closed", c.closed_at >= since, c.closed_at < until)
        .order_by(c.closed_at, c.reference)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]
