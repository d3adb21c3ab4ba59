"""The 30-value cut of the reports' files: a dimension with many values (product models here)
shows its 30 largest in the workbook's and the page's 受理分布 sheet, and the rest summed on one
line (其他（N项）); the JSON answer keeps every value. On a database of the module's own, so the
week holds exactly the complaints registered here."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl

from shared.reports.document import TOP_VALUES, period_document
from shared.reports.model import PeriodReport
from tests.support.desk import Desk

MODELS = 33  # three more than the files show
WEEK = {"date": "2026-11-25"}
SH = ZoneInfo("Asia/Shanghai")


async def _weekly(desk: Desk, **params: str) -> Any:
    response = await desk.client.get(
        "/api/v1/reports/weekly", params={**WEEK, **params}, headers=desk.manager.headers
    )
    assert response.status_code == 200, response.text
    return response


async def test_a_dimension_shows_its_30_largest_values_and_the_rest_summed(desk: Desk) -> None:
    # 33 complaints in the week, each about a model of its own (tests.support.factories).
    for i in range(MODELS):
        await desk.register(datetime(2026, 11, 24, 9, i, tzinfo=SH))
    desk.now = datetime(2026, 11, 30, 10, 0, tzinfo=SH)

    report = (await _weekly(desk)).json()
    models = {c["label"]: c["count"] for c in report["received_by"]["product_model"]}
    assert len(models) == MODELS  # JSON keeps every value
    assert sum(models.values()) == MODELS

    # The workbook read back: 30 models and one line of the other three.
    book = openpyxl.load_workbook(io.BytesIO((await _weekly(desk, format="xlsx")).content))
    rows = [
        (r[1].value, r[2].value)
        for r in book["受理分布"].iter_rows(min_row=4)
        if r[0].value == "产品型号"
    ]
    assert len(rows) == TOP_VALUES + 1 == 31
    shown, rest = rows[:-1], rows[-1]
    assert rest == ("其他（3项）", 3)
    assert len({label for label, _ in shown}) == TOP_VALUES
    assert all(models[label] == count for label, count in shown)
    assert sum(count for _, count in rows) == MODELS

    # The page is drawn from the same document: the model behind it, and the page itself.
    document = period_document(PeriodReport.model_validate(report))
    (sheet,) = [s for s in document.sheets if s.name == "受理分布"]
    in_page = [(row[1], row[2]) for row in sheet.rows if row[0] == "产品型号"]
    assert in_page == rows
    page = (await _weekly(desk, format="html")).text
    assert "<td>其他（3项）</td>" in page
    hidden = set(models) - {label for label, _ in shown}
    assert len(hidden) == 3
    assert not any(label in page for label in hidden)
