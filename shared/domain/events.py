"""The events of a complaint's log (事件). Each is a pydantic model; its payload is the JSON stored
in `complaint_events.payload` and its `apply` moves the projection one event forward.

New event types are added here and registered in `EVENT_TYPES`; stored payloads are parsed back
with `parse_event`, so every payload in the database is one the domain validates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from shared.domain.complaint import ComplaintState, EventMeta
from shared.domain.enums import Level, Status
from shared.domain.intake import ComplaintIntake


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _require(state: ComplaintState | None, event: Event) -> ComplaintState:
    if state is None:
        raise ValueError(f"{event.type} cannot be the first event of a complaint")
    return state


class ComplaintRegistered(Event):
    """受理: the complaint is registered and given its reference number (受理号)."""

    type: ClassVar[str] = "complaint.registered"

    reference: str
    intake: ComplaintIntake
    level: Level
    level_reasons: list[str] = []
    repeat_of: uuid.UUID | None = None

    def apply(self, state: ComplaintState | None, meta: EventMeta) -> ComplaintState:
        if state is not None:
            raise ValueError("a complaint is registered once")
        intake = self.intake
        return ComplaintState(
            id=meta.complaint_id,
            reference=self.reference,
            version=meta.seq,
            status=Status.REGISTERED,
            kind=intake.kind,
            category=intake.category,
            subcategory=intake.subcategory,
            cause_class=intake.cause_class,
            level=self.level,
            channel=intake.channel,
            customer=intake.customer,
            product=intake.product,
            content=intake.content,
            desired_resolution=intake.desired_resolution,
            attachments=intake.attachments,
            subject=intake.subject,
            channel_meta=intake.channel_meta,
            notify_customer=intake.notify_customer,
            department=None,
            assignee_id=None,
            repeat_of=self.repeat_of,
            created_by_kind=meta.actor.kind,
            created_by_id=meta.actor.id,
            created_at=meta.occurred_at,
            updated_at=meta.occurred_at,
        )


EVENT_TYPES: dict[str, type[Event]] = {cls.type: cls for cls in (ComplaintRegistered,)}


def parse_event(type_: str, payload: dict[str, Any]) -> Event:
    try:
        cls = EVENT_TYPES[type_]
    except KeyError:
        raise ValueError(f"unknown event type {type_!r}") from None
    return cls.model_validate(payload)


def replay(events: Iterable[tuple[Event, EventMeta]]) -> ComplaintState:
    """Rebuild a complaint's state from its whole event log, oldest first."""
    state: ComplaintState | None = None
    for event, meta in events:
        state = event.apply(state, meta)
    if state is None:
        raise ValueError("a complaint has at least one event")
    return state
