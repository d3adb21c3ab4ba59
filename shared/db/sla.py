"""SLA policies (时限规则) in PostgreSQL: the current policies and every version they had.

`sla_policies` holds each policy as it is now; `sla_policy_versions` keeps every version,
immutable, with the span of time it was in force (`valid_from`, `valid_until`). A change never
edits a version: it closes the current one and opens the next, so

- deadlines, which keep (policy_id, policy_version), always find the rules they came from;
- "changes apply to new complaints": `load_policies(as_of=complaint.created_at)` gives the
  policies in force when a complaint was registered, for re-planning it later (e.g. after a
  level change) under the rules it started with.

Writes expect a transaction (`Database.begin()`); none commits.
"""

from __future__ import annotations

import time as monotonic_clock
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.cache import TableCache
from shared.db.tables import SlaPolicyRecord, SlaPolicyVersion, table_of
from shared.domain.errors import NotFound, PreconditionFailed
from shared.domain.sla import PolicyBook, SlaPolicy

sla_policies = table_of(SlaPolicyRecord)
sla_policy_versions = table_of(SlaPolicyVersion)

_MATCH_AND_RULES = ("name", "kind", "level", "category", "channel", "priority", "active", "stages")


def policy_from_row(row: dict[str, Any]) -> SlaPolicy:
    """The domain policy of an `sla_policies` row."""
    return SlaPolicy.model_validate(
        {"id": row["id"], "version": row["version"], **{k: row[k] for k in _MATCH_AND_RULES}}
    )


def _document(policy: SlaPolicy) -> dict[str, Any]:
    return policy.model_dump(mode="json")


def _values(policy: SlaPolicy) -> dict[str, Any]:
    document = _document(policy)
    return {k: document[k] for k in _MATCH_AND_RULES}


async def list_rows(conn: AsyncConnection, *, active: bool | None = None) -> list[dict[str, Any]]:
    stmt = select(sla_policies).order_by(sla_policies.c.id)
    if active is not None:
        stmt = stmt.where(sla_policies.c.active.is_(active))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def get_row(conn: AsyncConnection, policy_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(sla_policies).where(sla_policies.c.id == policy_id))).first()
    return dict(row._mapping) if row is not None else None


async def list_policies(conn: AsyncConnection, *, active: bool | None = None) -> list[SlaPolicy]:
    return [policy_from_row(r) for r in await list_rows(conn, active=active)]


async def get_policy(conn: AsyncConnection, policy_id: int) -> SlaPolicy | None:
    row = await get_row(conn, policy_id)
    return policy_from_row(row) if row is not None else None


async def load_policies(conn: AsyncConnection, *, as_of: datetime | None = None) -> list[SlaPolicy]:
    """The active policies in force now, or at `as_of` (the versions valid then), by id."""
    v = sla_policy_versions.c
    in_force: ColumnElement[bool]
    if as_of is None:
        in_force = v.valid_until.is_(None)
    else:
        in_force = and_(v.valid_from <= as_of, or_(v.valid_until.is_(None), v.valid_until > as_of))
    stmt = select(v.document).where(in_force).order_by(v.policy_id)
    policies = [SlaPolicy.model_validate(d) for d in (await conn.execute(stmt)).scalars()]
    return [p for p in policies if p.active]


async def get_version(conn: AsyncConnection, policy_id: int, version: int) -> SlaPolicy | None:
    """One version of a policy (e.g. the one a deadline was planned with)."""
    v = sla_policy_versions.c
    stmt = select(v.document).where(v.policy_id == policy_id, v.version == version)
    document = (await conn.execute(stmt)).scalar_one_or_none()
    return SlaPolicy.model_validate(document) if document is not None else None


async def list_versions(conn: AsyncConnection, policy_id: int) -> list[dict[str, Any]]:
    v = sla_policy_versions.c
    stmt = select(sla_policy_versions).where(v.policy_id == policy_id).order_by(v.version)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def create_policy(
    conn: AsyncConnection, policy: SlaPolicy, *, now: datetime, changed_by: str | None
) -> dict[str, Any]:
    """Store a new policy (version 1, in force from `now`); returns its row."""
    stmt = (
        insert(sla_policies)
        .values(**_values(policy), version=1, created_at=now, updated_at=now)
        .returning(sla_policies)
    )
    row = dict((await conn.execute(stmt)).mappings().one())
    stored = policy_from_row(row)
    await conn.execute(
        insert(sla_policy_versions).values(
            policy_id=stored.id,
            version=1,
            document=_document(stored),
            valid_from=now,
            changed_by=changed_by,
        )
    )
    return row


async def update_policy(
    conn: AsyncConnection,
    policy_id: int,
    policy: SlaPolicy,
    *,
    now: datetime,
    changed_by: str | None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Replace a policy's rules by `policy` as its next version, in force from `now` for new
    complaints. Raises NotFound, or PreconditionFailed if `expected_version` is not current."""
    stmt = select(sla_policies).where(sla_policies.c.id == policy_id).with_for_update()
    current = (await conn.execute(stmt)).mappings().first()
    if current is None:
        raise NotFound("no such SLA policy")
    if expected_version is not None and current["version"] != expected_version:
        raise PreconditionFailed(
            f"the policy is at version {current['version']}, not {expected_version}; "
            "reload it and try again"
        )
    version = current["version"] + 1
    changed = (
        update(sla_policies)
        .where(sla_policies.c.id == policy_id)
        .values(**_values(policy), version=version, updated_at=now)
        .returning(sla_policies)
    )
    row = dict((await conn.execute(changed)).mappings().one())
    v = sla_policy_versions.c
    await conn.execute(
        update(sla_policy_versions)
        .where(v.policy_id == policy_id, v.valid_until.is_(None))
        .values(valid_until=now)
    )
    await conn.execute(
        insert(sla_policy_versions).values(
            policy_id=policy_id,
            version=version,
            document=_document(policy_from_row(row)),
            valid_from=now,
            changed_by=changed_by,
        )
    )
    return row


class _InForce(NamedTuple):
    policies: list[SlaPolicy]
    book: PolicyBook


async def _in_force(conn: AsyncConnection) -> _InForce:
    policies = await load_policies(conn)
    return _InForce(policies, PolicyBook(policies))


class PolicyCache:
    """The current active policies, re-read only when a policy is created or changed (a
    `TableCache`: checked at most every `recheck_after` seconds; `invalidate` after a commit
    makes this process see the change at once)."""

    def __init__(
        self,
        *,
        recheck_after: float = 5.0,
        clock: Callable[[], float] = monotonic_clock.monotonic,
    ) -> None:
        self._cache = TableCache(
            sla_policies.c.version, _in_force, recheck_after=recheck_after, clock=clock
        )

    async def get(self, conn: AsyncConnection) -> list[SlaPolicy]:
        """The active policies in force now."""
        return (await self._cache.get(conn)).policies

    async def book(self, conn: AsyncConnection) -> PolicyBook:
        """The same policies as a `PolicyBook` (stage choice memoised): plan with this."""
        return (await self._cache.get(conn)).book

    def invalidate(self) -> None:
        self._cache.invalidate()


policy_cache = PolicyCache()


class PolicyHistory:
    """Every version of every policy, to plan with the rules in force at any moment (a
    complaint's registration) and to read the rule a deadline was planned with. Small: loaded
    whole, once per sweep, by the SLA worker."""

    def __init__(
        self, versions: dict[tuple[int, int], tuple[SlaPolicy, datetime, datetime | None]]
    ) -> None:
        self.versions = versions
        self._books: dict[tuple[tuple[int, int], ...], PolicyBook] = {}

    def rule(self, policy_id: int, version: int) -> SlaPolicy | None:
        found = self.versions.get((policy_id, version))
        return found[0] if found else None

    def book_as_of(self, at: datetime) -> PolicyBook:
        """The active policies in force at `at`, as a book (one per distinct set, memoised)."""
        keys = tuple(
            sorted(
                key
                for key, (_, start, end) in self.versions.items()
                if start <= at and (end is None or end > at)
            )
        )
        book = self._books.get(keys)
        if book is None:
            policies = [self.versions[k][0] for k in keys]
            book = self._books[keys] = PolicyBook([p for p in policies if p.active])
        return book


async def policy_history(conn: AsyncConnection) -> PolicyHistory:
    v = sla_policy_versions.c
    stmt = select(v.policy_id, v.version, v.document, v.valid_from, v.valid_until)
    versions = {}
    for r in await conn.execute(stmt):
        versions[(r.policy_id, r.version)] = (
            SlaPolicy.model_validate(r.document),
            r.valid_from,
            r.valid_until,
        )
    return PolicyHistory(versions)
