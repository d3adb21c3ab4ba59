"""Group complaints found at intake (集体投诉, seed 002 §4.3.3; issue 11 §5).

Registering a complaint about a product model or batch looks for the complaints about the same
within the window (`LevelRules.group_window_days`); with `group_min_customers` distinct
customers or more (the new one included) they are one group: the new complaint is registered
at level 3 and linked to it (`complaint.group_linked`), and the earlier ones not yet in the
group are linked and raised to level 3 (to the director tier's queue) in the same transaction
as the registration (the members locked first, so none moves meanwhile). Management is told
once, when the group forms (shared.domain.notify).

The earlier complaints are read with the registration's other lookups, in its one statement
(`shared.db.complaints.intake_lookup`), summed up: a wave of calls about one model reads a
count, the group's id and the members still outside it, not hundreds of rows.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.application.complaint_changes import Decision
from shared.db import complaints as repo
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.enums import Kind
from shared.domain.events import Escalated, Event, GroupLinked
from shared.domain.intake import ComplaintIntake
from shared.domain.lifecycle import Action, allowed_actions
from shared.domain.rules import GroupFinding, GroupSummary, Rules, group_finding


def group_query(
    intake: ComplaintIntake, complaint_id: uuid.UUID, now: datetime, rules: Rules
) -> repo.GroupQuery | None:
    """What to look for (None: this complaint cannot be part of a group): the complaints about
    its product model or batch within the window. Its customer is named by phone, else email,
    else the complaint itself."""
    window = rules.level.group_window_days
    product = intake.product
    if intake.kind is not Kind.COMPLAINT or not window or product is None:
        return None
    if not product.model and not product.batch_number:
        return None
    customer = intake.customer
    who = customer.phone or (customer.email.casefold() if customer.email else str(complaint_id))
    return repo.GroupQuery(
        model=product.model,
        batch=product.batch_number,
        since=now - timedelta(days=window),
        customer=who,
    )


def group_of(found: repo.GroupRows, rules: Rules) -> GroupFinding | None:
    """集体投诉 found at intake (issue 11 §5): distinct customers about the same product model
    or batch within the window (shared.domain.rules.group_finding)."""
    summary = GroupSummary(
        first_id=str(found.first_id) if found.first_id is not None else None,
        others=found.others,
        existing_group_id=(
            str(found.existing_group_id) if found.existing_group_id is not None else None
        ),
        members=tuple(str(m) for m in found.members),
    )
    return group_finding(summary, rules=rules.level)


async def lock_members(
    tx: AsyncConnection, group: GroupFinding, *, rules: Rules
) -> tuple[GroupFinding, list[Decision]]:
    """The earlier complaints of a group just found, locked (in id order) in the caller's
    transaction — the registration's — and what each owes: linked to the group and raised to
    level 3 (to the director tier's queue) where still open and lower. A member another
    registration linked meanwhile is left alone, and then that registration formed the group:
    the finding returned says so (management is told once, by the one that formed it)."""
    level = rules.level.group_level
    rows = await repo.lock_rows(tx, [uuid.UUID(m) for m in group.members])
    states = sorted((repo.state_from_row(row) for row in rows), key=lambda s: (s.created_at, s.id))
    linked_meanwhile = next((s.group_id for s in states if s.group_id is not None), None)
    if linked_meanwhile is not None:
        group = replace(group, group_id=str(linked_meanwhile), formed=False)
    group_id = uuid.UUID(group.group_id)
    decisions = []
    for state in states:
        if state.group_id is not None:
            continue
        linked: list[Event] = [GroupLinked(group_id=group_id, customers=group.customers)]
        if state.level < level and Action.ESCALATE in allowed_actions(state.status):
            linked.append(
                Escalated(
                    from_level=state.level,
                    to_level=level,
                    reason=f"集体投诉：{group.customers}位客户反映同一型号或批次的问题",
                    cause="group",
                    handed_over=True,
                )
            )
        decisions.append(Decision(before=state, events=linked, actor=SYSTEM_ACTOR))
    return group, decisions
