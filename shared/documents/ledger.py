"""The 台帐 (complaint ledger, seeds 000 / 003: 客户投诉登记表): one line per complaint, as CSV
(UTF-8 with a BOM, so Excel opens the Chinese right) or Excel (xlsxwriter in constant-memory
mode: rows go to disk as they are written, memory stays flat whatever the period)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import xlsxwriter

from shared.documents import labels as L
from shared.domain.access import mask_customer

BOM = "\ufeff".encode()
Row = Mapping[str, Any]


def _wish(row: Row) -> str:
    wish = row.get("desired_resolution") or {}
    return "、".join(L.label(L.WISHES, t) for t in wish.get("types", []))


def _customer(field: str) -> Callable[[Row, bool], Any]:
    def get(row: Row, contact_visible: bool) -> Any:
        customer = mask_customer(dict(row.get("customer") or {}), contact_visible=contact_visible)
        return customer.get(field) or ""

    return get


def _product(field: str) -> Callable[[Row, bool], Any]:
    return lambda row, _: (row.get("product") or {}).get(field) or ""


# (header, value of a stored complaint row as the reader may see it)
COLUMNS: tuple[tuple[str, Callable[[Row, bool], Any]], ...] = (
    ("受理号", lambda r, _: r["reference"]),
    ("登记时间", lambda r, _: L.local_time(r["created_at"])),
    ("受理渠道", lambda r, _: L.label(L.CHANNELS, r["channel"])),
    ("类型", lambda r, _: L.label(L.KINDS, r["kind"])),
    ("投诉类别", lambda r, _: L.label(L.CATEGORIES, r["category"])),
    ("级别", lambda r, _: int(r["level"])),
    ("状态", lambda r, _: L.status_label(r["status"])),
    ("客户姓名", _customer("name")),
    ("联系电话", _customer("phone")),
    ("产品型号", _product("model")),
    ("订单号", _product("order_number")),
    ("投诉内容", lambda r, _: r["content"]),
    ("客户诉求", lambda r, _: _wish(r)),
    ("责任部门", lambda r, _: r.get("department") or ""),
    ("责任判定", lambda r, _: L.label(L.RESPONSIBILITY, r.get("responsibility"))),
    ("处理方案", lambda r, _: r.get("solution_text") or ""),
    ("满意度", lambda r, _: L.label(L.SATISFACTION, r.get("satisfaction"))),
    ("解决时间", lambda r, _: L.local_time(r.get("resolved_at"))),
    ("结案时间", lambda r, _: L.local_time(r.get("closed_at"))),
)
HEADERS = [name for name, _ in COLUMNS]


def ledger_line(row: Row, *, contact_visible: bool) -> list[Any]:
    return [get(row, contact_visible) for _, get in COLUMNS]


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
