"""The reports' files: Excel read back with openpyxl (values, formats, frozen headers, native
charts), CSV with a BOM, Chinese download names, content negotiation, and the self-contained
chart page drawn by a real headless Chromium (every chart drawn, no request leaves the page, the
Chinese is not tofu — checked against a render with no CJK font)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest

from tests.support.chromium import chromium
from tests.support.desk import Desk
from tests.support.report_scenario import Scenario, build_scenario

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WEEK = {"date": "2026-11-25"}


@pytest.fixture(scope="module")
async def scenario(desk: Desk) -> Scenario:
    return await build_scenario(desk)


async def _get(desk: Desk, params: dict[str, str], **headers: str) -> Any:
    response = await desk.client.get(
        "/api/v1/reports/weekly", params=params, headers={**desk.manager.headers, **headers}
    )
    assert response.status_code == 200, response.text
    return response


async def test_excel_workbook_has_chinese_sheets_formats_and_native_charts(
    desk: Desk, scenario: Scenario
) -> None:
    response = await _get(desk, {**WEEK, "format": "xlsx"})
    assert response.headers["content-type"] == XLSX
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "投诉周报_2026-11-23.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "概要",
        "趋势",
        "投诉分类",
        "受理分布",
        "时限达成",
        "处理人",
        "满意度",
        "受理号清单",
    ]
    summary = book["概要"]
    assert summary.freeze_panes == "A4"
    assert [c.value for c in summary[3]] == ["指标", "本期", "上期", "环比"]
    rows = {r[0].value: r for r in summary.iter_rows(min_row=4)}
    assert (rows["受理总数"][1].value, rows["受理总数"][2].value) == (5, 1)
    assert rows["受理总数"][3].value == 4.0
    assert rows["受理总数"][3].number_format == "0.0%"
    assert rows["时限达成率"][1].number_format == "0.0%"
    # 15 met of 19 settled: P's level-1 resolution breached too (seed 002 §4.3: no raise).
    assert rows["时限达成率"][1].value == pytest.approx(15 / 19)
    assert rows["赔偿金额（元）"][1].number_format == "#,##0.00"
    categories = {r[0].value: r[1].value for r in book["投诉分类"].iter_rows(min_row=4)}
    assert categories == {"产品质量": 3, "物流配送": 1, "售后服务": 1}
    satisfaction = {r[0].value: r[1].value for r in book["满意度"].iter_rows(min_row=4)}
    assert satisfaction["2 满意"] == 1
    trend = [r[1].value for r in book["趋势"].iter_rows(min_row=4)]
    assert trend == [0, 0, 1, 0, 0, 0, 1, 5]
    # Native charts (openpyxl reads them back as chart objects of their kind).
    kinds = {
        name: sorted(type(c).__name__ for c in book[name]._charts)
        for name in ("趋势", "投诉分类", "时限达成", "满意度")
    }
    assert kinds == {
        "趋势": ["LineChart"],
        "投诉分类": ["BarChart"],
        "时限达成": ["BarChart"],
        "满意度": ["PieChart"],
    }
    references = [r[1].value for r in book["受理号清单"].iter_rows(min_row=4)]
    assert scenario.refs["A"] in references


async def test_csv_is_utf8_with_bom_and_json_is_the_default(desk: Desk, scenario: Scenario) -> None:
    response = await _get(desk, WEEK, accept="text/csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8-sig")
    assert "【投诉分类】" in text
    assert "产品质量,3," in text
    assert "投诉周报" in unquote(response.headers["content-disposition"])
    assert (await _get(desk, WEEK)).json()["received"] == 5
    assert (await _get(desk, WEEK, accept="text/html")).text.startswith("<!DOCTYPE html>")
    # format= wins over Accept.
    assert (await _get(desk, {**WEEK, "format": "json"}, accept="text/csv")).json()["kind"]
    bad = await desk.client.get(
        "/api/v1/reports/weekly", params={"format": "pdf"}, headers=desk.manager.headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


# Draws "投" and "诉" in the page's font on a canvas: with a CJK font they differ; as tofu
# (the missing-glyph box) they are the same picture.
_TOFU = """
(() => {
  const font = getComputedStyle(document.body).fontFamily;
  const draw = (ch) => {
    const c = document.createElement("canvas"); c.width = 64; c.height = 64;
    const g = c.getContext("2d"); g.font = "48px " + font; g.fillStyle = "#000";
    g.fillText(ch, 4, 52); return Array.from(g.getImageData(0, 0, 64, 64).data).join(",");
  };
  return draw("投") === draw("诉");
})()
"""

# For each chart: whether its canvas has coloured pixels (a blank canvas is all transparent).
_DRAWN = """
Array.from(document.querySelectorAll(".chart")).map((div) => {
  const canvas = div.querySelector("canvas");
  if (!canvas) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
})
"""


async def test_chart_page_draws_offline_in_headless_chromium(
    desk: Desk, scenario: Scenario, tmp_path: Path
) -> None:
    response = await _get(desk, {**WEEK, "format": "html"})
    assert response.headers["content-type"].startswith("text/html")
    page_file = tmp_path / "投诉周报.html"
    page_file.write_bytes(response.content)
    async with chromium() as page:
        await page.open(page_file)
        assert await page.evaluate("document.body.dataset.chartsDrawn") == "4"
        painted = await page.evaluate(_DRAWN)
        assert len(painted) == 4
        assert all(p > 500 for p in painted), painted
        assert await page.evaluate(_TOFU) is False
        assert await page.evaluate("document.title") == "投诉周报"
        shot = await page.screenshot()
        assert shot.startswith(b"\x89PNG")
        # Kept beside the page for a person to look at (pytest's tmp_path of this test).
        await asyncio.to_thread((tmp_path / "投诉周报.png").write_bytes, shot)
        # Nothing but the page itself was requested: no CDN, no font, no image.
        assert page.requests == [page_file.as_uri()]

    # The negative control: with no CJK font the same check sees tofu.
    fonts = tmp_path / "fonts.conf"
    fonts.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        "<dir>/usr/share/fonts/truetype/dejavu</dir>"
        f"<cachedir>{tmp_path}/fc-cache</cachedir></fontconfig>"
    )
    async with chromium(fonts=fonts) as page:
        await page.open(page_file)
        assert await page.evaluate(_TOFU) is True


async def test_cause_analysis_workbook_has_a_pareto_chart_and_its_page_draws(
    desk: Desk, scenario: Scenario, tmp_path: Path
) -> None:
    """Seed 004 §7: the Pareto chart (counts as bars, cumulative share as a line on a 0–100 %
    axis) in Excel and on the page."""
    params = {"date": "2026-11-10", "format": "xlsx"}
    response = await desk.client.get(
        "/api/v1/reports/causes", params=params, headers=desk.manager.headers
    )
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["帕累托分析"]
    (chart,) = sheet._charts
    assert type(chart).__name__ == "BarChart"
    combined = [type(c).__name__ for c in chart._charts]
    assert combined == ["BarChart", "LineChart"]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=4)]
    assert rows == [["注塑参数漂移", 1, 0.5, 0.5, "是"], ["用户自行拆机", 1, 0.5, 1, "是"]]
    assert sheet["D4"].number_format == "0.0%"

    page = await desk.client.get(
        "/api/v1/reports/causes",
        params={"date": "2026-11-10", "format": "html"},
        headers=desk.manager.headers,
    )
    page_file = tmp_path / "质量分析.html"
    page_file.write_bytes(page.content)
    async with chromium() as browser:
        await browser.open(page_file)
        painted = await browser.evaluate(_DRAWN)
        assert len(painted) == 3
        assert all(p > 500 for p in painted), painted
        assert browser.requests == [page_file.as_uri()]
