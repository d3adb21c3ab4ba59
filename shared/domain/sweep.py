"""What the SLA worker does with a complaint whose deadlines have come due (SPEC §4).

- warning time reached → `DeadlineWarned` (the assignee is told);
- due time reached → `DeadlineBreached`, recorded against whoever holds the case (seed 002
  §5.4 counts breaches per handler), then the stage policy's action: notify whom it names (by
  default the handler and the supervisor tier), tell the customer why the case is late (the
  resolution, seed 000 第五条), and — only where a company configured it — raise the level
  (the level is the complaint's nature, seed 002 §4.3).

One complaint found late on several stages at once (the worker was down) escalates once, not
once per stage: each deadline escalates at most once, and a sweep raises a complaint one level
at most. The re-planned resolution deadline of the new level may breach later and escalate
again: that is the ladder through the tiers, one rung per missed deadline, never a storm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.complaint import ComplaintState
from shared.domain.enums import DeadlineStatus, Level, Stage
from shared.domain.events import DeadlineBreached, DeadlineWarned, Escalated, Event
from shared.domain.lifecycle import Action, allowed_actions
from shared.domain.rules import escalate
from shared.domain.sla import BreachAction, SlaStage

STAGE_NAMES = {
    Stage.ACKNOWLEDGEMENT: "受理回复",
    Stage.FIRST_CONTACT: "首次联系",
    Stage.INVESTIGATION: "调查处理",
    Stage.RESULT_TO_CUSTOMER: "结果告知",
    Stage.RESOLUTION: "问题解决",
    Stage.PROGRESS_UPDATE: "进度通报",
    Stage.REGULATOR_REPLY: "监管回复",
}


@dataclass(frozen=True)
class DueDeadline:
    """A stored deadline the worker claimed, with the stage rule it was planned with."""

    id: int
    stage: Stage
    cycle: int
    status: DeadlineStatus
    due_at: datetime
    warn_at: datetime
    escalated: bool
    rule: SlaStage | None  # None: its policy version is gone (defaults apply)


def sla_events(state: ComplaintState, due: Sequence[DueDeadline], *, now: datetime) -> list[Event]:
    """The events the worker appends for `due` (open, running deadlines of one complaint)."""
    events: list[Event] = []
    breached = sorted((d for d in due if d.due_at <= now), key=lambda d: (d.due_at, d.id))
    for d in sorted(due, key=lambda d: (d.warn_at, d.id)):
        if d.status is DeadlineStatus.PENDING and d.warn_at <= now < d.due_at:
            events.append(
                DeadlineWarned(deadline_id=d.id, stage=d.stage, cycle=d.cycle, due_at=d.due_at)
            )
    escalating = []
    for d in breached:
        action = d.rule.on_breach if d.rule else BreachAction()
        events.append(
            DeadlineBreached(
                deadline_id=d.id,
                stage=d.stage,
                cycle=d.cycle,
                due_at=d.due_at,
                assignee_id=state.assignee_id,
                repeats=bool(d.rule and d.rule.repeats),
                notify=[r.value for r in action.notify],
                tell_customer_within=action.tell_customer_within,
            )
        )
        if action.escalate and not d.escalated:
            escalating.append(d)
    can_escalate = Action.ESCALATE in allowed_actions(state.status)
    if escalating and can_escalate and state.level < Level.VERY_SERIOUS:
        first = escalating[0]
        stages = "、".join(dict.fromkeys(STAGE_NAMES[d.stage] for d in escalating))
        events.append(
            Escalated(
                from_level=state.level,
                to_level=escalate(state.level),
                reason=f"超时未完成：{stages}",
                cause="breach",
                stage=first.stage,
                deadline_id=first.id,
                handed_over=True,
            )
        )
    return events
