"""Stored deadlines and the domain's deadline rules (shared.domain.deadline_rules): a
complaint's rows read as the rules see them, and what the rules decided written back as the
typed rows of a `ComplaintChange`.

Only open deadlines move; the complaint's version guard (or its lock, in a recompute) makes sure
nobody else (the SLA worker) changed them since they were read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.db.changes import DeadlineUpdate
from shared.domain.deadline_rules import DeadlineChanges, OpenDeadline
from shared.domain.enums import OPEN_DEADLINE_STATUSES, DeadlineStatus, DurationUnit, Stage


def open_deadline(row: Mapping[str, Any]) -> OpenDeadline:
    return OpenDeadline(
        id=row["id"],
        stage=Stage(row["stage"]),
        cycle=row["cycle"],
        unit=DurationUnit(row["unit"]),
        started_at=row["started_at"],
        due_at=row["due_at"],
        warn_at=row["warn_at"],
        paused_at=row["paused_at"],
        paused_total=row["paused_total"],
    )


def open_and_cycles(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[OpenDeadline], dict[Stage, int]]:
    """A complaint's open deadlines and the highest cycle planned per stage."""
    cycles: dict[Stage, int] = {}
    open_ones = []
    for row in rows:
        stage = Stage(row["stage"])
        cycles[stage] = max(cycles.get(stage, 0), row["cycle"])
        if row["status"] in OPEN_DEADLINE_STATUSES:
            open_ones.append(open_deadline(row))
    return open_ones, cycles


# The columns a change may set on a stored deadline (`DeadlineUpdate`).
CHANGEABLE = (
    "id",
    "complaint_id",
    "status",
    "due_at",
    "warn_at",
    "provisional",
    "calendar_version",
    "paused_at",
    "paused_total",
    "warned_at",
    "met_at",
    "breached_at",
    "breached_assignee_id",
    "escalated_at",
    "cancelled_at",
)


def moved_deadlines(
    stored: Sequence[Mapping[str, Any]],
    changes: DeadlineChanges,
    *,
    at: datetime,
    calendar_version: int,
) -> list[DeadlineUpdate]:
    """The stored deadlines a change moves, with every column a change may set."""
    resumed = {r.id: r for r in changes.resumed}
    out: list[DeadlineUpdate] = []
    for row in stored:
        deadline_id = row["id"]
        if row["status"] not in OPEN_DEADLINE_STATUSES:
            continue
        new = {c: row[c] for c in CHANGEABLE}
        if deadline_id in changes.met:
            new.update(status=DeadlineStatus.MET.value, met_at=at, paused_at=None)
        elif deadline_id in changes.cancelled:
            new.update(status=DeadlineStatus.CANCELLED.value, cancelled_at=at)
        elif deadline_id in changes.breached:
            new.update(
                status=DeadlineStatus.BREACHED.value,
                breached_at=at,
                breached_assignee_id=changes.breached[deadline_id],
            )
            if deadline_id in changes.escalated:
                new["escalated_at"] = at
        elif deadline_id in changes.warned:
            new.update(status=DeadlineStatus.WARNED.value, warned_at=at)
        elif deadline_id in changes.paused:
            new["paused_at"] = at
        elif deadline_id in resumed:
            r = resumed[deadline_id]
            new.update(
                due_at=r.due_at,
                warn_at=r.warn_at,
                provisional=r.provisional,
                paused_total=r.paused_total,
                paused_at=None,
                calendar_version=calendar_version,
            )
        else:
            continue
        out.append(DeadlineUpdate(**new))
    return out
