"""Realistic answers for the OpenAPI document: a complaint, its history, a page of staff. Built
by the domain itself from the documented phone complaint (registered, assigned, investigated, a
compensation proposed), so they always match what the API answers — never "string"."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson

from services.intake_api.complaints.schemas import (
    ActorView,
    ComplaintOut,
    EventOut,
    Viewer,
    local_times,
)
from services.intake_api.examples import ACTION_EXAMPLES, COMPLAINT_EXAMPLES
from services.intake_api.paging import encode_cursor
from shared.db.complaints import row_from_state
from shared.domain.access import Principal
from shared.domain.complaint import ActorKind, EventMeta
from shared.domain.enums import Level, Role
from shared.domain.events import ComplaintRegistered, Event, stamp
from shared.domain.handling import COMMANDS, Context, decide
from shared.domain.intake import ComplaintIntake
from shared.domain.lifecycle import Action
from shared.domain.rules import Rules

COMPLAINT_ID = uuid.UUID("0b6f3c1e-5a2d-4c11-9d3e-7f2a8b9c0d1e")
AGENT_ID = uuid.UUID("5c1d9e2a-3b4f-4a6c-8d7e-9f0a1b2c3d4e")
MANAGER_ID = uuid.UUID("6d2e0f3b-4c5a-4b7d-9e8f-0a1b2c3d4e5f")
HANDLER_ID = uuid.UUID("7e3f1a4c-5d6b-4c8e-8f9a-1b2c3d4e5f6a")
NAMES = {str(AGENT_ID): "张伟", str(MANAGER_ID): "王强", str(HANDLER_ID): "李娜"}
REGISTERED_AT = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


def _staff(user_id: uuid.UUID, role: Role, department: str | None) -> Principal:
    return Principal(
        kind=ActorKind.USER, id=str(user_id), label=role.value, role=role, department=department
    )


@cache
def _history() -> tuple[list[tuple[Event, EventMeta]], Any]:
    intake = ComplaintIntake.model_validate(COMPLAINT_EXAMPLES["phone"]["value"])
    registered = ComplaintRegistered(
        reference="KS-20261125-000123",
        intake=intake,
        level=Level.ORDINARY,
        department="quality",
    )
    agent = _staff(AGENT_ID, Role.AGENT, "service")
    meta = EventMeta(complaint_id=COMPLAINT_ID, seq=1, occurred_at=REGISTERED_AT, actor=agent.actor)
    state = registered.apply(None, meta)
    log: list[tuple[Event, EventMeta]] = [(registered, meta)]
    manager = _staff(MANAGER_ID, Role.MANAGER, None)
    handler = _staff(HANDLER_ID, Role.HANDLER, "quality")
    steps: list[tuple[Action, Principal, dict[str, Any]]] = [
        (Action.ASSIGN, manager, {"department": "quality", "assignee_id": str(HANDLER_ID)}),
        (Action.START_INVESTIGATION, handler, ACTION_EXAMPLES["start_investigation"]),
        (Action.LOG_CONTACT, handler, {"method": "phone", "outcome": "已电话联系客户"}),
        (Action.PROPOSE_SOLUTION, handler, ACTION_EXAMPLES["propose_solution"]),
    ]
    for minutes, (action, who, body) in enumerate(steps, start=1):
        now = REGISTERED_AT + timedelta(minutes=20 * minutes)
        ctx = Context(principal=who, now=now, rules=Rules())
        events = decide(state, action, COMMANDS[action].model_validate(body), ctx)
        stamped, states = stamp(state, events, actor=who.actor, now=now)
        log += stamped
        state = states[-1]
    return log, state


def _json(value: Any) -> Any:
    return orjson.loads(value.model_dump_json())


@cache
def complaint() -> dict[str, Any]:
    """A complaint as its handler sees it, solution proposed and awaiting approval."""
    _, state = _history()
    viewer = Viewer(
        principal=_staff(HANDLER_ID, Role.HANDLER, "quality"),
        rules=Rules(),
        now=REGISTERED_AT + timedelta(hours=2),
        names=NAMES,
    )
    out: dict[str, Any] = _json(ComplaintOut.from_row(row_from_state(state), viewer=viewer))
    return out


def complaint_page() -> dict[str, Any]:
    return {
        "items": [complaint()],
        "next_cursor": encode_cursor({"t": REGISTERED_AT.isoformat(), "i": str(COMPLAINT_ID)}),
        "total": None,
    }


def event_page() -> dict[str, Any]:
    log, _ = _history()
    items = [
        _json(
            EventOut(
                id=1000 + meta.seq,
                seq=meta.seq,
                type=event.type,
                actor=ActorView.of(meta.actor, NAMES),
                occurred_at=meta.occurred_at,
                payload=local_times(event.model_dump(mode="python"), event.payload()),
            )
        )
        for event, meta in log[:3]
    ]
    return {"items": items, "next_cursor": encode_cursor({"s": 3}), "total": len(log)}


def staff_page() -> dict[str, Any]:
    return {
        "items": [
            {
                "id": str(HANDLER_ID),
                "display_name": "李娜",
                "role": "handler",
                "department": "quality",
                "department_name": "质量部",
                "work_phone": "400-800-1234 转 8021",
            },
            {
                "id": str(MANAGER_ID),
                "display_name": "王强",
                "role": "manager",
                "department": None,
                "department_name": None,
                "work_phone": None,
            },
        ],
        "next_cursor": encode_cursor({"u": "wang.qiang"}),
        "total": 12,
    }


# The example of each answer, by the name of its schema in the OpenAPI document.
BY_SCHEMA: dict[str, Callable[[], dict[str, Any]]] = {
    "ComplaintOut": complaint,
    "ComplaintPage": complaint_page,
    "EventPage": event_page,
    "StaffPage": staff_page,
}
