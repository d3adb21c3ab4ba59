"""Notification administration (通知管理): webhook subscriptions, message templates, the outbox
(dead letters 死信 and replay), and the ops status of delivery.

Admins change things; auditors (and admins) read the outbox, the delivery log and the status.
Every change is audited.
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from services.intake_api.deps import (
    AdminPrincipal,
    AuditDep,
    AuditReader,
    DbDep,
    NowDep,
    SettingsDep,
    require_json,
)
from services.intake_api.notifications import outbox_ops, subscriptions, templates
from services.intake_api.notifications.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    OpsStatus,
    OutboxDetail,
    OutboxOut,
    OutboxPage,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionPatch,
    TemplateIn,
    TemplateOut,
    TemplatePage,
)
from services.intake_api.paging import PageQuery, PagingDep, encode_cursor, int_cursor
from services.intake_api.problems import responses
from shared.db.notifications import OutboxFilters
from shared.domain.enums import OutboxStatus
from shared.domain.errors import NotFound
from shared.domain.templates import MessageChannel, TemplateKey
from shared.domain.values import MAX_ROW_ID

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_json)])

READ_ERRORS = responses(401, 403, 404, 422, 429)
WRITE_ERRORS = responses(401, 403, 404, 409, 415, 422, 429)
_SUBSCRIPTIONS: list[str | Enum] = ["notifications: webhooks"]
_TEMPLATES: list[str | Enum] = ["notifications: templates"]
_OUTBOX: list[str | Enum] = ["notifications: outbox"]


def _redis(request: Request) -> aioredis.Redis:
    client: aioredis.Redis = request.app.state.redis
    return client


RedisDep = Annotated[aioredis.Redis, Depends(_redis)]


def _subscription_id(subscription_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(subscription_id)
    except ValueError:
        raise NotFound("no such webhook subscription") from None


SubscriptionId = Annotated[uuid.UUID, Depends(_subscription_id)]


def _template_key(key: str) -> TemplateKey:
    return templates.template_key(key)


TemplateKeyDep = Annotated[TemplateKey, Depends(_template_key)]


# --- webhook subscriptions ---------------------------------------------------------------------

SUBSCRIPTION_EXAMPLES = {
    "escalations": {
        "summary": "工单系统接收升级与超时事件",
        "value": {
            "description": "工单系统-升级与超时提醒",
            "url": "https://hooks.example.com/kesu",
            "event_types": ["complaint.escalated", "deadline.*"],
        },
    },
    "everything": {
        "summary": "数据仓库接收全部事件",
        "value": {
            "description": "数据仓库同步",
            "url": "https://dw.example.com/in/kesu",
            "event_types": ["*"],
        },
    },
}


@router.get(
    "/webhook-subscriptions",
    tags=_SUBSCRIPTIONS,
    summary="List the webhook subscriptions.",
    response_model=SubscriptionPage,
    responses=READ_ERRORS,
)
async def list_subscriptions(db: DbDep, _: AdminPrincipal, paging: PagingDep) -> SubscriptionPage:
    rows = await subscriptions.list_subscriptions(db)
    return SubscriptionPage.of_all([SubscriptionOut.model_validate(s) for s in rows], paging)


@router.post(
    "/webhook-subscriptions",
    tags=_SUBSCRIPTIONS,
    status_code=201,
    summary="Subscribe a URL to events; the signing secret is shown once.",
    response_model=SubscriptionCreated,
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"examples": SUBSCRIPTION_EXAMPLES}}}
    },
)
async def create_subscription(
    db: DbDep,
    settings: SettingsDep,
    principal: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: SubscriptionIn,
    response: Response,
) -> SubscriptionCreated:
    """The URL must be http(s) and public: loopback, link-local and private addresses are
    refused unless KESU_WEBHOOK_ALLOW permits them; it is checked again at every delivery.

    Events are queued only for what some active subscription wants: a new subscription receives
    the events of changes made from the moment it is saved — in the API process that saved it —
    and within 5 seconds in every other process (the SLA worker's own events, other API
    replicas). Events from before are not sent to it."""
    row, secret = await subscriptions.create_subscription(
        db,
        settings,
        principal,
        description=body.description,
        url=body.url,
        event_types=body.event_types,
        audit=audit,
        now=now,
    )
    response.headers["Location"] = f"/api/v1/webhook-subscriptions/{row['id']}"
    response.headers["Cache-Control"] = "no-store"
    return SubscriptionCreated.model_validate({**row, "secret": secret})


@router.get(
    "/webhook-subscriptions/{subscription_id}",
    tags=_SUBSCRIPTIONS,
    summary="Get a webhook subscription.",
    response_model=SubscriptionOut,
    responses=READ_ERRORS,
)
async def get_subscription(
    db: DbDep, _: AdminPrincipal, subscription_id: SubscriptionId
) -> SubscriptionOut:
    return SubscriptionOut.model_validate(await subscriptions.get_subscription(db, subscription_id))


@router.patch(
    "/webhook-subscriptions/{subscription_id}",
    tags=_SUBSCRIPTIONS,
    summary="Change a subscription (URL, events) or re-enable it after a 410.",
    response_model=SubscriptionOut,
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "enable": {"summary": "接收方已恢复，重新启用", "value": {"active": True}},
                        "events": {
                            "summary": "只接收升级事件",
                            "value": {"event_types": ["complaint.escalated"]},
                        },
                    }
                }
            }
        }
    },
)
async def update_subscription(
    db: DbDep,
    settings: SettingsDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: SubscriptionPatch,
    subscription_id: SubscriptionId,
) -> SubscriptionOut:
    row = await subscriptions.update_subscription(
        db,
        settings,
        subscription_id,
        changes=body.model_dump(exclude_unset=True),
        audit=audit,
        now=now,
    )
    return SubscriptionOut.model_validate(row)


@router.post(
    "/webhook-subscriptions/{subscription_id}/rotate-secret",
    tags=_SUBSCRIPTIONS,
    summary="Replace a subscription's signing secret; the new one is shown once.",
    response_model=SubscriptionCreated,
    responses=WRITE_ERRORS,
)
async def rotate_subscription_secret(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    subscription_id: SubscriptionId,
    response: Response,
) -> SubscriptionCreated:
    row, secret = await subscriptions.rotate_secret(db, subscription_id, audit=audit, now=now)
    response.headers["Cache-Control"] = "no-store"
    return SubscriptionCreated.model_validate({**row, "secret": secret})


@router.delete(
    "/webhook-subscriptions/{subscription_id}",
    tags=_SUBSCRIPTIONS,
    status_code=204,
    summary="Delete a subscription; its delivery log is kept.",
    responses=WRITE_ERRORS,
)
async def delete_subscription(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    subscription_id: SubscriptionId,
) -> None:
    await subscriptions.delete_subscription(db, subscription_id, audit=audit, now=now)


# --- templates ---------------------------------------------------------------------------------


@router.get(
    "/notification-templates",
    tags=_TEMPLATES,
    summary="List the message templates in force (defaults follow seed 002's 客服标准话术).",
    response_model=TemplatePage,
    responses=READ_ERRORS,
)
async def list_templates(db: DbDep, _: AuditReader, paging: PagingDep) -> TemplatePage:
    rows = await templates.list_templates(db)
    return TemplatePage.of_all([TemplateOut.model_validate(t) for t in rows], paging)


@router.get(
    "/notification-templates/{key}",
    tags=_TEMPLATES,
    summary="Get one message template.",
    response_model=TemplateOut,
    responses=READ_ERRORS,
)
async def get_template(db: DbDep, _: AuditReader, key: TemplateKeyDep) -> TemplateOut:
    return TemplateOut.model_validate(await templates.get_template(db, key))


@router.put(
    "/notification-templates/{key}",
    tags=_TEMPLATES,
    summary="Override a template, validated for placeholders, 禁忌语言 and lengths.",
    response_model=TemplateOut,
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "acknowledgement": {
                            "summary": "受理回执（短信与邮件）",
                            "value": {
                                "subject": "您的投诉已受理（受理号：{reference}）",
                                "body": (
                                    "您好！感谢您联系{company_name}。您反映的问题已受理，"
                                    "受理号为 {reference} 。我们会尽快跟进处理，请您放心。"
                                ),
                            },
                        },
                    }
                }
            }
        }
    },
)
async def put_template(
    db: DbDep,
    principal: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    key: TemplateKeyDep,
    body: TemplateIn,
) -> TemplateOut:
    """Refused with 422 and field errors: placeholders the key does not allow (e.g. the
    customer's phone), unsafe placeholder syntax, missing required placeholders (the 受理号),
    and the forbidden phrases of seed 002 (禁忌语言, e.g. 不关我的事)."""
    view = await templates.put_template(
        db, principal, key, subject=body.subject, body=body.body, audit=audit, now=now
    )
    return TemplateOut.model_validate(view)


@router.delete(
    "/notification-templates/{key}",
    tags=_TEMPLATES,
    status_code=204,
    summary="Restore the default template.",
    responses=WRITE_ERRORS,
)
async def reset_template(
    db: DbDep, principal: AdminPrincipal, audit: AuditDep, now: NowDep, key: TemplateKeyDep
) -> None:
    await templates.reset_template(db, principal, key, audit=audit, now=now)


# --- the outbox --------------------------------------------------------------------------------


class OutboxQuery(PageQuery):
    status: OutboxStatus | None = Field(
        default=None,
        examples=["dead"],
        description="dead: dead letters (死信); not_configured: messages waiting for a gateway",
    )
    kind: str | None = Field(default=None, pattern=r"^(webhook|message)$")
    topic: str | None = Field(default=None, max_length=100, examples=["complaint.escalated"])
    complaint_id: uuid.UUID | None = None
    waiting_for: MessageChannel | None = Field(
        default=None, description="not_configured messages waiting for this channel's gateway"
    )


class DeliveryQuery(PageQuery):
    status: str | None = Field(
        default=None, pattern=r"^(pending|delivered|skipped|dead)$", examples=["dead"]
    )
    subscription_id: uuid.UUID | None = None
    outbox_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)


def _row_id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound(f"no such {what}")
    return int(value)


def _outbox_id(outbox_id: str) -> int:
    return _row_id(outbox_id, "outbox row")


def _delivery_id(delivery_id: str) -> int:
    return _row_id(delivery_id, "webhook delivery")


OutboxId = Annotated[int, Depends(_outbox_id)]
DeliveryId = Annotated[int, Depends(_delivery_id)]


@router.get(
    "/outbox",
    tags=_OUTBOX,
    summary="List notifications owed and sent; status=dead lists the dead letters (死信).",
    response_model=OutboxPage,
    responses=READ_ERRORS,
)
async def list_outbox(
    db: DbDep, _: AuditReader, query: Annotated[OutboxQuery, Query()]
) -> OutboxPage:
    filters = OutboxFilters(
        status=query.status,
        kind=query.kind,
        topic=query.topic,
        complaint_id=query.complaint_id,
        waiting_for=query.waiting_for,
    )
    rows, next_id, total = await outbox_ops.list_outbox(
        db, filters, before_id=int_cursor(query, "b"), limit=query.limit, count=query.count
    )
    return OutboxPage(
        items=[OutboxOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor({"b": next_id}) if next_id else None,
        total=total,
    )


@router.get(
    "/outbox/{outbox_id}",
    tags=_OUTBOX,
    summary="Get one outbox row with its webhook deliveries and delivery log.",
    response_model=OutboxDetail,
    responses=READ_ERRORS,
)
async def get_outbox(db: DbDep, _: AuditReader, outbox_id: OutboxId) -> OutboxDetail:
    return OutboxDetail.model_validate(await outbox_ops.outbox_detail(db, outbox_id))


@router.post(
    "/outbox/{outbox_id}/replay",
    tags=_OUTBOX,
    summary="Send a dead-lettered or skipped notification again, with the same message id.",
    response_model=OutboxOut,
    responses=WRITE_ERRORS,
)
async def replay_outbox(
    db: DbDep, _: AdminPrincipal, audit: AuditDep, now: NowDep, outbox_id: OutboxId
) -> OutboxOut:
    return OutboxOut.model_validate(
        await outbox_ops.replay_outbox(db, outbox_id, audit=audit, now=now)
    )


@router.get(
    "/webhook-deliveries",
    tags=_OUTBOX,
    summary="List webhook deliveries, one per event and subscription.",
    response_model=DeliveryPage,
    responses=READ_ERRORS,
)
async def list_deliveries(
    db: DbDep, _: AuditReader, query: Annotated[DeliveryQuery, Query()]
) -> DeliveryPage:
    rows, next_id, total = await outbox_ops.list_deliveries(
        db,
        status=query.status,
        subscription_id=query.subscription_id,
        outbox_id=query.outbox_id,
        before_id=int_cursor(query, "b"),
        limit=query.limit,
        count=query.count,
    )
    return DeliveryPage(
        items=[DeliveryOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor({"b": next_id}) if next_id else None,
        total=total,
    )


@router.get(
    "/webhook-deliveries/{delivery_id}",
    tags=_OUTBOX,
    summary="Get one webhook delivery with its attempts (status codes, errors, durations).",
    response_model=DeliveryDetail,
    responses=READ_ERRORS,
)
async def get_delivery(db: DbDep, _: AuditReader, delivery_id: DeliveryId) -> DeliveryDetail:
    return DeliveryDetail.model_validate(await outbox_ops.delivery_detail(db, delivery_id))


@router.post(
    "/webhook-deliveries/{delivery_id}/replay",
    tags=_OUTBOX,
    summary="Send one webhook delivery again, with the same webhook-id.",
    response_model=DeliveryOut,
    responses=WRITE_ERRORS,
)
async def replay_delivery(
    db: DbDep, _: AdminPrincipal, audit: AuditDep, now: NowDep, delivery_id: DeliveryId
) -> DeliveryOut:
    return DeliveryOut.model_validate(
        await outbox_ops.replay_delivery(db, delivery_id, audit=audit, now=now)
    )


@router.get(
    "/ops/status",
    tags=["ops"],
    summary="Show the delivery backlog (积压, 死信) and the live SLA workers.",
    response_model=OpsStatus,
    responses=responses(401, 403, 429),
)
async def ops_status(
    db: DbDep, client: RedisDep, settings: SettingsDep, _: AuditReader, now: NowDep
) -> Any:
    """`degraded` when no worker sent a heartbeat in the last minute, Redis is unreachable,
    or the oldest due notification waits for more than a minute."""
    return OpsStatus.model_validate(await outbox_ops.ops_status(db, client, settings, now=now))
