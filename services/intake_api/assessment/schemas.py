"""The assessment ledger's request and answer bodies."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.paging import Page
from shared.domain.assessment import RULE_LABELS, AssessmentRule
from shared.domain.values import Money

# A month as YYYY-MM (Asia/Shanghai calendar month).
Month = Annotated[str, StringConstraints(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ReferenceText = Annotated[str, StringConstraints(pattern=r"^KS-[0-9]{8}-[0-9]{6}$")]


def month_start(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)


class EntryIn(BaseModel):
    """A procedure violation (§5.4.1.2: 未按受理权责及业务指引操作) entered by a manager."""

    model_config = ConfigDict(extra="forbid")

    handler_id: uuid.UUID
    reference: ReferenceText | None = Field(default=None, description="The complaint's 受理号")
    amount: Money | None = Field(
        default=None, description="元; within the rules' range (default 30–100), default the lower"
    )
    reason: Reason


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class EntryOut(BaseModel):
    id: int
    handler_id: uuid.UUID
    handler: str = Field(description="The handler's display name")
    department: str | None
    complaint_id: uuid.UUID | None
    reference: str | None = Field(description="受理号")
    rule: AssessmentRule
    rule_label: str
    amount: Decimal = Field(description="元")
    reason: str | None
    occurred_at: LocalTime
    source: str = Field(description="automatic or manual")
    created_by: str | None
    created_at: LocalTime
    voided_at: LocalTime | None
    voided_by: str | None
    void_reason: str | None

    @classmethod
    def of(cls, row: Any) -> EntryOut:
        data = dict(row)
        data["rule_label"] = RULE_LABELS[AssessmentRule(data["rule"])]
        return cls.model_validate(data)


class EntryPage(Page[EntryOut]):
    pass
