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
    def counted(cls, count: int, first: list[str]) -> References:
        """`count` in all, of which the first ones (at most MAX_REFERENCES) are `first`."""
        return cls(count=count, references=first, truncated=count > len(first))

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


class GroupComplaints(References):
    """集体投诉 received in the period (issue 11 §5): complaints linked to a group found at
    intake (several customers about one product model or batch within the window), and those
    registered for enough customers to be a group on their own (`customer_count`)."""

    groups: int = Field(description="Distinct groups among them (a group found at intake once)")
    customers: int = Field(description="Customers they speak for (each one's customer_count)")
    previous: int = Field(description="The previous period's group complaints")
    change: float | None = Field(description="(count − previous) / previous; null from 0")


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
        "`unreachable` (回访无法联系, after the attempts) and `unrated` (neither)"
    )
    repeat_complaints: int = Field(description="Received complaints that repeat an earlier one")
    group_complaints: GroupComplaints = Field(description="Received group complaints (集体投诉)")
    refunds_paid: Decimal = Field(description="元, implemented solutions resolved in the period")
    compensation_paid: Decimal
    level3: References = Field(description="Received level-3 complaints (三级投诉)")
    management_review: References = Field(description="Received, flagged for 总经理例会")
    trend: list[TrendPoint] = Field(description="Received per period, oldest first")


class ParetoRow(BaseModel):
    cause: str = Field(description="The root cause as recorded (根本原因)")
    count: int
    share: float = Field(description="0–1")
    cumulative_share: float = Field(description="0–1; the causes up to ~80 % are the main ones")
    main: bool = Field(description="Among the main causes to control first (cumulative ≤ 80 %)")


class ResponsibilityRow(BaseModel):
    department: str = Field(description="The department at fault (or responsible)")
    counts: list[Count] = Field(description="Per responsibility (责任判定)")
    total: int


class CategoryCause(BaseModel):
    category: str
    category_label: str
    cause: str
    count: int


class CorrectiveActions(BaseModel):
    """纠正预防措施 of the period's complaints, as they stand when the report is made."""

    total: int
    open: int = Field(description="Not done yet")
    overdue: int = Field(description="Not done and past their due date")
    done_unverified: int
    verified_effective: int
    not_effective: int


class CauseReport(BaseModel):
    """质量分析报告 / 责任分析报告 (seed 004 §7): the causes to control first (Pareto),
    responsibility per department, and the corrective actions."""

    kind: ReportKind
    title: str
    period: str
    period_start: date
    period_end: date
    department: str | None
    generated_at: datetime
    received: int
    analysed: int = Field(description="Complaints with a root cause recorded")
    pareto: list[ParetoRow]
    cause_class: list[Count] = Field(description="质量类 / 非质量类 / 其他 / 未分类")
    responsibility_by_department: list[ResponsibilityRow]
    causes_by_category: list[CategoryCause]
    corrective_actions: CorrectiveActions


class WishRow(BaseModel):
    category: str
    category_label: str
    resolution: str = Field(description="refund, replacement, repair, compensation …")
    resolution_label: str
    asked: int = Field(description="Complaints that asked for it (客户期望)")
    given: int = Field(description="Complaints whose solution included it")
    asked_and_given: int


class OutcomeSatisfaction(BaseModel):
    outcome: str = Field(description="as_asked, partly, otherwise, no_solution")
    label: str
    complaints: int
    satisfaction: list[Count] = Field(description="1–5 and unrated")
    average: float | None = Field(description="Mean score of the rated (1 best, 5 worst)")


class RepeatCustomer(BaseModel):
    complaints: int
    references: list[str]


class ExpectationReport(BaseModel):
    """客户期望分析报告 (seed 003 §5.7): what customers asked for against what they were given,
    by category; satisfaction by outcome; customers who complained more than once."""

    kind: ReportKind
    title: str
    period: str
    period_start: date
    period_end: date
    department: str | None
    generated_at: datetime
    received: int
    wishes: list[WishRow]
    outcomes: list[OutcomeSatisfaction]
    repeat_customers: list[RepeatCustomer] = Field(
        description="Customers with two or more complaints received in the period (受理号 only)"
    )
