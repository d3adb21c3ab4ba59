"""The reports as data (the API's JSON schemas): what every format — JSON, CSV, Excel, the chart
page — is made from. Aggregates and reference numbers (受理号) only: no field here can hold a
customer's name, phone, e-mail or address."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from shared.domain.reports import ReportKind

# Reference lists longer than this are cut (the count stays exact; `truncated` says so).
MAX_REFERENCES = 500


class Count(BaseModel):
    key: str = Field(description="The stored value (e.g. `product_quality`, `3`)")
    label: str = Field(description="Its Chinese name (e.g. 产品质量, 三级)")
    count: int


class References(BaseModel):
    count: int
    references: list[str] = Field(description="受理号, sorted")
    truncated: bool = False

    @classmethod
    def of(cls, references: list[str]) -> References:
        return cls(
            count=len(references),
            references=references[:MAX_REFERENCES],
            truncated=len(references) > MAX_REFERENCES,
        )


class Headline(BaseModel):
    """One headline figure with the previous period's value and the change (环比)."""

    key: str
    label: str
    value: float
    previous: float
    change: float | None = Field(description="(value − previous) / previous; null from 0")
    unit: str = Field(description="count, rate (0–1), days or yuan")


class StageRate(BaseModel):
    stage: str
    label: str
    met: int
    breached: int
    on_time_rate: float | None = Field(description="met / (met + breached), 0–1")


class HandlerRate(BaseModel):
    handler_id: uuid.UUID | None
    handler: str = Field(description="The staff member's display name (未分配: no one)")
    met: int
    breached: int
    on_time_rate: float | None


class HandlingTime(BaseModel):
    """Registration to resolution of the complaints resolved in the period, in working days of
    the business calendar, the time awaiting the customer excluded."""

    resolved: int
    median_working_days: float | None
    p90_working_days: float | None


class TrendPoint(BaseModel):
    period: str
    start: date
    received: int


class PeriodReport(BaseModel):
    """投诉周报 (weekly) or 客户月投诉统计表 (monthly)."""

    kind: ReportKind
    title: str
    period: str = Field(description="The period's Chinese label")
    period_start: date = Field(description="First day (Asia/Shanghai)")
    period_end: date = Field(description="Last day, inclusive (Asia/Shanghai)")
    department: str | None = Field(description="The department scope; null: all")
    generated_at: datetime
    headline: list[Headline]
    received: int
    received_by: dict[str, list[Count]] = Field(
        description="kind, category, subcategory, channel, level, department, product_model, "
        "customer_type: counts of the complaints received in the period"
    )
    valid: int
    invalid: int
    responsibility: list[Count] = Field(description="责任判定 of the received complaints")
    closed: References = Field(description="Closed (结案) in the period")
    withdrawn: References = Field(description="Withdrawn (撤诉) in the period")
    still_open: References = Field(
        description="Received before the period ended and not closed, invalid or withdrawn "
        "when the report was produced"
    )
    overdue: References = Field(description="Of those still open, with a deadline breached")
    on_time_by_stage: list[StageRate] = Field(description="Deadlines settled in the period")
    on_time_by_handler: list[HandlerRate]
    handling_time: HandlingTime
    satisfaction: list[Count] = Field(
        description="Scores 1 (非常满意) to 5 (很不满意) of the complaints closed in the period, "
        "and `unrated` (no answer: not reached or not asked)"
    )
    repeat_complaints: int = Field(description="Received complaints that repeat an earlier one")
    refunds_paid: Decimal = Field(description="元, implemented solutions resolved in the period")
    compensation_paid: Decimal
    level3: References = Field(description="Received level-3 complaints (三级投诉)")
    management_review: References = Field(description="Received, flagged for 总经理例会")
    trend: list[TrendPoint] = Field(description="Received per period, oldest first")
