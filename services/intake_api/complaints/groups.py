"""Group complaints found at intake (集体投诉, seed 002 §4.3.3; issue 11 §5).

Registering a complaint about a product model or batch looks for the complaints about the same
within the window (`LevelRules.group_window_days`); with `group_min_customers` distinct
customers or more (the new one included) they are one group: the new complaint is registered
at level 3 and linked to it (`complaint.group_linked`), and the earlier ones not yet in the
group are linked and raised to level 3 (to the director tier's queue) in one transaction right
after. Management is told once, when the group forms (shared.domain.notify).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.application.bootstrap import Collaborators
from shared.application.complaint_changes import Decision, change_complaints
from shared.db import complaints as repo
from shared.domain.complaint import SYSTEM_ACTOR
from shared.domain.enums import Kind
from shared.domain.events import Escalated, Event, GroupLinked
from shared.domain.intake import ComplaintIntake
from shared.domain.lifecycle import Action, allowed_actions
from shared.domain.rules import GroupCandidate, GroupFinding, Rules, detect_group


async def group_of(
    conn: Any, intake: ComplaintIntake, complaint_id: uuid.UUID, now: datetime, rules: Rules
) -> GroupFinding | None:
    """集体投诉 found at intake (issue 11 §5): distinct customers about the same product model
    or batch within the window (shared.domain.rules.detect_group)."""
    window = rules.level.group_window_days
    product = intake.product
    if intake.kind is not Kind.COMPLAINT or not window or product is None:
        return None
    customer = intake.customer
    who = customer.phone or (customer.email.casefold() if customer.email else str(complaint_id))
    rows = await repo.group_candidates(
        conn,
        model=product.model,
        batch=product.batch_number,
        since=now - timedelta(days=window),
        customer=who,
        min_customers=rules.level.group_min_customers,
    )
    candidates = [
        GroupCandidate(str(r["id"]), r["customer"], str(r["group_id"]) if r["group_id"] else None)
        for r in rows
    ]
    return detect_group(who, candidates, rules=rules.level)


async def link_group(
    collab: Collaborators, group: GroupFinding, *, now: datetime, rules: Rules
) -> None:
    """The earlier complaints of a group just found: each linked to it and raised to level 3
    (to the director tier's queue) where still open and lower, in one transaction after the
    registration. Management was told once, with the registration that formed the group."""
    level = rules.level.group_level
    ids = [uuid.UUID(m) for m in group.members]
    async with collab.db.begin() as tx:
        decisions = []
        for row in await repo.lock_rows(tx, ids):
            state = repo.state_from_row(row)
            linked: list[Event] = [
                GroupLinked(group_id=uuid.UUID(group.group_id), customers=group.customers)
            ]
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
        await change_complaints(
            tx, decisions, now=now, audit=[], caches=collab.caches, survey_url=collab.survey_url
        )
