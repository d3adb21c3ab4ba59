"""Request and response bodies of the notification endpoints (Chinese examples for ops)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.paging import Page
from shared.domain.values import MediumText

# "complaint.escalated", "complaint.*" (every complaint event) or "*" (everything).
EventPattern = Annotated[
    str,
    StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$", max_length=100),
]
WebhookUrl = Annotated[str, StringConstraints(min_length=8, max_length=2000)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: MediumText = Field(examples=["工单系统-升级提醒"])
    url: WebhookUrl = Field(examples=["https://hooks.example.com/kesu"])
    event_types: list[EventPattern] = Field(
        min_length=1, max_length=50, examples=[["complaint.escalated", "deadline.*"]]
    )


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: MediumText | None = None
    url: WebhookUrl | None = None
    event_types: list[EventPattern] | None = Field(default=None, min_length=1, max_length=50)
    active: StrictBool | None = Field(
        default=None, description="true re-enables a subscription disabled by a 410 Gone"
    )


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    description: str
    url: str
    event_types: list[str]
    active: bool
    disabled_reason: str | None
    disabled_at: LocalTime | None
    created_at: LocalTime
    updated_at: LocalTime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="Signing secret (whsec_…, Standard Webhooks). Shown only in this response."
    )


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=200, description="Email subject (SMS: unused)")
    body: str = Field(min_length=1, max_length=4000)


class TemplateText(BaseModel):
    subject: str
    body: str


class TemplateOut(BaseModel):
    key: str
    audience: str
    channels: list[str]
    allowed_placeholders: list[str]
    required_placeholders: list[str]
    subject: str
    body: str
    overridden: bool = Field(description="false: the built-in default (客服标准话术) is in force")
    version: int | None = Field(description="Version of the override history, if any")
    updated_at: LocalTime | None
    updated_by: uuid.UUID | None
    default: TemplateText


class AttemptOut(BaseModel):
    id: int
    attempt: int
    attempted_at: LocalTime
    channel: str
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int
    worker: str | None
    webhook_delivery_id: int | None


class OutboxOut(BaseModel):
    id: int
    message_id: uuid.UUID
    kind: str
    topic: str
    status: str
    complaint_id: uuid.UUID | None
    event_seq: int | None
    template_key: str | None
    audience: str | None
    channel: str | None
    recipient_user_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    waiting_for: str | None = Field(
        description="not_configured: the channel (sms / email) whose gateway it waits for"
    )
    created_at: LocalTime
    available_at: LocalTime
    next_attempt_at: LocalTime | None
    delivered_at: LocalTime | None
    updated_at: LocalTime


class DeliveryOut(BaseModel):
    id: int
    outbox_id: int
    subscription_id: uuid.UUID
    topic: str
    webhook_id: str = Field(description="The webhook-id header of every attempt and replay")
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: LocalTime
    delivered_at: LocalTime | None
    created_at: LocalTime
    updated_at: LocalTime


class OutboxDetail(OutboxOut):
    deliveries: list[DeliveryOut]
    log: list[AttemptOut]


class DeliveryDetail(DeliveryOut):
    log: list[AttemptOut]


class OutboxPage(Page[OutboxOut]):
    pass


class DeliveryPage(Page[DeliveryOut]):
    pass


class SubscriptionPage(Page[SubscriptionOut]):
    pass


class TemplatePage(Page[TemplateOut]):
    pass


class Backlog(BaseModel):
    pending: int = Field(description="Owed, due or not (待发)")
    due: int = Field(description="Owed and due now")
    oldest_due_age_seconds: float | None = Field(description="Lag of the oldest due row")
    dead: int = Field(description="Dead letters (死信) waiting for ops")


class WorkerStatus(BaseModel):
    worker: str
    seen_at: str = Field(description="Last heartbeat (ISO 8601)")
    started_at: str | None = None
    last_sweep_at: str | None = Field(default=None, description="The last finished sweep")
    last_delivery_run_at: str | None = None
    deliveries: dict[str, int] = Field(default_factory=dict)


class SweepLag(BaseModel):
    oldest_unhandled_at: LocalTime | None = Field(
        description="The oldest warning or breach moment the SLA worker has not handled yet"
    )
    lag_seconds: float = Field(description="How long it has waited (0 when nothing is due)")


class OpsStatus(BaseModel):
    status: str = Field(description="ok / degraded (no live worker, or a lag over a minute)")
    sweep: SweepLag = Field(description="Deadline sweep (时限巡检) lag")
    outbox: Backlog = Field(description="Messages and webhook events not yet fanned out")
    webhooks: Backlog = Field(description="Webhook deliveries (one per subscription)")
    not_configured: dict[str, int] = Field(
        description=(
            "Messages waiting (status not_configured) for a gateway no worker has, by channel "
            "(sms / email); sent once a worker starts with that gateway configured"
        ),
        examples=[{"sms": 120, "email": 0}],
    )
    workers: list[WorkerStatus]
    redis: str
