"""What to send for one outbox message: to whom, by which channel, with which text.

Pure: it looks only at the claimed row (the outbox row joined with its complaint and staff
recipient, see `shared.db.outbox.claim_messages`), the templates in force and the configuration.
Addresses are resolved here, at send time, from the complaint and the users table: the outbox
never holds a phone number or an email address.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.sla_worker.delivery.runtime import DeliveryConfig
from shared.domain.enums import Level, Stage
from shared.domain.templates import (
    DEFAULT_TEMPLATES,
    Audience,
    MessageChannel,
    MessageTemplate,
    TemplateError,
    TemplateKey,
    format_due_at_local,
    level_label,
    render,
    stage_label,
)


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to send, by rule (recusal 回避, no address, a disabled account)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    """Cannot be sent as it stands (unknown template, missing value): dead-letter it so ops
    see it, fix the cause, and replay."""

    reason: str


@dataclass(frozen=True, slots=True)
class Send:
    channel: MessageChannel
    address: str  # E.164 phone or email address: never logged, never stored
    subject: str
    body: str


Plan = Skip | Fail | Send


def effective_templates(
    overrides: Mapping[str, Mapping[str, Any]],
) -> dict[TemplateKey, MessageTemplate]:
    """Defaults with the admins' overrides in force (a version without body = the default).
    An override that no longer validates (rules tightened since it was saved) falls back to
    the default rather than blocking every message of its key."""
    result = dict(DEFAULT_TEMPLATES)
    for key, row in overrides.items():
        if row.get("body") is None:
            continue
        try:
            template_key = TemplateKey(key)
            result[template_key] = MessageTemplate(
                key=template_key, subject=row.get("subject") or "", body=row["body"]
            )
        except (ValueError, TemplateError):
            continue
    return result


def plan_message(
    row: Mapping[str, Any],
    templates: Mapping[TemplateKey, MessageTemplate],
    config: DeliveryConfig,
) -> Plan:
    try:
        key = TemplateKey(row["template_key"] or "")
    except ValueError:
        return Fail(f"unknown template key {row['template_key']!r}")
    template = templates[key]
    audience = Audience(row["audience"]) if row["audience"] else template.audience
    if audience is not template.audience:
        return Fail(f"template {key} is for {template.audience}, not {audience}")
    target = _customer_target(row) if audience is Audience.CUSTOMER else _staff_target(row)
    if isinstance(target, Skip | Fail):
        return target
    phone, email = target
    channel = _choose_channel(row["channel"], audience, template.channels, phone, email)
    if isinstance(channel, Skip):
        return channel
    values = _values(row, audience, config)
    try:
        rendered = render(template, values)
    except TemplateError as exc:
        return Fail(f"template {key}: {exc.detail}")
    address = phone if channel is MessageChannel.SMS else email
    assert address is not None
    return Send(channel=channel, address=address, subject=rendered.subject, body=rendered.body)


def _customer_target(row: Mapping[str, Any]) -> tuple[str | None, str | None] | Skip | Fail:
    if row["complaint_id"] is None or row["reference"] is None:
        return Fail("a customer message needs its complaint")
    customer = row["customer"] or {}
    return customer.get("phone") or None, customer.get("email") or None


def _staff_target(row: Mapping[str, Any]) -> tuple[str | None, str | None] | Skip | Fail:
    recipient: uuid.UUID | None = row["recipient_user_id"]
    if recipient is None:
        return Fail("a staff message needs recipient_user_id")
    # Recusal (回避): the staff member a complaint is about is never told about it.
    if row["subject_user_id"] is not None and row["subject_user_id"] == recipient:
        return Skip("recusal (回避): the recipient is the staff member complained about")
    if row["user_active"] is None:
        return Skip("the recipient account no longer exists")
    if not row["user_active"]:
        return Skip("the recipient account is disabled")
    return row["user_mobile"] or None, row["user_email"] or None


def _choose_channel(
    requested: str | None,
    audience: Audience,
    allowed: frozenset[MessageChannel],
    phone: str | None,
    email: str | None,
) -> MessageChannel | Skip:
    if requested:
        preference = [MessageChannel(requested)]
    elif audience is Audience.CUSTOMER:
        preference = [MessageChannel.SMS, MessageChannel.EMAIL]  # customers read SMS first
    else:
        preference = [MessageChannel.EMAIL, MessageChannel.SMS]  # staff work from email
    have = {MessageChannel.SMS: phone, MessageChannel.EMAIL: email}
    for channel in preference:
        if channel in allowed and have[channel]:
            return channel
    wanted = "/".join(c.value for c in preference if c in allowed) or "none allowed"
    return Skip(f"the recipient has no address for this template's channel ({wanted})")


def _values(row: Mapping[str, Any], audience: Audience, config: DeliveryConfig) -> dict[str, str]:
    """Placeholder values: configuration, then what the complaint row says now, then the
    producer's payload (which wins: it describes the event), made readable: level numbers
    become 一级投诉…, stage codes 投诉处理…, times Asia/Shanghai, department codes names."""
    values: dict[str, str] = {"company_name": config.company_name}
    if config.service_phone:
        values["service_phone"] = config.service_phone
    if row["complaint_id"] is not None and config.console_url:
        values["case_url"] = f"{config.console_url.rstrip('/')}/complaints/{row['complaint_id']}"
    if row["reference"]:
        values["reference"] = row["reference"]
    if row["level"] is not None:
        values["level"] = level_label(Level(row["level"]))
    department = row["department_name"] or row["department"]
    if department:
        values["department"] = department
    if row["next_due_at"] is not None:
        values["due_at_local"] = format_due_at_local(row["next_due_at"])
    if row["user_name"] and audience is Audience.STAFF:
        values["handler_name"] = row["user_name"]
    for name, value in (row["payload"] or {}).items():
        if value is not None and value != "":
            values[name] = _readable(name, value if isinstance(value, str) else str(value), row)
    if audience is Audience.CUSTOMER:
        # Personal data is read at send time only, and only into customer messages.
        name = (row["customer"] or {}).get("name")
        values["customer_name"] = name or "客户"
    else:
        values.pop("customer_name", None)
    return values


_LEVELS = {str(int(level)): level for level in Level}
_STAGES = {stage.value: stage for stage in Stage}


def _readable(name: str, value: str, row: Mapping[str, Any]) -> str:
    if name in ("level", "previous_level") and value in _LEVELS:
        return level_label(_LEVELS[value])
    if name == "stage" and value in _STAGES:
        return stage_label(_STAGES[value])
    if name == "department" and value == row["department"] and row["department_name"]:
        return str(row["department_name"])
    if name == "due_at_local" and "T" in value:
        try:
            return format_due_at_local(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def scrub(error: str | None, address: str) -> str | None:
    """Keep the recipient's address out of the delivery log: relays and gateways echo it in
    their replies (as given, without the +, or as the national number)."""
    if error is None or not address:
        return error
    forms = {address, address.lstrip("+")}
    if address.startswith("+86"):
        forms.add(address.removeprefix("+86"))
    for form in sorted(forms, key=len, reverse=True):
        error = _replace_folded(error, form)
    return error


def _replace_folded(text: str, needle: str) -> str:
    haystack, lowered = text.lower(), needle.lower()
    out, start = [], 0
    while (index := haystack.find(lowered, start)) >= 0:
        out.append(text[start:index])
        out.append("<recipient>")
        start = index + len(needle)
    out.append(text[start:])
    return "".join(out)
