"""A report laid out for people: sheets of rows with Chinese headers, and the charts drawn from
them. The CSV file, the Excel workbook and the chart page are each made from one `Document`, so
they cannot disagree with each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from shared.domain.reference import SHANGHAI
from shared.domain.reports import REPORT_TITLES, ReportKind
from shared.reports.labels import DIMENSIONS, label
from shared.reports.model import CauseReport, Count, ExpectationReport, PeriodReport

# `by_row`: the row's own format (`Sheet.row_formats`), for a column mixing counts and rates.
CellFormat = Literal["text", "int", "pct", "money", "days", "by_row"]
ChartKind = Literal["line", "bar", "pie", "pareto"]


@dataclass(frozen=True)
class Column:
    header: str
    format: CellFormat = "text"


@dataclass(frozen=True)
class Chart:
    """A chart of one sheet: categories from column `categories`, one series per column in
    `values` (a Pareto chart: the counts as bars, the cumulative share as a line)."""

    kind: ChartKind
    title: str
    categories: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class Sheet:
    name: str  # an Excel sheet name: at most 31 characters, none of []:*?/\
    columns: tuple[Column, ...]
    rows: list[list[Any]]
    charts: tuple[Chart, ...] = ()
    row_formats: tuple[CellFormat, ...] = ()

    def format_of(self, row: int, column: int) -> CellFormat:
        declared = self.columns[column].format
        if declared == "by_row":
            return self.row_formats[row] if row < len(self.row_formats) else "days"
        return declared


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    file_stem: str  # the download's Chinese file name, without extension
    sheets: list[Sheet] = field(default_factory=list)


def _scope(department: str | None) -> str:
    return f"部门：{department}" if department else "全公司"


def period_document(report: PeriodReport) -> Document:
    """The weekly or monthly report as sheets and charts."""
    doc = Document(
        title=report.title,
        subtitle=f"{report.period}（{report.period_start} 至 {report.period_end}）"
        f" · {_scope(report.department)} · 生成于 {_local(report.generated_at)}",
        file_stem=f"{REPORT_TITLES[ReportKind(report.kind)]}_{report.period_start.isoformat()}",
    )
    # The headline figures, the group complaints (集体投诉) next to the repeats, then the rest.
    groups = report.group_complaints
    summary: list[list[Any]] = []
    formats: list[CellFormat] = []
    for h in report.headline:
        summary.append([h.label, h.value, h.previous, h.change])
        formats.append(_UNIT_FORMATS[h.unit])
        if h.key == "repeat":
            summary += [
                ["集体投诉", groups.count, groups.previous, groups.change],
                ["集体投诉组数", groups.groups, None, None],
                ["集体投诉涉及客户数", groups.customers, None, None],
            ]
            formats += ["int", "int", "int"]
    summary += [
        ["有效率", _ratio(report.valid, report.received), None, None],
        ["处理完毕数", report.handling_time.resolved, None, None],
        ["处理时长P90（工作日）", report.handling_time.p90_working_days, None, None],
        ["未结案数", report.still_open.count, None, None],
        ["超期未结数", report.overdue.count, None, None],
    ]
    formats += ["pct", "int", "days", "int", "int"]
    doc.sheets.append(
        Sheet(
            "概要",
            (
                Column("指标"),
                Column("本期", "by_row"),
                Column("上期", "by_row"),
                Column("环比", "pct"),
            ),
            summary,
            row_formats=tuple(formats),
        )
    )
    doc.sheets.append(
        Sheet(
            "趋势",
            (Column("期间"), Column("受理数", "int")),
            [[t.period, t.received] for t in report.trend],
            (Chart("line", "受理数趋势", 0, (1,)),),
        )
    )
    categories = report.received_by.get("category", [])
    doc.sheets.append(
        Sheet(
            "投诉分类",
            (Column("投诉分类"), Column("数量", "int"), Column("占比", "pct")),
            [[c.label, c.count, _ratio(c.count, report.received)] for c in categories],
            (Chart("bar", "按投诉分类", 0, (1,)),),
        )
    )
    doc.sheets.append(
        Sheet(
            "受理分布",
            (Column("维度"), Column("项目"), Column("数量", "int")),
            [row for d, counts in report.received_by.items() for row in _top(d, counts)]
            + [["责任判定", c.label, c.count] for c in report.responsibility],
        )
    )
    doc.sheets.append(
        Sheet(
            "时限达成",
            (
                Column("时限阶段"),
                Column("按时", "int"),
                Column("超时", "int"),
                Column("达成率", "pct"),
            ),
            [[s.label, s.met, s.breached, s.on_time_rate] for s in report.on_time_by_stage],
            (Chart("bar", "各阶段时限达成", 0, (1, 2)),),
        )
    )
    doc.sheets.append(
        Sheet(
            "处理人",
            (
                Column("处理人"),
                Column("按时", "int"),
                Column("超时", "int"),
                Column("达成率", "pct"),
            ),
            [[h.handler, h.met, h.breached, h.on_time_rate] for h in report.on_time_by_handler],
        )
    )
    doc.sheets.append(
        Sheet(
            "满意度",
            (Column("评价"), Column("数量", "int")),
            [[c.label, c.count] for c in report.satisfaction],
            (Chart("pie", "回访满意度", 0, (1,)),),
        )
    )
    lists = [
        ("结案", report.closed),
        ("撤诉", report.withdrawn),
        ("未结案", report.still_open),
        ("超期未结", report.overdue),
        ("三级投诉", report.level3),
        ("集体投诉", report.group_complaints),
        ("提交总经理例会", report.management_review),
    ]
    doc.sheets.append(
        Sheet(
            "受理号清单",
            (Column("类别"), Column("受理号")),
            [[name, ref] for name, refs in lists for ref in refs.references],
        )
    )
    return doc


# A dimension with many values (product models, free-text sub-categories) shows its largest
# ones and the rest summed: the JSON answer keeps every value.
TOP_VALUES = 30


def _top(dimension: str, counts: list[Count]) -> list[list[Any]]:
    rows: list[list[Any]] = [[DIMENSIONS[dimension], c.label, c.count] for c in counts[:TOP_VALUES]]
    rest = counts[TOP_VALUES:]
    if rest:
        rows.append([DIMENSIONS[dimension], f"其他（{len(rest)}项）", sum(c.count for c in rest)])
    return rows


_UNIT_FORMATS: dict[str, CellFormat] = {
    "count": "int",
    "rate": "pct",
    "days": "days",
    "yuan": "money",
}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def plain(value: Any) -> Any:
    """A cell's value as JSON, CSV and Excel take it (Decimal amounts as numbers)."""
    if isinstance(value, Decimal):
        return float(value)
    return value


def _header(report: CauseReport | ExpectationReport) -> tuple[str, str]:
    subtitle = (
        f"{report.period}（{report.period_start} 至 {report.period_end}）"
        f" · {_scope(report.department)} · 生成于 {_local(report.generated_at)}"
    )
    return subtitle, f"{report.title}_{report.period_start.isoformat()}"


_RESPONSIBILITIES = ("company", "customer", "shared", "third_party", "undetermined")


def cause_document(report: CauseReport) -> Document:
    """质量分析报告 / 责任分析报告 as sheets and charts (the Pareto chart first)."""
    subtitle, stem = _header(report)
    doc = Document(title=report.title, subtitle=subtitle, file_stem=stem)
    actions = report.corrective_actions
    doc.sheets.append(
        Sheet(
            "概要",
            (Column("指标"), Column("数值", "int")),
            [
                ["受理数", report.received],
                ["已分析根本原因", report.analysed],
                ["纠正预防措施", actions.total],
                ["未完成", actions.open],
                ["已超期", actions.overdue],
                ["已完成待验证", actions.done_unverified],
                ["验证有效", actions.verified_effective],
                ["验证无效", actions.not_effective],
            ],
        )
    )
    doc.sheets.append(
        Sheet(
            "帕累托分析",
            (
                Column("根本原因"),
                Column("数量", "int"),
                Column("占比", "pct"),
                Column("累计占比", "pct"),
                Column("主要原因"),
            ),
            [
                [p.cause, p.count, p.share, p.cumulative_share, "是" if p.main else "否"]
                for p in report.pareto
            ],
            (Chart("pareto", "根本原因帕累托图", 0, (1, 3)),),
        )
    )
    doc.sheets.append(
        Sheet(
            "原因分类",
            (Column("原因分类"), Column("数量", "int")),
            [[c.label, c.count] for c in report.cause_class],
            (Chart("bar", "质量类与非质量类", 0, (1,)),),
        )
    )
    doc.sheets.append(
        Sheet(
            "责任分析",
            (
                Column("部门"),
                *(Column(label("responsibility", r), "int") for r in _RESPONSIBILITIES),
                Column("合计", "int"),
            ),
            [
                [
                    row.department,
                    *({c.key: c.count for c in row.counts}.get(r, 0) for r in _RESPONSIBILITIES),
                    row.total,
                ]
                for row in report.responsibility_by_department
            ],
            (Chart("bar", "各部门责任判定", 0, (1, 2, 3, 4, 5)),),
        )
    )
    doc.sheets.append(
        Sheet(
            "分类原因",
            (Column("投诉分类"), Column("根本原因"), Column("数量", "int")),
            [[c.category_label, c.cause, c.count] for c in report.causes_by_category],
        )
    )
    return doc


def expectation_document(report: ExpectationReport) -> Document:
    """客户期望分析报告 as sheets and charts."""
    subtitle, stem = _header(report)
    doc = Document(title=report.title, subtitle=subtitle, file_stem=stem)
    doc.sheets.append(
        Sheet(
            "期望与方案",
            (
                Column("分类·方式"),
                Column("投诉分类"),
                Column("处理方式"),
                Column("客户期望", "int"),
                Column("实际给予", "int"),
                Column("期望且给予", "int"),
            ),
            [
                [
                    f"{w.category_label}·{w.resolution_label}",
                    w.category_label,
                    w.resolution_label,
                    w.asked,
                    w.given,
                    w.asked_and_given,
                ]
                for w in report.wishes
            ],
            (Chart("bar", "客户期望与实际处理", 0, (3, 4)),),
        )
    )
    scores = ("1", "2", "3", "4", "5", "unrated")
    doc.sheets.append(
        Sheet(
            "结果满意度",
            (
                Column("处理结果"),
                Column("件数", "int"),
                *(Column(label("satisfaction", s), "int") for s in scores),
                Column("平均分", "days"),
            ),
            [
                [
                    o.label,
                    o.complaints,
                    *({c.key: c.count for c in o.satisfaction}.get(s, 0) for s in scores),
                    o.average,
                ]
                for o in report.outcomes
            ],
            (Chart("pie", "处理结果分布", 0, (1,)),),
        )
    )
    doc.sheets.append(
        Sheet(
            "重复客户",
            (Column("客户"), Column("投诉件数", "int"), Column("受理号")),
            [
                [f"客户{i}", r.complaints, "、".join(r.references)]
                for i, r in enumerate(report.repeat_customers, 1)
            ],
        )
    )
    return doc
