"""A complaint's current state and how events change it (the projection, 投诉台账).

The state is a pure fold over the complaint's event log (`shared.domain.events.replay`); each
`Event.apply` moves it one event forward. The `complaints` table stores exactly these fields.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.domain.enums import Category, CauseClass, Channel, Kind, Level, Satisfaction, Status
from shared.domain.intake import (
    Attachment,
    ChannelMeta,
    ComplaintSubject,
    Customer,
    Product,
    Wish,
)
from shared.domain.records import (
    CorrectiveAction,
    FollowUp,
    Investigation,
    RegulatorReply,
    SignOff,
    Solution,
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
    # What handling has recorded so far (shared.domain.records); empty at registration.
    level_reasons: list[str] = []
    status_before_pause: Status | None = None
    paused_at: datetime | None = None
    last_contact_at: datetime | None = None
    contact_count: int = 0
    investigation: Investigation | None = None
    root_cause: str | None = None
    solution: Solution | None = None
    corrective_actions: list[CorrectiveAction] = []
    satisfaction: Satisfaction | None = None
    satisfaction_source: str | None = None
    management_review: bool = False
    survey_nonce: str | None = None  # the open survey invitation; cleared once answered
    regulator_reply: RegulatorReply | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    # The sign-off chain and the 回访 of the current result (seed 002 §5.1.1, §5.3.1.6).
    resolved_by: str | None = None  # who told the result (the case's handler: never its rater)
    review: SignOff | None = None  # 审核
    followup: FollowUp | None = None  # 回访 attempts and the unreachable outcome
    # 集体投诉: the group this complaint belongs to (the id of its first complaint), issue 11 §5.
    group_id: uuid.UUID | None = None

    def advanced(self, meta: EventMeta, **changes: object) -> ComplaintState:
        """The state after one more event: version and timestamps move with every event."""
        return self.model_copy(
            update={**changes, "version": meta.seq, "updated_at": meta.occurred_at}
        )
