"""A report as CSV: UTF-8 with a byte-order mark, so that Excel opens the Chinese correctly. Each
sheet of the document is a section: its name on a line of its own, its header row, its rows,
and an empty line."""

from __future__ import annotations

import csv as csvlib
import io

from shared.reports.document import Document, plain

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def csv_bytes(document: Document) -> bytes:
    out = io.StringIO(newline="")
    writer = csvlib.writer(out, lineterminator="\r\n")
    writer.writerow([document.title, document.subtitle])
    writer.writerow([])
    for sheet in document.sheets:
        writer.writerow([f"【{sheet.name}】"])
        writer.writerow([c.header for c in sheet.columns])
        for row in sheet.rows:
            writer.writerow(["" if v is None else plain(v) for v in row])
        writer.writerow([])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
