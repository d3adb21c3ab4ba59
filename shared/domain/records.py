"""What handling a complaint records: investigation and responsibility (责任判定), the solution
and its approvals (处理方案, 审批), corrective and preventive actions (纠正预防措施 / 8D), the reply
to the regulator. These are parts of the projection (`ComplaintState`) and of event payloads.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.enums import RemedyType, Responsibility, Role
from shared.domain.values import LongText, Money

_RECORD = ConfigDict(frozen=True, extra="forbid")


class Remedy(BaseModel):
    """One part of a solution: refund, replacement, repair, return, compensation (with its
    amount in CNY), apology or explanation."""

    model_config = _RECORD

    type: RemedyType
    amount: Money | None = Field(default=None, description="CNY, two decimals (元)")
    description: LongText | None = None


class Approval(BaseModel):
    model_config = _RECORD

    role: Role
    user_id: str
    at: datetime
    comment: str | None = None


class CustomerResponse(StrEnum):
    AGREED = "agreed"
    REJECTED = "rejected"


class Solution(BaseModel):
    """The solution on the table (处理方案). A new proposal replaces it (approvals start over)."""

    model_config = _RECORD

    remedies: list[Remedy]
    description: str
    proposed_at: datetime
    proposed_by: str | None = Field(
        default=None, description="Who proposed it (user id): never its approver (four eyes)"
    )
    required_approval: Role | None = None  # by the amounts (shared.domain.rules)
    approvals: list[Approval] = []
    customer_response: CustomerResponse | None = None
    customer_response_reason: str | None = None
    implemented_at: datetime | None = None
    implementation_note: str | None = None

    @property
    def approved(self) -> bool:
        """Approved by the required role or a higher tier (a director may approve for a
        manager)."""
        if self.required_approval is None:
            return True
        ranks = {Role.MANAGER: 2, Role.DIRECTOR: 3}
        needed = ranks[self.required_approval]
        return any(ranks.get(a.role, 0) >= needed for a in self.approvals)


class Investigation(BaseModel):
    """调查结果 and 责任判定."""

    model_config = _RECORD

    findings: str
    responsibility: Responsibility
    evidence: list[str] = []
    fault_department: str | None = None
    recorded_at: datetime


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class CorrectiveAction(BaseModel):
    """One corrective or preventive action (纠正/预防措施) with its owner and due date; verified
    when its effect has been checked (效果确认)."""

    model_config = _RECORD

    id: uuid.UUID
    kind: str = Field(description="corrective (纠正) or preventive (预防)")
    description: str
    owner: str
    due_date: date
    status: ActionStatus = ActionStatus.OPEN
    note: str | None = None
    verified: bool | None = None  # None: not verified yet; False: not effective
    verification_note: str | None = None
    created_at: datetime
    updated_at: datetime


class RegulatorReply(BaseModel):
    """The reply sent back to the regulator (12315 / 市场监管) for a forwarded case."""

    model_config = _RECORD

    replied_at: datetime
    content: str
    outcome: str | None = None  # e.g. 调解成功 / 调解不成功
    recorded_at: datetime


# --- the sign-off chain (审核) and the satisfaction follow-up (回访) ----------------------------


class SignOff(BaseModel):
    """审核 (seed 002 §5.1.1.1–3): who reviewed the handled case, in which role, and when."""

    model_config = _RECORD

    reviewer_id: str
    role: Role
    at: datetime
    comment: str | None = None


class FollowUpAttempt(BaseModel):
    """One logged attempt to reach the customer for the 回访 that did not reach them."""

    model_config = _RECORD

    attempted_at: datetime
    by: str  # the staff member's user id
    method: str
    note: str | None = None
    working_day: date | None = Field(
        default=None, description="The Asia/Shanghai working day it counts for (None: not one)"
    )


class FollowUp(BaseModel):
    """The 回访 of the current result: the attempts that failed, and whether the desk recorded
    the customer as unreachable (its own outcome, counted apart from ratings)."""

    model_config = _RECORD

    attempts: list[FollowUpAttempt] = []
    unreachable_at: datetime | None = None
    unreachable_by: str | None = None

    def working_days(self) -> int:
        """The distinct working days the attempts were made on (seed 002 §5.3.1.6: 回访)."""
        return len({a.working_day for a in self.attempts if a.working_day is not None})
