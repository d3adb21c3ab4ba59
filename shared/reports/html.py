"""A report as one self-contained HTML page: its tables and the same charts as the workbook,
drawn by Apache ECharts (vendored, `shared/reports/vendor/README.md`) inlined into the page. It
loads nothing from anywhere, so it opens from an e-mail attachment on a machine with no
internet access."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Any

import orjson

from shared.reports.document import Chart, Document, Sheet, plain

HTML_MEDIA_TYPE = "text/html; charset=utf-8"
ECHARTS_VERSION = "6.1.0"

_STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
       sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } .sub { color: #666; margin-bottom: 16px; }
section { margin: 20px 0; } h2 { font-size: 17px; border-left: 4px solid #5470c6;
  padding-left: 8px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; } th { background: #ddebf7; }
td.n { text-align: right; } .chart { width: 720px; height: 360px; }
"""


@cache
def echarts_script() -> str:
    return (resources.files("shared.reports") / "vendor" / "echarts.min.js").read_text("utf-8")


def _cell(value: Any, fmt: str) -> tuple[str, bool]:
    value = plain(value)
    if value is None:
        return "—", True
    if fmt == "pct" and isinstance(value, int | float):
        return f"{value * 100:.1f}%", True
    if fmt == "int" and isinstance(value, int | float):
        return f"{value:,.0f}", True
    if fmt == "money" and isinstance(value, int | float):
        return f"{value:,.2f}", True
    if fmt in ("days", "by_row") and isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip("."), True
    return str(value), isinstance(value, int | float)


def _table(sheet: Sheet) -> str:
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in sheet.columns)
    body = []
    for r, row in enumerate(sheet.rows):
        cells = []
        for c, value in enumerate(row):
            text, numeric = _cell(value, sheet.format_of(r, c))
            cls = ' class="n"' if numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _option(sheet: Sheet, chart: Chart) -> dict[str, Any]:
    """The ECharts option of one chart."""
    categories = [str(row[chart.categories]) for row in sheet.rows]

    def series_data(col: int) -> list[Any]:
        return [plain(row[col]) if row[col] is not None else 0 for row in sheet.rows]

    base: dict[str, Any] = {
        "animation": False,  # drawn at once: a printed or screenshotted page shows every chart
        "title": {"text": chart.title, "left": "center"},
        "tooltip": {},
    }
    if chart.kind == "pie":
        data = [{"name": n, "value": v} for n, v in zip(categories, series_data(1), strict=True)]
        return {**base, "series": [{"type": "pie", "radius": "60%", "data": data}]}
    if chart.kind == "pareto":
        bars, share = chart.values
        return {
            **base,
            "legend": {"bottom": 0},
            "xAxis": {"type": "category", "data": categories},
            "yAxis": [{"type": "value"}, {"type": "value", "min": 0, "max": 1}],
            "series": [
                {"type": "bar", "name": sheet.columns[bars].header, "data": series_data(bars)},
                {
                    "type": "line",
                    "name": sheet.columns[share].header,
                    "yAxisIndex": 1,
                    "data": series_data(share),
                },
            ],
        }
    return {
        **base,
        "legend": {"bottom": 0},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value"},
        "series": [
            {
                "type": chart.kind,
                "name": sheet.columns[col].header,
                "data": series_data(col),
            }
            for col in chart.values
        ],
    }


def page(document: Document) -> bytes:
    """The page's bytes (UTF-8)."""
    sections = []
    options: list[dict[str, Any]] = []
    for sheet in document.sheets:
        charts = []
        for chart in sheet.charts:
            charts.append(f'<div class="chart" id="chart-{len(options)}"></div>')
            options.append(_option(sheet, chart))
        sections.append(
            f"<section><h2>{html.escape(sheet.name)}</h2>{''.join(charts)}{_table(sheet)}</section>"
        )
    # "</" cannot end the script element early once escaped.
    data = orjson.dumps(options).decode().replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(document.title)}</title><style>{_STYLE}</style></head>
<body><h1>{html.escape(document.title)}</h1><div class="sub">{html.escape(document.subtitle)}</div>
{"".join(sections)}
<script>/* Apache ECharts {ECHARTS_VERSION}, Apache-2.0 */
{echarts_script()}</script>
<script>
(function () {{
  var options = {data};
  options.forEach(function (option, i) {{
    var chart = echarts.init(document.getElementById("chart-" + i), null, {{renderer: "canvas"}});
    chart.setOption(option);
  }});
  document.body.setAttribute("data-charts-drawn", String(options.length));
}})();
</script></body></html>""".encode()
