"""Rule sets' use cases (规则配置): read the rules in force, replace one (a new version).

A change is audited in its own transaction and applies to every action from then on: this
process sees it at once, other API and worker processes within a few seconds (the cache in
`shared.db.rule_sets` re-checks the versions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import accounts
from shared.db import audit as audit_log
from shared.db import rule_sets as repo
from shared.db.audit import AuditContext
from shared.db.engine import Database
from shared.db.rule_sets import MODELS, RuleSetName, rules_cache
from shared.domain.errors import FieldError, InvalidInput, PreconditionFailed
from shared.domain.rules import RoutingRules


def _view(name: RuleSetName, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:  # never changed: the seeds' defaults
        document = MODELS[name]().model_dump(mode="json")
        return {
            "name": name,
            "version": 0,
            "is_default": True,
            "updated_at": None,
            "updated_by": None,
            "document": document,
        }
    return {**row, "name": name, "is_default": False}


async def list_rule_sets(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await repo.stored(conn)
    return [_view(name, rows.get(name)) for name in RuleSetName]


async def get_rule_set(db: Database, name: RuleSetName) -> dict[str, Any]:
    async with db.connect() as conn:
        rows = await repo.stored(conn)
    return _view(name, rows.get(name))


async def replace_rule_set(
    db: Database,
    name: RuleSetName,
    rules: BaseModel,
    *,
    audit: AuditContext,
    expected_version: int | None,
    now: datetime,
) -> dict[str, Any]:
    document = rules.model_dump(mode="json")
    async with db.begin() as conn:
        if isinstance(rules, RoutingRules):
            await _check_departments(conn, rules)
        try:
            version = await repo.save(
                conn,
                name,
                document,
                expected_version=expected_version,
                now=now,
                by=audit.actor_label or "",
            )
        except LookupError as exc:
            raise PreconditionFailed(
                f"the rule set changed meanwhile (now version {exc.args[0]}); read it again"
            ) from None
        details = {"rule_set": name.value, "version": version, "document": document}
        record = audit.record(
            "rule_set.update", target_type="rule_set", target_id=name.value, details=details
        )
        await audit_log.append(conn, [record])
    rules_cache.invalidate()
    return await get_rule_set(db, name)


async def _check_departments(conn: AsyncConnection, rules: RoutingRules) -> None:
    known = {d["code"] for d in await accounts.list_departments(conn)}
    errors = [
        FieldError(
            ("body", "department_by_category", category.value),
            f"no department {code!r} (create it first with PUT /api/v1/departments/{code})",
        )
        for category, code in rules.department_by_category.items()
        if code not in known
    ]
    if errors:
        raise InvalidInput(errors)
