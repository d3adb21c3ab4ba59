"""The 台帐 (complaint ledger, seeds 000 / 003: 客户投诉登记表): one line per complaint, as CSV
(UTF-8 with a BOM, so Excel opens the Chinese right) or Excel (xlsxwriter in constant-memory
mode: rows go to disk as they are written, memory stays flat whatever the period)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import xlsxwriter

from shared.documents import labels as L
from shared.domain.access import mask_customer
from shared.domain.enums import Status

BOM = "\ufeff".encode()
Row = Mapping[str, Any]


HEADERS = [
    "受理号",
    "登记时间",
    "受理渠道",
    "类型",
    "投诉类别",
    "级别",
    "状态",
    "客户姓名",
    "联系电话",
    "产品型号",
    "订单号",
    "投诉内容",
    "客户诉求",
    "责任部门",
    "责任判定",
    "处理方案",
    "满意度",
    "解决时间",
    "结案时间",
]
_STATUS = {s.value: L.status_label(s.value) for s in Status}


def ledger_line(r: Row, *, contact_visible: bool) -> list[Any]:
    """One ledger line of a row of `shared.db.complaints.ledger_query` (times already local
    text), contact data masked unless `contact_visible` (shared.domain.access.mask_customer)."""
    name, phone = r["customer_name"] or "", r["customer_phone"] or ""
    if not contact_visible and phone:
        phone = str(mask_customer({"phone": phone}, contact_visible=False)["phone"])
    wishes = r["wish_types"] or ()
    return [
        r["reference"],
        r["created_local"],
        L.CHANNELS.get(r["channel"], r["channel"]),
        L.KINDS.get(r["kind"], r["kind"]),
        L.CATEGORIES.get(r["category"], r["category"]),
        r["level"],
        _STATUS.get(r["status"], r["status"]),
        name,
        phone,
        r["product_model"] or "",
        r["order_number"] or "",
        r["content"],
        "、".join(L.WISHES.get(w, w) for w in wishes),
        r["department"] or "",
        L.RESPONSIBILITY.get(r["responsibility"], r["responsibility"] or ""),
        r["solution_text"] or "",
        L.SATISFACTION.get(r["satisfaction"], ""),
        r["resolved_local"] or "",
        r["closed_local"] or "",
    ]


def csv_chunk(lines: Iterable[list[Any]], *, header: bool = False) -> bytes:
    """CSV text of some lines (with the BOM and the header line first when `header`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(HEADERS)
    writer.writerows(lines)
    data = out.getvalue().encode("utf-8")
    return BOM + data if header else data


class XlsxLedger:
    """An Excel ledger written row by row to `path` (constant memory)."""

    def __init__(self, path: Path, *, title: str) -> None:
        self.book = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "strings_to_numbers": False}
        )
        self.sheet = self.book.add_worksheet("台帐")
        self.book.set_properties({"title": title, "author": "Kesu 客诉"})
        bold = self.book.add_format({"bold": True, "bg_color": "#E6E6E6", "border": 1})
        self.sheet.write_row(0, 0, HEADERS, bold)
        self.sheet.freeze_panes(1, 0)
        widths = [20, 17, 12, 6, 12, 5, 14, 10, 14, 12, 16, 50, 14, 12, 12, 30, 10, 17, 17]
        for col, width in enumerate(widths):
            self.sheet.set_column(col, col, width)
        self.next_row = 1

    def write(self, lines: Iterable[list[Any]]) -> None:
        for line in lines:
            self.sheet.write_row(self.next_row, 0, line)
            self.next_row += 1

    def close(self) -> None:
        self.book.close()
