"""The printed handling form 《投诉处理单》 (seed 002) of one complaint, as an A4 PDF.

Sections follow the procedure: registration (受理登记), the timeline of every event, findings
and responsibility (调查结果与责任判定), the solution and its approvals (处理方案与审批), the
customer's agreement, the result, the satisfaction visit (回访), corrective and preventive
actions (纠正预防措施), the evidence files and the sign-offs (审核 / 存档). Events are shown
generically by type, so new kinds (reviews, archiving) appear without a change here.

Personal data is masked as the reader's access says (`contact_visible`), the same rule as the
API's answers (shared.domain.access.mask_customer). Times are Asia/Shanghai.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shared.documents import labels as L
from shared.documents.fonts import PrintCanvas, register
from shared.domain.access import mask_customer

# Payload fields a timeline line never shows: the registration's copy of the intake (personal
# data, shown masked in the registration section instead) and internal identifiers.
_HIDDEN = frozenset(
    {
        "intake",
        "storage_key",
        "deadline_id",
        "attachment_id",
        "action_id",
        "survey_nonce",
        "management_review",
        "level_reasons",
        "notify",
    }
)
_VALUES: Mapping[str, Mapping[Any, str]] = {
    "responsibility": L.RESPONSIBILITY,
    "type": L.WISHES,
    "score": L.SATISFACTION,
    "kind": {"corrective": "纠正", "preventive": "预防"},
    "source": {"survey": "客户评价", "return_call": "电话回访"},
}
_MAX_DETAIL = 240


@dataclass(frozen=True)
class FormData:
    """What the form shows: the complaint's projection row, its events (oldest first, as
    `{type, seq, actor: {kind, id}, occurred_at, payload}`), its evidence files, and the
    display names of the staff who appear in it (by user id)."""

    complaint: Mapping[str, Any]
    events: Sequence[Mapping[str, Any]]
    evidence: Sequence[Mapping[str, Any]] = ()
    names: Mapping[str, str] = field(default_factory=dict)
    departments: Mapping[str, str] = field(default_factory=dict)
    contact_visible: bool = False
    company_name: str = "本公司"
    printed_at: datetime | None = None


class _Styles:
    def __init__(self) -> None:
        font = register()
        self.title = ParagraphStyle(
            "title", fontName=font, fontSize=17, leading=22, alignment=TA_CENTER
        )
        self.sub = ParagraphStyle(
            "sub", fontName=font, fontSize=8.5, leading=11, alignment=TA_CENTER
        )
        self.h = ParagraphStyle(
            "h", fontName=font, fontSize=11, leading=15, spaceBefore=7, spaceAfter=3
        )
        self.cell = ParagraphStyle(
            "cell", fontName=font, fontSize=8.5, leading=11.5, wordWrap="CJK"
        )
        self.key = ParagraphStyle("key", parent=self.cell, textColor=colors.black)


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text if text is not None else "")).replace("\n", "<br/>"), style)


def _grid(rows: list[list[Any]], widths: list[float], *, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)))
    else:
        for col in range(0, len(widths), 2):
            style.append(("BACKGROUND", (col, 0), (col, -1), colors.Color(0.94, 0.94, 0.94)))
    table.setStyle(TableStyle(style))
    return table


WIDTH = A4[0] - 30 * mm


def _pairs(pairs: list[tuple[str, Any]], s: _Styles, *, per_row: int = 2) -> Table:
    """Label/value cells, `per_row` pairs a row; a long value takes a row of its own."""
    key_w = 24 * mm
    value_w = (WIDTH - per_row * key_w) / per_row
    rows: list[list[Any]] = []
    current: list[Any] = []
    spans: list[int] = []
    for key, value in pairs:
        text = "" if value is None else str(value)
        if len(text) > 40:
            if current:
                rows.append(current + [""] * (2 * per_row - len(current)))
                current = []
            spans.append(len(rows))
            rows.append([_p(key, s.key), _p(text, s.cell)] + [""] * (2 * per_row - 2))
            continue
        current += [_p(key, s.key), _p(text, s.cell)]
        if len(current) == 2 * per_row:
            rows.append(current)
            current = []
    if current:
        rows.append(current + [""] * (2 * per_row - len(current)))
    table = _grid(rows, [key_w, value_w] * per_row)
    table.setStyle(TableStyle([("SPAN", (1, r), (-1, r)) for r in spans]))
    return table


def _name(data: FormData, actor: Mapping[str, Any] | None) -> str:
    if not actor:
        return ""
    kind, ident = actor.get("kind"), actor.get("id")
    if ident and str(ident) in data.names:
        return data.names[str(ident)]
    return L.label(L.ACTOR_KINDS, kind) if kind else ""


def _user(data: FormData, user_id: Any) -> str:
    return data.names.get(str(user_id), str(user_id)) if user_id else ""


def _flat(value: Any, data: FormData | None = None, key: str = "") -> str:
    if isinstance(value, Mapping):
        return "；".join(
            f"{L.FIELDS.get(k, k)}: {_flat(v, data, k)}"
            for k, v in value.items()
            if k not in _HIDDEN and v not in (None, "", [])
        )
    if isinstance(value, list):
        return "、".join(_flat(v, data, key) for v in value)
    if key in _VALUES:
        return L.label(dict(_VALUES[key]), value)
    if data is not None and key in ("department", "fault_department"):
        return data.departments.get(str(value), str(value))
    if data is not None and key.endswith("_id"):
        return data.names.get(str(value), str(value))
    if key == "sha256":
        return str(value)[:16] + "…"
    if key in ("due_at", "occurred_at", "at"):
        return L.local_time(value)
    return str(value)


def _detail(event: Mapping[str, Any], data: FormData) -> str:
    payload = dict(event.get("payload") or {})
    if event.get("type") == "complaint.registered":
        payload = {k: v for k, v in payload.items() if k in ("reference", "level", "department")}
    text = _flat(payload, data)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _registration(data: FormData, s: _Styles) -> list[Any]:
    c = data.complaint
    customer = mask_customer(dict(c.get("customer") or {}), contact_visible=data.contact_visible)
    product = c.get("product") or {}
    wish = c.get("desired_resolution") or {}
    dept = c.get("department")
    pairs: list[tuple[str, Any]] = [
        ("受理号", c.get("reference")),
        ("登记时间", L.local_time(c.get("created_at"))),
        ("受理渠道", L.label(L.CHANNELS, c.get("channel"))),
        ("类型", L.label(L.KINDS, c.get("kind"))),
        ("投诉类别", L.label(L.CATEGORIES, c.get("category"))),
        ("投诉级别", L.level_label(int(c.get("level") or 1))),
        ("当前状态", L.status_label(str(c.get("status")))),
        ("责任部门", data.departments.get(dept, dept) if dept else ""),
        ("处理人", _user(data, c.get("assignee_id"))),
        ("登记人", _name(data, {"kind": c.get("created_by_kind"), "id": c.get("created_by_id")})),
        ("客户姓名", customer.get("name")),
        ("客户类型", L.label(L.CUSTOMER_TYPES, customer.get("type"))),
        ("联系电话", customer.get("phone")),
        ("电子邮箱", customer.get("email")),
        ("地址", customer.get("address")),
        ("产品型号", product.get("model")),
        ("序列号", product.get("serial_number")),
        ("订单号", product.get("order_number")),
        ("购买日期", product.get("purchase_date")),
        ("数量", product.get("quantity")),
        ("故障现象", product.get("symptom")),
        ("投诉内容", c.get("content")),
        (
            "客户诉求",
            "、".join(L.label(L.WISHES, t) for t in wish.get("types", []))
            + (f"（{wish['text']}）" if wish.get("text") else ""),
        ),
    ]
    return [_p("一、受理登记", s.h), _pairs([(k, v) for k, v in pairs], s)]


def _timeline(data: FormData, s: _Styles) -> list[Any]:
    rows: list[list[Any]] = [[_p(h, s.key) for h in ("序号", "时间", "事项", "经办", "说明")]]
    for event in data.events:
        rows.append(
            [
                _p(event.get("seq"), s.cell),
                _p(L.local_time(event.get("occurred_at")), s.cell),
                _p(L.label(L.EVENTS, event.get("type")), s.cell),
                _p(_name(data, event.get("actor")), s.cell),
                _p(_detail(event, data), s.cell),
            ]
        )
    widths = [10 * mm, 27 * mm, 30 * mm, 25 * mm, WIDTH - 92 * mm]
    return [_p("二、处理经过", s.h), _grid(rows, widths, header=True)]


def _findings(data: FormData, s: _Styles) -> list[Any]:
    c = data.complaint
    inv = c.get("investigation") or {}
    dept = inv.get("fault_department")
    pairs = [
        ("调查结果", inv.get("findings")),
        ("责任判定", L.label(L.RESPONSIBILITY, inv.get("responsibility"))),
        ("责任部门", data.departments.get(dept, dept) if dept else ""),
        ("记录时间", L.local_time(inv.get("recorded_at"))),
        ("原因分析", c.get("root_cause")),
    ]
    return [_p("三、调查结果与责任判定", s.h), _pairs(pairs, s)]


def _solution(data: FormData, s: _Styles) -> list[Any]:
    sol = data.complaint.get("solution") or {}
    remedies = "；".join(
        L.label(L.WISHES, r.get("type"))
        + (f" ¥{r['amount']}" if r.get("amount") else "")
        + (f"（{r['description']}）" if r.get("description") else "")
        for r in sol.get("remedies", [])
    )
    approvals = "；".join(
        f"{L.label(L.ROLES, a.get('role'))} {_user(data, a.get('user_id'))} "
        f"{L.local_time(a.get('at'))}" + (f"（{a['comment']}）" if a.get("comment") else "")
        for a in sol.get("approvals", [])
    )
    response = {"agreed": "同意", "rejected": "不同意"}.get(sol.get("customer_response") or "", "")
    pairs = [
        ("处理方案", sol.get("description")),
        ("方案内容", remedies),
        ("提出人", _user(data, sol.get("proposed_by"))),
        ("提出时间", L.local_time(sol.get("proposed_at"))),
        ("需审批", L.label(L.ROLES, sol.get("required_approval")) or "无需审批"),
        ("审批", approvals or ("—" if sol else "")),
    ]
    agreement = [
        ("客户意见", response),
        ("原因", sol.get("customer_response_reason")),
        ("实施时间", L.local_time(sol.get("implemented_at"))),
        ("实施说明", sol.get("implementation_note")),
    ]
    return [
        _p("四、处理方案与审批", s.h),
        _pairs(pairs, s),
        _p("五、客户意见", s.h),
        _pairs(agreement, s),
    ]


def _result(data: FormData, s: _Styles) -> list[Any]:
    c = data.complaint
    score = c.get("satisfaction")
    source = {"survey": "客户评价", "return_call": "电话回访", "unreachable": "无法联系"}.get(
        c.get("satisfaction_source") or "", c.get("satisfaction_source") or ""
    )
    reply = c.get("regulator_reply") or {}
    pairs = [
        ("处理结果", L.status_label(str(c.get("status")))),
        ("解决时间", L.local_time(c.get("resolved_at"))),
        ("结案时间", L.local_time(c.get("closed_at"))),
        ("联系次数", c.get("contact_count")),
        ("满意度", f"{score} {L.label(L.SATISFACTION, score)}" if score else ""),
        ("回访方式", source),
        ("回复监管部门", _flat(reply, data) if reply else ""),
    ]
    return [_p("六、处理结果与满意度回访", s.h), _pairs(pairs, s)]


def _actions(data: FormData, s: _Styles) -> list[Any]:
    actions = data.complaint.get("corrective_actions") or []
    rows: list[list[Any]] = [[_p(h, s.key) for h in ("类别", "措施", "负责人", "完成期限", "状态")]]
    kinds = {"corrective": "纠正", "preventive": "预防"}
    states = {"open": "进行中", "done": "已完成", "verified": "已验证有效", "ineffective": "无效"}
    for a in actions:
        rows.append(
            [
                _p(kinds.get(a.get("kind"), a.get("kind")), s.cell),
                _p(a.get("description"), s.cell),
                _p(a.get("owner"), s.cell),
                _p(a.get("due_date"), s.cell),
                _p(states.get(a.get("status"), a.get("status")), s.cell),
            ]
        )
    if not actions:
        rows.append([_p("—", s.cell), "", "", "", ""])
    widths = [15 * mm, WIDTH - 85 * mm, 25 * mm, 22 * mm, 23 * mm]
    return [_p("七、纠正预防措施", s.h), _grid(rows, widths, header=True)]


def _evidence(data: FormData, s: _Styles) -> list[Any]:
    rows: list[list[Any]] = [[_p(h, s.key) for h in ("文件名", "类型", "大小", "SHA-256")]]
    for f in data.evidence:
        rows.append(
            [
                _p(f.get("file_name"), s.cell),
                _p(f.get("media_type"), s.cell),
                _p(f"{int(f.get('size_bytes') or 0):,} B", s.cell),
                _p(str(f.get("sha256", ""))[:16] + "…", s.cell),
            ]
        )
    if not data.evidence:
        rows.append([_p("—", s.cell), "", "", ""])
    widths = [WIDTH - 105 * mm, 40 * mm, 25 * mm, 40 * mm]
    return [_p("八、证据附件", s.h), _grid(rows, widths, header=True)]


# Who signs what: the last event of these types gives the name and time; the rest is a line
# to sign by hand.
_SIGN_OFFS = (
    ("处理人", ("complaint.resolved", "complaint.solution_implemented")),
    ("审批人", ("complaint.solution_approved",)),
    ("审核人", ("complaint.reviewed",)),
    ("存档人", ("complaint.closed",)),  # the clerk archives (结案存档)
)


def _sign_offs(data: FormData, s: _Styles) -> list[Any]:
    rows: list[list[Any]] = [[_p(h, s.key) for h in ("签核", "姓名", "时间", "签字")]]
    for title, types in _SIGN_OFFS:
        last = next((e for e in reversed(data.events) if e.get("type") in types), None)
        rows.append(
            [
                _p(title, s.key),
                _p(_name(data, last.get("actor")) if last else "", s.cell),
                _p(L.local_time(last.get("occurred_at")) if last else "", s.cell),
                "",
            ]
        )
    widths = [25 * mm, 45 * mm, 40 * mm, WIDTH - 110 * mm]
    table = _grid(rows, widths, header=True)
    table.setStyle(TableStyle([("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white])]))
    return [_p("九、审核与存档", s.h), table]


def render_form(data: FormData) -> bytes:
    """The form as PDF bytes (A4, the Chinese font embedded)."""
    s = _Styles()
    out = io.BytesIO()
    c = data.complaint
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"投诉处理单 {c.get('reference')}",
        author=data.company_name,
        creator="Kesu 客诉",
        invariant=True,  # no creation time or random id: the same case prints the same bytes
    )
    printed = L.local_time(data.printed_at) if data.printed_at else ""
    story: list[Any] = [
        _p(f"{data.company_name} 投诉处理单", s.title),
        _p(f"受理号 {c.get('reference')}　打印时间 {printed}（北京时间）", s.sub),
        Spacer(1, 4 * mm),
    ]
    for part in (
        _registration,
        _timeline,
        _findings,
        _solution,
        _result,
        _actions,
        _evidence,
        _sign_offs,
    ):
        story += part(data, s)

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(register(), 7.5)
        canvas.drawRightString(
            A4[0] - 15 * mm, 8 * mm, f"{c.get('reference')} · 第 {document.page} 页"
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer, canvasmaker=PrintCanvas)
    return out.getvalue()
