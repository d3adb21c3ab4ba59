"""Answering a report in the format asked for: `format=` or the `Accept` header (JSON by default),
downloads named in Chinese (`Content-Disposition` with `filename*`, RFC 6266 / 5987)."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote

from fastapi import Response

from shared.reports.csv import CSV_MEDIA_TYPE, csv_bytes
from shared.reports.document import Document
from shared.reports.html import HTML_MEDIA_TYPE, page
from shared.reports.xlsx import XLSX_MEDIA_TYPE, workbook


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


_BY_MEDIA_TYPE = {
    "application/json": ReportFormat.JSON,
    "text/csv": ReportFormat.CSV,
    XLSX_MEDIA_TYPE: ReportFormat.XLSX,
    "text/html": ReportFormat.HTML,
}

# The OpenAPI declaration of the other formats of a 200 answer.
FORMAT_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    "text/html": {"schema": {"type": "string"}},
}


def negotiate(requested: ReportFormat | None, accept: str | None) -> ReportFormat:
    """`format=` wins; otherwise the first media type of `Accept` we make (q-values are not
    weighed: clients that want a file ask for one type); JSON otherwise."""
    if requested is not None:
        return requested
    for part in (accept or "").split(","):
        media_type = part.split(";", 1)[0].strip().lower()
        if media_type in _BY_MEDIA_TYPE:
            return _BY_MEDIA_TYPE[media_type]
    return ReportFormat.JSON


def download(document: Document, fmt: ReportFormat) -> Response:
    """The document as a file in `fmt` (not JSON), named `<Chinese title>_<date>.<ext>`."""
    body, media_type = {
        ReportFormat.CSV: (csv_bytes, CSV_MEDIA_TYPE),
        ReportFormat.XLSX: (workbook, XLSX_MEDIA_TYPE),
        ReportFormat.HTML: (page, HTML_MEDIA_TYPE),
    }[fmt]
    return Response(
        body(document),
        media_type=media_type,
        headers={"Content-Disposition": disposition(f"{document.file_stem}.{fmt.value}")},
    )


def disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the UTF-8 name (`filename*`)."""
    fallback = "".join(c if c.isascii() and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
