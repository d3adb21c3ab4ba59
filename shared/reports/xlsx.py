"""A report as an Excel workbook (XlsxWriter): one sheet per table, Chinese sheet names and
headers, the header row frozen, number and percentage formats, and native Excel charts a manager
can paste into slides (trend line, category bars, satisfaction pie, Pareto)."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter
from xlsxwriter.chart import Chart as XlsxChart
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from shared.reports.document import CellFormat, Chart, Document, Sheet, plain

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_NUMBER_FORMATS: dict[CellFormat, str | None] = {
    "text": None,
    "int": "#,##0",
    "pct": "0.0%",
    "money": "#,##0.00",
    "days": "0.00",
    "by_row": "0.00",
}
_FONT = "等线"  # Excel's default Chinese font (DengXian); falls back on other systems


def workbook(document: Document) -> bytes:
    """The workbook's bytes."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    book.set_properties({"title": document.title, "subject": document.subtitle})
    formats = {
        name: book.add_format({"font_name": _FONT, **({"num_format": f} if f else {})})
        for name, f in _NUMBER_FORMATS.items()
    }
    header = book.add_format(
        {"font_name": _FONT, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True}
    )
    title = book.add_format({"font_name": _FONT, "bold": True, "font_size": 14})
    for sheet in document.sheets:
        _write_sheet(book, sheet, document, formats, header, title)
    book.close()
    return out.getvalue()


_FIRST_ROW = 2  # row 0: the title, row 1: the period and scope; headers on row 2


def _write_sheet(
    book: Workbook,
    sheet: Sheet,
    document: Document,
    formats: dict[CellFormat, Any],
    header: Any,
    title: Any,
) -> None:
    ws = book.add_worksheet(sheet.name)
    ws.write(0, 0, document.title, title)
    ws.write(1, 0, document.subtitle)
    for col, column in enumerate(sheet.columns):
        ws.write(_FIRST_ROW, col, column.header, header)
        ws.set_column(col, col, 28 if col == 0 else 14)
    ws.freeze_panes(_FIRST_ROW + 1, 0)
    for r, row in enumerate(sheet.rows):
        for c, value in enumerate(row):
            cell = plain(value)
            fmt = formats[sheet.format_of(r, c)]
            if cell is None:
                ws.write_blank(_FIRST_ROW + 1 + r, c, None, fmt)
            else:
                ws.write(_FIRST_ROW + 1 + r, c, cell, fmt)
    for i, chart in enumerate(sheet.charts):
        made = _chart(book, ws, sheet, chart)
        ws.insert_chart(_FIRST_ROW, len(sheet.columns) + 1 + 9 * i, made)


def _chart(book: Workbook, ws: Worksheet, sheet: Sheet, chart: Chart) -> XlsxChart:
    first, last = _FIRST_ROW + 1, _FIRST_ROW + max(len(sheet.rows), 1)
    name = ws.get_name()
    categories = [name, first, chart.categories, last, chart.categories]
    kind = {"line": "line", "bar": "column", "pie": "pie", "pareto": "column"}[chart.kind]
    made = book.add_chart({"type": kind})
    assert made is not None
    for col in chart.values[:1] if chart.kind == "pareto" else chart.values:
        made.add_series(
            {
                "name": [name, _FIRST_ROW, col],
                "categories": categories,
                "values": [name, first, col, last, col],
                **({"data_labels": {"percentage": True}} if chart.kind == "pie" else {}),
            }
        )
    if chart.kind == "pareto":
        # The cumulative share as a line on a secondary 0–100 % axis, over the bars.
        line = book.add_chart({"type": "line"})
        assert line is not None
        col = chart.values[1]
        line.add_series(
            {
                "name": [name, _FIRST_ROW, col],
                "categories": categories,
                "values": [name, first, col, last, col],
                "y2_axis": True,
                "marker": {"type": "circle"},
            }
        )
        line.set_y2_axis({"min": 0, "max": 1, "num_format": "0%"})
        made.combine(line)
    made.set_title({"name": chart.title, "name_font": {"name": _FONT}})
    made.set_size({"width": 560, "height": 320})
    return made
