"""A complaint's current state and how events change it (the projection, 投诉台账).

The state is a pure fold over the complaint's event log (`shared.domain.events.replay`); each
`Event.apply` moves it one event forward. The `complaints` table stores exactly these fields.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.domain.enums import Category, CauseClass, Channel, Kind, Level, Status
from shared.domain.intake import (
    Attachment,
    ChannelMeta,
    ComplaintSubject,
    Customer,
    Product,
    Wish,
)


class ActorKind(StrEnum):
    USER = "user"  # signed-in staff
    INTEGRATION = "integration"  # an API key (telephony, web form, regulator bridge)
    CUSTOMER = "customer"  # the complainant, through a public endpoint
    SYSTEM = "system"  # the SLA worker and other automatic rules


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: str | None = None


SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, id="kesu")


class EventMeta(BaseModel):
    """What every event row carries beside its payload."""

    model_config = ConfigDict(frozen=True)

    complaint_id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor: Actor


class ComplaintState(BaseModel):
    """The projection row of one complaint."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    reference: str
    version: int
    status: Status
    kind: Kind
    category: Category
    subcategory: str | None
    cause_class: CauseClass | None
    level: Level
    channel: Channel
    customer: Customer
    product: Product | None
    content: str
    desired_resolution: Wish | None
    attachments: list[Attachment]
    subject: ComplaintSubject | None
    channel_meta: ChannelMeta
    notify_customer: bool
    department: str | None
    assignee_id: uuid.UUID | None
    repeat_of: uuid.UUID | None
    created_by_kind: ActorKind
    created_by_id: str | None
    created_at: datetime
    updated_at: datetime

    def advanced(self, meta: EventMeta, **changes: object) -> ComplaintState:
        """The state after one more event: version and timestamps move with every event."""
        return self.model_copy(
            update={**changes, "version": meta.seq, "updated_at": meta.occurred_at}
        )
