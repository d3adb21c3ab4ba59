"""The streamed Excel writer of the 台帐 (shared/documents/xlsx_stream.py), read back the way
a user's tools would read it: openpyxl for values, types, number formats, styles, frozen panes
and widths; the zip checked whole (CRCs) by zipfile."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from shared.documents.xlsx_stream import Column, Kind, SheetStream, column_letter, excel_serial

COLUMNS = [
    Column("受理号", 20),
    Column("登记时间", 17, Kind.DATETIME),
    Column("级别", 5, Kind.NUMBER),
    Column("投诉内容", 50, Kind.FREE_TEXT),
    Column("状态", 14),
]


def _write(lines: list[list[object]], *, batch: int = 2, **options: object) -> bytes:
    sheet = SheetStream(COLUMNS, sheet_name="台帐", title="投诉台帐_测试", **options)  # type: ignore[arg-type]
    chunks = [sheet.start()]
    for at in range(0, len(lines), batch):
        chunks.append(sheet.rows(lines[at : at + batch]))
    chunks.append(sheet.finish())
    return b"".join(chunks)


def _open(data: bytes, tmp_path: Path) -> openpyxl.Workbook:
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None  # every part's CRC checks
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(data)
    return openpyxl.load_workbook(path)


def test_values_types_and_formats_read_back(tmp_path: Path) -> None:
    lines: list[list[object]] = [
        ["KS-20260301-000001", "2026-03-01 10:22", 2, "洗衣机漏水，地面积水", "处理中"],
        ["KS-20260301-000002", "2026-03-01 00:00", None, "", "已结案"],
        ["KS-20260302-000003", "", 3, "A&B <公司> 回复", "已受理"],
        ["KS-20260302-000004", None, None, None, None],
    ]
    book = _open(_write(lines), tmp_path)
    assert book.sheetnames == ["台帐"]
    sheet = book["台帐"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("受理号", "登记时间", "级别", "投诉内容", "状态")
    assert rows[1] == (
        "KS-20260301-000001",
        datetime.fromisoformat("2026-03-01T10:22"),  # Shanghai wall time, as given
        2,
        "洗衣机漏水，地面积水",
        "处理中",
    )
    assert rows[2] == (
        "KS-20260301-000002",
        datetime.fromisoformat("2026-03-01T00:00"),
        None,
        None,
        "已结案",
    )
    assert rows[3] == ("KS-20260302-000003", None, 3, "A&B <公司> 回复", "已受理")
    assert rows[4] == ("KS-20260302-000004", None, None, None, None)
    assert sheet["B2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["B2"].is_date
    assert sheet["C2"].data_type == "n"
    assert book.properties.title == "投诉台帐_测试"


def test_the_header_is_bold_shaded_and_frozen_with_column_widths(tmp_path: Path) -> None:
    sheet = _open(_write([["KS-1", "2026-03-01 10:22", 1, "x", "y"]]), tmp_path)["台帐"]
    assert sheet.freeze_panes == "A2"
    header = sheet["A1"]
    assert header.font.b
    assert header.fill.fgColor.rgb == "FFE6E6E6"
    assert header.border.bottom.style == "thin"
    assert not sheet["A2"].font.b
    # Excel's stored width of a column shown N characters wide (7-pixel digits + 5 padding).
    assert sheet.column_dimensions["A"].width == pytest.approx(20 + 5 / 7, abs=0.01)
    assert sheet.column_dimensions["D"].width == pytest.approx(50 + 5 / 7, abs=0.01)


def test_what_xml_cannot_hold_is_escaped_as_excel_reads_it(tmp_path: Path) -> None:
    """Control characters as Excel's _xHHHH_ escapes (ECMA-376 ST_Xstring; what XlsxWriter
    wrote too), a literal _xHHHH_ with its "_" escaped so Excel shows it as typed, spaces at
    the ends of what people typed kept, a text longer than a cell holds cut at 32,767."""
    lines: list[list[object]] = [
        ["KS-1", "", 1, "铃声\x07响了\x1b，换行\n第二行\ufffe", "a"],
        ["KS-2", "", 1, "型号 _x0041_ 原样", "b"],
        ["KS-3", "", 1, "  前后有空格  ", "c"],
        ["KS-4", "", 1, "长" * 40_000, "d"],
    ]
    data = _write(lines)
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "铃声_x0007_响了_x001B_，换行\n第二行_xFFFE_" in xml
    assert "型号 _x005F_x0041_ 原样" in xml
    assert '<t xml:space="preserve">  前后有空格  </t>' in xml
    sheet = _open(data, tmp_path)["台帐"]  # well-formed XML: openpyxl parses it
    texts = [r[3] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert texts[2] == "  前后有空格  "
    assert texts[3] == "长" * 32_767


def test_rows_past_the_sheets_last_row_are_left_out_with_a_note(tmp_path: Path) -> None:
    lines: list[list[object]] = [[f"KS-{i}", "", i, "", ""] for i in range(1, 8)]
    sheet = SheetStream(COLUMNS, sheet_name="台帐", title="t", max_rows=5)
    data = sheet.start()
    for at in range(0, len(lines), 2):
        data += sheet.rows(lines[at : at + 2])
    data += sheet.finish()
    assert sheet.truncated
    rows = list(_open(data, tmp_path)["台帐"].iter_rows(values_only=True))
    assert len(rows) == 5  # the header, three lines and the note in the sheet's last row
    assert [r[0] for r in rows[1:4]] == ["KS-1", "KS-2", "KS-3"]
    assert "行数上限" in str(rows[4][0])


def test_the_file_starts_before_any_row_and_grows_per_batch() -> None:
    """Streamed: the first bytes (a zip's local header) exist before a row is given, and a big
    batch comes back as compressed bytes at once, not at the end."""
    sheet = SheetStream(COLUMNS, sheet_name="台帐", title="t")
    first = sheet.start()
    assert first.startswith(b"PK\x03\x04")
    lines = [
        [f"KS-{i}", "2026-03-01 10:22", 1, f"第{i}条投诉内容" * 20, "处理中"] for i in range(5000)
    ]
    assert len(sheet.rows(lines)) > 10_000
    assert sheet.rows_written == 5000


def test_a_row_of_the_wrong_width_is_refused() -> None:
    sheet = SheetStream(COLUMNS, sheet_name="台帐", title="t")
    sheet.start()
    with pytest.raises(ValueError, match="3 cells in a row of 5 columns"):
        sheet.rows([["KS-1", "", 1]])


@pytest.mark.parametrize(
    ("local", "serial"),
    [
        ("1900-03-01", "61"),
        ("2026-03-01 00:00", "46082"),
        ("2026-03-01 12:00", "46082.5"),
        ("2026-03-01 06:00:30", repr(46082 + (6 * 3600 + 30) / 86400)),
        ("", ""),
        (None, ""),
    ],
)
def test_excel_serial(local: str | None, serial: str) -> None:
    assert excel_serial(local) == serial


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 18, 25, 26, 701, 702)] == [
        "A",
        "S",
        "Z",
        "AA",
        "ZZ",
        "AAA",
    ]
