"""The monthly assessment statement (月度考核表, seed 002 §5.4) as a report: its JSON model and
its `Document` — per handler (each rule's entries and amount) and per department, with a total
row — so the CSV, the Excel workbook and the page are made by the reports' own writers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from shared.domain.assessment import RULE_LABELS, AssessmentRule
from shared.domain.reference import SHANGHAI
from shared.reports.document import Column, Document, Sheet

STATEMENT_TITLE = "月度考核表"
NO_DEPARTMENT = "（无部门）"


class RuleTotal(BaseModel):
    rule: AssessmentRule
    rule_label: str
    entries: int
    amount: Decimal


class HandlerStatement(BaseModel):
    handler_id: uuid.UUID
    handler: str
    department: str | None
    entries: int
    amount: Decimal = Field(description="元, voided entries left out")
    by_rule: list[RuleTotal]


class DepartmentStatement(BaseModel):
    department: str | None
    handlers: int
    entries: int
    amount: Decimal


class Statement(BaseModel):
    """The monthly assessment statement (月度考核表): per handler and per department."""

    month: str
    department: str | None = Field(description="The scope; null: every department")
    handler_id: uuid.UUID | None = Field(
        default=None, description="The scope: one handler's own entries (handlers and agents)"
    )
    generated_at: datetime
    handlers: list[HandlerStatement]
    departments: list[DepartmentStatement]
    entries: int
    amount: Decimal


def _scope(statement: Statement) -> str:
    if statement.handler_id is not None:
        names = {h.handler for h in statement.handlers}
        return f"处理人：{names.pop()}" if len(names) == 1 else "本人"
    return f"部门：{statement.department}" if statement.department else "全公司"


def statement_document(statement: Statement) -> Document:
    """The statement as two sheets: 处理人汇总 (a count and an amount column per rule) and
    部门汇总, each closed by a 合计 row."""
    year, month = statement.month.split("-")
    generated = statement.generated_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    doc = Document(
        title=STATEMENT_TITLE,
        subtitle=f"{year}年{int(month)}月 · {_scope(statement)} · 生成于 {generated}",
        file_stem=f"{STATEMENT_TITLE}_{statement.month}",
    )
    rules = list(AssessmentRule)
    per_rule = [
        (Column(f"{RULE_LABELS[r]}（条）", "int"), Column(f"{RULE_LABELS[r]}（元）", "money"))
        for r in rules
    ]
    rows: list[list[Any]] = []
    for line in statement.handlers:
        found = {t.rule: t for t in line.by_rule}
        cells: list[Any] = []
        for rule in rules:
            total = found.get(rule)
            cells += [total.entries, total.amount] if total else [0, Decimal(0)]
        rows.append(
            [line.handler, line.department or NO_DEPARTMENT, *cells, line.entries, line.amount]
        )
    sums: list[Any] = []
    for rule in rules:
        totals = [t for h in statement.handlers for t in h.by_rule if t.rule is rule]
        sums += [sum(t.entries for t in totals), sum((t.amount for t in totals), Decimal(0))]
    rows.append(["合计", None, *sums, statement.entries, statement.amount])
    doc.sheets.append(
        Sheet(
            "处理人汇总",
            (
                Column("处理人"),
                Column("部门"),
                *(c for pair in per_rule for c in pair),
                Column("合计（条）", "int"),
                Column("合计（元）", "money"),
            ),
            rows,
        )
    )
    doc.sheets.append(
        Sheet(
            "部门汇总",
            (
                Column("部门"),
                Column("处理人数", "int"),
                Column("条数", "int"),
                Column("金额（元）", "money"),
            ),
            [
                [d.department or NO_DEPARTMENT, d.handlers, d.entries, d.amount]
                for d in statement.departments
            ]
            + [
                [
                    "合计",
                    len({h.handler_id for h in statement.handlers}),
                    statement.entries,
                    statement.amount,
                ]
            ],
        )
    )
    return doc
