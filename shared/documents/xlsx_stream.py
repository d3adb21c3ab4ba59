"""A one-sheet Excel workbook (.xlsx) written as a stream: the 台帐 export's writer.

Why not XlsxWriter (which the reports use, for their charts): its cell-by-cell writer took
~50 s for the 100,000 lines of a year's 台帐 and the file could only be sent once complete.
Here a whole row is one `str.format` of a template made once per sheet, the text of a row is
escaped in one `str.translate`, and the workbook is a zip written front to back onto an
unseekable sink (data descriptors, ZIP64 never: Excel refuses ZIP64 entries it does not need),
so each batch of rows comes back as deflated bytes to send at once and memory stays flat
whatever the row count:

    sheet = SheetStream(columns, sheet_name="台帐", title="…")
    yield sheet.start()              # the package's small parts and the header row
    for lines in batches:
        yield sheet.rows(lines)      # the rows, deflated (level 1)
    yield sheet.finish()             # the end of the sheet and the zip's central directory

Cells are typed by their column: `TEXT` as inline strings (no shared-strings table to keep in
memory), `NUMBER`, and `DATETIME` (local wall time as `YYYY-MM-DD HH:MM[:SS]` text, written
as an Excel serial with a date format, so it sorts and filters as a date). An empty string or
None is a blank cell. The header row is bold, shaded, bordered and frozen; columns have widths.
Rows carry their number; cells go in column order without a reference (ECMA-376 §18.3.1.4
makes `r` optional: Excel, LibreOffice, openpyxl and calamine place them in order).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from itertools import chain, repeat
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

MAX_ROWS = 1_048_576  # Excel's sheet, header included
MAX_TEXT = 32_767  # characters in one cell
FONT = "等线"  # Excel's default Chinese font (DengXian), as in the reports' workbooks


class Kind(Enum):
    TEXT = "text"  # our own words (labels, references): short, as they are
    FREE_TEXT = "free_text"  # what people typed: end spaces kept, cut at a cell's 32,767
    NUMBER = "number"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Column:
    header: str
    width: float  # in characters, as Excel's column width dialog
    kind: Kind = Kind.TEXT


# --- escaping: XML's three; the control characters XML 1.0 forbids as Excel's _xHHHH_ --------

_SEP = "\x00"  # between text cells: never in PostgreSQL text, nor in our labels
# Checked on the batch's UTF-8 (these bytes stand only for themselves there): rare, so found
# by one pass over the bytes and only then replaced. A literal _xHHHH_ would be decoded by
# Excel: its "_" is escaped first (as _x005F_).
_CONTROL_BYTES = bytes([*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_LITERAL_ESCAPE = re.compile(rb"_(x[0-9A-Fa-f]{4}_)")


def _control_escape(match: re.Match[bytes]) -> bytes:
    return b"_x%04X_" % ord(match[0].decode())


def _escape_bytes(data: bytes) -> bytes:
    """The sheet's XML with what XML 1.0 cannot hold written as Excel's _xHHHH_ escapes."""
    if b"_x" in data:
        data = _LITERAL_ESCAPE.sub(rb"_x005F_\1", data)
    if len(data.translate(None, _CONTROL_BYTES)) != len(data) or b"\xef\xbf" in data:
        data = _CONTROL.sub(_control_escape, data)
    return data


_CELLS = {
    Kind.TEXT: '<c t="inlineStr"><is><t>{}</t></is></c>',
    Kind.FREE_TEXT: '<c t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>',
    Kind.NUMBER: "<c><v>{}</v></c>",
    Kind.DATETIME: '<c s="2"><v>{}</v></c>',
}
_BLANKS = {  # an empty text, a None number, no time: a blank cell
    Kind.TEXT: [_CELLS[Kind.TEXT].format("")],
    Kind.FREE_TEXT: [_CELLS[Kind.FREE_TEXT].format("")],
    Kind.NUMBER: [_CELLS[Kind.NUMBER].format(None), _CELLS[Kind.NUMBER].format("")],
    Kind.DATETIME: [_CELLS[Kind.DATETIME].format("")],
}
_TEXTS = (Kind.TEXT, Kind.FREE_TEXT)

# --- Excel serial dates: days since 1899-12-30, the time as a fraction of the day -----------

_EPOCH = date(1899, 12, 30).toordinal()
_DAYS: dict[str, str] = {}
_MINUTES = {
    f"{h:02d}:{m:02d}": repr((h * 60 + m) / 1440)[1:] if h or m else ""
    for h in range(24)
    for m in range(60)
}


def excel_serial(local: str | None) -> str:
    """`YYYY-MM-DD HH:MM` (or with seconds, or a date) local wall time as Excel's serial
    number text; "" for none."""
    if not local:
        return ""
    day = _DAYS.get(local[:10])
    if day is None:
        day = str(date.fromisoformat(local[:10]).toordinal() - _EPOCH)
        if len(_DAYS) < 100_000:
            _DAYS[local[:10]] = day
    if len(local) == 10:
        return day
    minute = _MINUTES.get(local[11:])
    if minute is not None:
        return day + minute
    at = datetime.fromisoformat(local)
    seconds = at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6
    return repr(int(day) + seconds / 86400)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _excel_width(width: float) -> float:
    """The stored width of a column shown `width` characters wide (7-pixel digits, 5 pixels
    of padding), as Excel and XlsxWriter store it."""
    return int(width * 7 + 5) / 7 if width >= 1 else int(width * 12 + 0.5) / 12


class _Sink(io.RawIOBase):
    """Where the zip is written: kept until drained (no tell, no seek, so zipfile streams)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class SheetStream:
    """One sheet's workbook, written as the rows come; see the module's docstring."""

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sheet_name: str,
        title: str,
        author: str = "Kesu 客诉",
        created: datetime | None = None,
        overflow_note: str = "（已达 Excel 每表行数上限，其余记录未写入：请缩短期间或导出 CSV）",
        max_rows: int = MAX_ROWS,
    ) -> None:
        if not 0 < len(sheet_name) <= 31 or set(sheet_name) & set("[]:*?/\\"):
            raise ValueError(f"not an Excel sheet name: {sheet_name!r}")
        self.columns = list(columns)
        self.sheet_name = sheet_name
        self.title = title
        self.author = author
        self.created = created
        self.overflow_note = overflow_note
        self.max_rows = max_rows  # the sheet's, header and note included
        self.rows_written = 0  # rows below the header (the note too, if any)
        self.truncated = False
        kinds = [c.kind for c in self.columns]
        self._text_indexes = [i for i, k in enumerate(kinds) if k in _TEXTS]
        self._number_indexes = [i for i, k in enumerate(kinds) if k is Kind.NUMBER]
        self._datetime_indexes = [i for i, k in enumerate(kinds) if k is Kind.DATETIME]
        self._pieces = _row_pieces(kinds)
        self._blanks = [blank for kind in dict.fromkeys(kinds) for blank in _BLANKS[kind]]
        self._free_text = [i for i, k in enumerate(kinds) if k is Kind.FREE_TEXT]
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(
            self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        )
        self._sheet: IO[bytes] | None = None

    def start(self) -> bytes:
        """The package's parts, the sheet's settings and its header row."""
        for name, text in self._parts():
            with self._zip.open(name, "w") as part:
                part.write(text.encode())
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w")
        self._sheet.write(self._sheet_head().encode())
        return self._sink.drain()

    def rows(self, lines: Iterable[Sequence[Any]]) -> bytes:
        """Rows of cells in column order, as the zip's next bytes (perhaps none yet). Past
        Excel's last row, one row says so and the rest are left out (`truncated`).

        The batch is worked column-wise, so the work per cell is C's: the text cells of the
        whole batch escaped in one string, the rows' XML one join of the fixed pieces and the
        values interleaved."""
        assert self._sheet is not None, "start() first"
        batch = list(lines)
        first = self.rows_written + 2  # the batch's first row (1: the header)
        note = ""
        if self.truncated:
            batch = []
        elif first + len(batch) > self.max_rows:  # the last row is kept for the note
            batch = batch[: self.max_rows - first]
            note = _CELLS[Kind.TEXT].format(escape(self.overflow_note))
            note = f'<row r="{first + len(batch)}">{note}</row>'
            self.truncated = True
        if not batch:
            xml = note
        else:
            columns = list(zip(*batch, strict=True))
            if len(columns) != len(self.columns):
                raise ValueError(f"{len(columns)} cells in a row of {len(self.columns)} columns")
            texts = self._text_indexes
            try:
                joined = _SEP.join(chain.from_iterable(columns[i] for i in texts))
            except TypeError:  # a None among them: a blank cell
                for i in texts:
                    columns[i] = tuple(t or "" for t in columns[i])
                joined = _SEP.join(chain.from_iterable(columns[i] for i in texts))
            if any(max(map(len, columns[i])) > MAX_TEXT for i in self._free_text):
                for i in self._free_text:
                    columns[i] = tuple(t[:MAX_TEXT] for t in columns[i])
                joined = _SEP.join(chain.from_iterable(columns[i] for i in texts))
            escaped = (
                joined.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split(_SEP)
            )
            n = len(batch)
            values: dict[int, Iterable[str]] = {
                i: escaped[k * n : (k + 1) * n] for k, i in enumerate(texts)
            }
            values.update((i, map(str, columns[i])) for i in self._number_indexes)
            values.update((i, map(excel_serial, columns[i])) for i in self._datetime_indexes)
            # The rows' XML in one join: the fixed pieces interleaved with the values, row
            # after row (zip and chain are C: no Python call per cell but excel_serial's).
            pieces = self._pieces
            parts: list[Iterable[str]] = [repeat(pieces[0]), map(str, range(first, first + n))]
            for i in range(len(self.columns)):
                parts += [repeat(pieces[i + 1]), values[i]]
            parts.append(repeat(pieces[-1]))
            xml = "".join(chain.from_iterable(zip(*parts, strict=False)))
            for blank in self._blanks:
                xml = xml.replace(blank, "<c/>")
            xml += note
        self.rows_written += len(batch) + (1 if note else 0)
        self._sheet.write(_escape_bytes(xml.encode()))
        return self._sink.drain()

    def finish(self) -> bytes:
        """The end of the sheet and of the zip."""
        assert self._sheet is not None, "start() first"
        self._sheet.write(
            b'</sheetData><pageMargins left="0.7" right="0.7" top="0.75" '
            b'bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
        )
        self._sheet.close()
        self._zip.close()
        return self._sink.drain()

    # --- the parts ---------------------------------------------------------------------------

    def _sheet_head(self) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{_excel_width(c.width):.10g}" customWidth="1"/>'
            for i, c in enumerate(self.columns, start=1)
        )
        header = "".join(
            f'<c t="inlineStr" s="1"><is><t>{escape(c.header)}</t></is></c>' for c in self.columns
        )
        return (
            _XML
            + f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
            + '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
            + '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            + '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            + "</sheetView></sheetViews>"
            + '<sheetFormatPr defaultRowHeight="15"/>'
            + f"<cols>{cols}</cols>"
            + f'<sheetData><row r="1">{header}</row>'
        )

    def _parts(self) -> list[tuple[str, str]]:
        created = self.created or datetime.now(UTC)
        stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ooxml = "http://schemas.openxmlformats.org"
        types = f"{ooxml}/officeDocument/2006/relationships"
        content = "application/vnd.openxmlformats-officedocument"
        return [
            (
                "[Content_Types].xml",
                _XML
                + f'<Types xmlns="{ooxml}/package/2006/content-types">'
                + '<Default Extension="rels" '
                + 'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                + '<Default Extension="xml" ContentType="application/xml"/>'
                + '<Override PartName="/xl/workbook.xml" '
                + f'ContentType="{content}.spreadsheetml.sheet.main+xml"/>'
                + '<Override PartName="/xl/worksheets/sheet1.xml" '
                + f'ContentType="{content}.spreadsheetml.worksheet+xml"/>'
                + '<Override PartName="/xl/styles.xml" '
                + f'ContentType="{content}.spreadsheetml.styles+xml"/>'
                + '<Override PartName="/docProps/core.xml" '
                + 'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
                + '<Override PartName="/docProps/app.xml" '
                + f'ContentType="{content}.extended-properties+xml"/>'
                + "</Types>",
            ),
            (
                "_rels/.rels",
                _XML
                + f'<Relationships xmlns="{ooxml}/package/2006/relationships">'
                + f'<Relationship Id="rId1" Type="{types}/officeDocument" '
                + 'Target="xl/workbook.xml"/>'
                + '<Relationship Id="rId2" '
                + f'Type="{ooxml}/package/2006/relationships/metadata/core-properties" '
                + 'Target="docProps/core.xml"/>'
                + f'<Relationship Id="rId3" Type="{types}/extended-properties" '
                + 'Target="docProps/app.xml"/>'
                + "</Relationships>",
            ),
            (
                "docProps/app.xml",
                _XML
                + f'<Properties xmlns="{ooxml}/officeDocument/2006/extended-properties">'
                + "<Application>Kesu</Application></Properties>",
            ),
            (
                "docProps/core.xml",
                _XML
                + "<cp:coreProperties "
                + f'xmlns:cp="{ooxml}/package/2006/metadata/core-properties" '
                + 'xmlns:dc="http://purl.org/dc/elements/1.1/" '
                + 'xmlns:dcterms="http://purl.org/dc/terms/" '
                + 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                + f"<dc:title>{escape(self.title)}</dc:title>"
                + f"<dc:creator>{escape(self.author)}</dc:creator>"
                + f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
                + f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
                + "</cp:coreProperties>",
            ),
            (
                "xl/workbook.xml",
                _XML
                + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
                + '<bookViews><workbookView activeTab="0"/></bookViews>'
                + f'<sheets><sheet name={quoteattr(self.sheet_name)} sheetId="1" r:id="rId1"/>'
                + "</sheets></workbook>",
            ),
            (
                "xl/_rels/workbook.xml.rels",
                _XML
                + f'<Relationships xmlns="{ooxml}/package/2006/relationships">'
                + f'<Relationship Id="rId1" Type="{types}/worksheet" '
                + 'Target="worksheets/sheet1.xml"/>'
                + f'<Relationship Id="rId2" Type="{types}/styles" Target="styles.xml"/>'
                + "</Relationships>",
            ),
            ("xl/styles.xml", _STYLES),
        ]


def _row_pieces(kinds: list[Kind]) -> list[str]:
    """A row's XML around its values: before the row number, between it and the first cell's
    value, between each value and the next, after the last (`SheetStream.rows` interleaves)."""
    pieces = ['<row r="', '">']
    for kind in kinds:
        before, _, after = _CELLS[kind].partition("{}")
        pieces[-1] += before
        pieces.append(after)
    pieces[-1] += "</row>"
    return pieces


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_FONT_XML = f'<sz val="11"/><name val="{FONT}"/><family val="2"/><charset val="134"/>'
_THIN = '<color auto="1"/>'
_STYLES = (
    _XML
    + f'<styleSheet xmlns="{_MAIN}">'
    + '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    + f'<fonts count="2"><font>{_FONT_XML}</font><font><b/>{_FONT_XML}</font></fonts>'
    + '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    + '<fill><patternFill patternType="gray125"/></fill>'
    + '<fill><patternFill patternType="solid"><fgColor rgb="FFE6E6E6"/>'
    + '<bgColor indexed="64"/></patternFill></fill></fills>'
    + '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    + f'<border><left style="thin">{_THIN}</left><right style="thin">{_THIN}</right>'
    + f'<top style="thin">{_THIN}</top><bottom style="thin">{_THIN}</bottom><diagonal/>'
    + "</border></borders>"
    + '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    + "</cellStyleXfs>"
    + '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    + '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" '
    + 'applyFill="1" applyBorder="1"/>'
    + '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" '
    + 'applyNumberFormat="1"/></cellXfs>'
    + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    + "</styleSheet>"
)
