"""The configurable rule sets (规则配置) as stored, and the process cache both services read.

Each rule set is one JSON document validated by its domain model; a rule set never stored is
the seeds' default. The cache re-reads when a version changes (checked at most every few
seconds; the process that changed one sees it at once)."""

from __future__ import annotations

import logging
import time as monotonic_clock
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Update, select, update
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.cache import TableCache
from shared.db.tables import RuleSet, table_of
from shared.domain.rules import (
    ApprovalRules,
    AssessmentRules,
    ClosureRules,
    LevelRules,
    RepeatRule,
    RoutingRules,
    Rules,
)

rule_sets = table_of(RuleSet)
log = logging.getLogger("kesu.rules")


class RuleSetName(StrEnum):
    LEVEL = "level"  # 分级: keywords, channels, repeat and group levels
    REPEAT = "repeat"  # 二次投诉 window
    ROUTING = "routing"  # 责任部门 per category, tier per level
    APPROVAL = "approval"  # 审批 limits for compensation and refunds
    CLOSURE = "closure"  # 四不放过 requirements
    ASSESSMENT = "assessment"  # 考核 amounts and automatic entries (seed 002 §5.4)


MODELS: dict[RuleSetName, type[BaseModel]] = {
    RuleSetName.LEVEL: LevelRules,
    RuleSetName.REPEAT: RepeatRule,
    RuleSetName.ROUTING: RoutingRules,
    RuleSetName.APPROVAL: ApprovalRules,
    RuleSetName.CLOSURE: ClosureRules,
    RuleSetName.ASSESSMENT: AssessmentRules,
}


def rules_from(documents: dict[str, Any]) -> Rules:
    """The rules with the stored documents in place of the defaults. A stored document that no
    longer validates (a rule tightened by a release since it was saved) falls back to the
    default and is logged: complaints must still be registered."""
    changes: dict[str, Any] = {}
    for name, document in documents.items():
        try:
            changes[name] = MODELS[RuleSetName(name)].model_validate(document)
        except (ValueError, KeyError):  # pydantic's ValidationError is a ValueError
            log.error("stored rule set %r no longer validates; using the default", name)
    return replace(Rules(), **changes)


async def stored(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    rows = await conn.execute(select(rule_sets))
    return {r.name: dict(r._mapping) for r in rows}


async def save(
    conn: AsyncConnection,
    name: RuleSetName,
    document: dict[str, Any],
    *,
    expected_version: int | None,
    now: datetime,
    by: str,
) -> int:
    """Store a new version; returns it. `expected_version` guards against lost updates (0: the
    rule set was never stored; None: no check). Raises LookupError when the stored version
    differs. One statement each way, so two admins saving at once never both win (nor fail
    with a duplicate key)."""
    values = {"document": document, "updated_at": now, "updated_by": by}
    t = rule_sets.c
    stmt: Insert | Update
    if expected_version is None:
        stmt = (
            pg_insert(rule_sets)
            .values(name=name.value, version=1, **values)
            .on_conflict_do_update(
                index_elements=[t.name], set_={**values, "version": t.version + 1}
            )
        )
    elif expected_version == 0:
        stmt = (
            pg_insert(rule_sets)
            .values(name=name.value, version=1, **values)
            .on_conflict_do_nothing(index_elements=[t.name])
        )
    else:
        stmt = (
            update(rule_sets)
            .where(t.name == name.value, t.version == expected_version)
            .values(**values, version=t.version + 1)
        )
    version = (await conn.execute(stmt.returning(t.version))).scalar_one_or_none()
    if version is None:
        current = (await stored(conn)).get(name.value)
        raise LookupError(current["version"] if current else 0)
    return int(version)


async def load_rules(conn: AsyncConnection) -> Rules:
    """The rules in force as stored now (no cache)."""
    documents = {name: row["document"] for name, row in (await stored(conn)).items()}
    return rules_from(documents)


class RulesCache(TableCache[Rules]):
    """The rules in force, re-read only when a rule set changes (checked at most every
    `recheck_after` seconds; `invalidate` after a commit makes this process see it at once)."""

    def __init__(
        self,
        *,
        recheck_after: float = 5.0,
        clock: Callable[[], float] = monotonic_clock.monotonic,
    ) -> None:
        super().__init__(rule_sets.c.version, load_rules, recheck_after=recheck_after, clock=clock)


rules_cache = RulesCache()
