"""Message templates (通知模板): admin overrides of the defaults, validated field by field,
versioned, restorable; every change audited in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.db import audit as audit_log
from shared.db import notifications as repo
from shared.db.audit import AuditContext, AuditRecord
from shared.db.engine import Database
from shared.domain.access import Principal
from shared.domain.errors import FieldError, InvalidInput, NotFound
from shared.domain.templates import (
    DEFAULT_TEMPLATES,
    TEMPLATE_SPECS,
    TemplateError,
    TemplateKey,
    find_forbidden_phrases,
    placeholders_in,
    validate_template,
)


def template_key(key: str) -> TemplateKey:
    try:
        return TemplateKey(key)
    except ValueError:
        raise NotFound(f"no template {key!r}") from None


def _template_view(key: TemplateKey, override: dict[str, Any] | None) -> dict[str, Any]:
    spec = TEMPLATE_SPECS[key]
    default = DEFAULT_TEMPLATES[key]
    overridden = override is not None and override["body"] is not None
    return {
        "key": key.value,
        "audience": spec.audience.value,
        "channels": sorted(c.value for c in spec.channels),
        "allowed_placeholders": sorted(spec.allowed),
        "required_placeholders": sorted(spec.required),
        "subject": (override["subject"] or "") if overridden and override else default.subject,
        "body": override["body"] if overridden and override else default.body,
        "overridden": overridden,
        "version": override["version"] if override else None,
        "updated_at": override["created_at"] if override else None,
        "updated_by": override["created_by"] if override else None,
        "default": {"subject": default.subject, "body": default.body},
    }


async def list_templates(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        overrides = await repo.current_templates(conn)
    return [_template_view(key, overrides.get(key.value)) for key in TemplateKey]


async def get_template(db: Database, key: TemplateKey) -> dict[str, Any]:
    async with db.connect() as conn:
        overrides = await repo.current_templates(conn)
    return _template_view(key, overrides.get(key.value))


def template_errors(key: TemplateKey, subject: str, body: str) -> list[FieldError]:
    """Field by field, so the editor can point at subject or body: unsafe or unknown
    placeholders, forbidden phrases (禁忌语言), then the rest of `validate_template`."""
    spec = TEMPLATE_SPECS[key]
    errors: list[FieldError] = []
    for field, value in (("subject", subject), ("body", body)):
        loc = ("body", field)
        try:
            used = placeholders_in(value)
        except TemplateError as exc:
            errors.append(FieldError(loc, exc.detail, "template_syntax"))
            continue
        unknown = sorted(used - spec.allowed)
        if unknown:
            errors.append(
                FieldError(
                    loc,
                    f"不允许的占位符 / placeholders not allowed in {key.value}: "
                    f"{', '.join(unknown)}; allowed: {', '.join(sorted(spec.allowed))}",
                    "unknown_placeholder",
                )
            )
        forbidden = find_forbidden_phrases(value)
        if forbidden:
            errors.append(
                FieldError(
                    loc,
                    f"包含禁忌语言 / forbidden phrases (seed 002): {'、'.join(forbidden)}",
                    "forbidden_phrase",
                )
            )
    if errors:
        return errors
    try:
        validate_template(key, subject, body)
    except TemplateError as exc:
        errors.append(FieldError(("body", "body"), exc.detail, "template_rule"))
    return errors


async def put_template(
    db: Database,
    principal: Principal,
    key: TemplateKey,
    *,
    subject: str,
    body: str,
    audit: AuditContext,
    now: datetime,
) -> dict[str, Any]:
    errors = template_errors(key, subject, body)
    if errors:
        raise InvalidInput(errors)
    async with db.begin() as conn:
        version = await repo.add_template_version(
            conn, key.value, subject=subject, body=body, created_by=principal.user_id, now=now
        )
        await audit_log.append(conn, [_record(audit, "notification_template.update", key, version)])
        overrides = await repo.current_templates(conn)
    return _template_view(key, overrides.get(key.value))


async def reset_template(
    db: Database, principal: Principal, key: TemplateKey, *, audit: AuditContext, now: datetime
) -> None:
    """Restore the default: a new version without text (the history is kept)."""
    async with db.begin() as conn:
        overrides = await repo.current_templates(conn)
        current = overrides.get(key.value)
        if current is None or current["body"] is None:
            return  # already the default: nothing to record
        version = await repo.add_template_version(
            conn, key.value, subject=None, body=None, created_by=principal.user_id, now=now
        )
        await audit_log.append(conn, [_record(audit, "notification_template.reset", key, version)])


def _record(audit: AuditContext, action: str, key: TemplateKey, version: int) -> AuditRecord:
    return audit.record(
        action,
        target_type="notification_template",
        target_id=key.value,
        details={"version": version},
    )
