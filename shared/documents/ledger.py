"""The 台帐 (complaint ledger, seeds 000 / 003: 客户投诉登记表): one line per complaint, as CSV
(UTF-8 with a BOM, so Excel opens the Chinese right) or Excel (`shared.documents.xlsx_stream`:
written as a stream, rows sent as they come, memory flat whatever the period). One line of a
complaint (`ledger_line`) for both; the Excel sheet types its cells by column (`COLUMNS`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from shared.documents import labels as L
from shared.documents.xlsx_stream import Column, Kind, SheetStream
from shared.domain.enums import Status
from shared.domain.values import mask_phone

BOM = "\ufeff".encode()
Row = Sequence[Any]  # a row of `shared.db.complaints.ledger_query`, its columns in order

COLUMNS = [
    Column("受理号", 20),
    Column("登记时间", 17, Kind.DATETIME),
    Column("受理渠道", 12),
    Column("类型", 6),
    Column("投诉类别", 12),
    Column("级别", 5, Kind.NUMBER),
    Column("状态", 14),
    Column("客户姓名", 10, Kind.FREE_TEXT),
    Column("联系电话", 14),
    Column("产品型号", 12, Kind.FREE_TEXT),
    Column("订单号", 16, Kind.FREE_TEXT),
    Column("投诉内容", 50, Kind.FREE_TEXT),
    Column("客户诉求", 14),
    Column("责任部门", 12),
    Column("责任判定", 12),
    Column("处理方案", 30, Kind.FREE_TEXT),
    Column("满意度", 10),
    Column("解决时间", 17, Kind.DATETIME),
    Column("结案时间", 17, Kind.DATETIME),
]
HEADERS = [c.header for c in COLUMNS]
_STATUS = {s.value: L.status_label(s.value) for s in Status}
_CHANNELS, _KINDS, _CATEGORIES = L.CHANNELS, L.KINDS, L.CATEGORIES
_WISHES, _RESPONSIBILITY, _SATISFACTION = L.WISHES, L.RESPONSIBILITY, L.SATISFACTION


def ledger_line(r: Row, *, contact_visible: bool) -> list[Any]:
    """One ledger line of a row of `shared.db.complaints.ledger_query` (times already local
    text), in the order of `COLUMNS`; the phone masked unless `contact_visible` (as the list
    masks it: shared.domain.values.mask_phone)."""
    (
        reference,
        created,
        channel,
        kind,
        category,
        level,
        status,
        name,
        phone,
        model,
        order,
        content,
        wishes,
        department,
        responsibility,
        solution,
        satisfaction,
        resolved,
        closed,
    ) = r
    if phone and not contact_visible:
        phone = mask_phone(phone)
    return [
        reference,
        created,
        _CHANNELS.get(channel, channel),
        _KINDS.get(kind, kind),
        _CATEGORIES.get(category, category),
        level,
        _STATUS.get(status, status),
        name or "",
        phone or "",
        model or "",
        order or "",
        content,
        "、".join([_WISHES.get(w, w) for w in wishes]) if wishes else "",
        department or "",
        _RESPONSIBILITY.get(responsibility, responsibility or ""),
        solution or "",
        _SATISFACTION.get(satisfaction, ""),
        resolved or "",
        closed or "",
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


def ledger_sheet(*, title: str) -> SheetStream:
    """The Excel ledger, to be written as the lines come (`SheetStream.start`, `rows`,
    `finish`): sheet 台帐, the header row frozen, dates as dates."""
    return SheetStream(COLUMNS, sheet_name="台帐", title=title)
