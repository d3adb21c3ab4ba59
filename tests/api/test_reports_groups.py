"""Group complaints (集体投诉, issue 11 §5) in the weekly and monthly reports, next to the repeats,
in every format, against complaints registered over the API with a controlled clock. Every
expected value is worked out by hand below, never from the report code's own queries.

The company keeps the default rules: three customers or more about one product model within
30 days are a group, found at intake; a complaint registered for three customers or more is a
group complaint on its own (seed 002 §4.3.3, SPEC §2).

- Pv, Tue 17 November (the previous week): registered for 3 customers;
- G1 Mon 23, G2 Mon 23, G3 Tue 24: three customers about the model GX-1: G3 makes the group,
  G1 and G2 are linked to it;
- H, Wed 25: registered for 5 customers about HX-9, a logistics complaint;
- T, Wed 25: registered for 2 customers (fewer than 3: not a group complaint);
- N, Thu 26: an ordinary complaint.
"""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from tests.support.desk import Desk
from tests.support.factories import complaint_body, mobile
from tests.support.report_scenario import at


def _body(model: str, **more: Any) -> dict[str, Any]:
    product = complaint_body()["product"] | {"model": model}
    return {"customer": {"name": "客户", "phone": mobile()}, "product": product, **more}


@pytest.fixture(scope="module")
async def refs(desk: Desk) -> dict[str, str]:
    found: dict[str, str] = {}

    async def register(name: str, day: str, clock: str, **body: Any) -> None:
        complaint = await desk.register(at(day, clock), **body)
        found[name] = complaint["reference"]

    await register("Pv", "2026-11-17", "10:00", **_body("PV-1", customer_count=3))
    await register("G1", "2026-11-23", "10:00", **_body("GX-1"))
    await register("G2", "2026-11-23", "11:00", **_body("GX-1"))
    await register("G3", "2026-11-24", "10:00", **_body("GX-1"))
    await register(
        "H", "2026-11-25", "10:00", **_body("HX-9", customer_count=5, category="logistics")
    )
    await register("T", "2026-11-25", "11:00", **_body("TX-2", customer_count=2))
    await register("N", "2026-11-26", "10:00", **_body("NX-3"))
    desk.now = at("2026-11-30", "09:00")
    return found


async def _report(desk: Desk, kind: str, day: str, **params: str) -> Any:
    response = await desk.client.get(
        f"/api/v1/reports/{kind}", params={"date": day, **params}, headers=desk.admin
    )
    assert response.status_code == 200, response.text
    return response


async def test_weekly_group_complaints_by_hand(desk: Desk, refs: dict[str, str]) -> None:
    """投诉周报 of Mon 23 – Sun 29 November: G1–G3 (one group of three customers) and H (one
    complaint for five customers); T speaks for two customers only; Pv the week before."""
    report = (await _report(desk, "weekly", "2026-11-25")).json()
    assert report["received"] == 6  # G1, G2, G3, H, T, N
    assert report["repeat_complaints"] == 0
    assert report["group_complaints"] == {
        "count": 4,
        "references": sorted([refs["G1"], refs["G2"], refs["G3"], refs["H"]]),
        "truncated": False,
        "groups": 2,  # the GX-1 group, H
        "customers": 8,  # 1 + 1 + 1 + 5
        "previous": 1,  # Pv
        "change": 3.0,  # (4 − 1) / 1
    }


async def test_monthly_group_complaints_by_hand(desk: Desk, refs: dict[str, str]) -> None:
    """客户月投诉统计表 of November against October (none)."""
    report = (await _report(desk, "monthly", "2026-11-01")).json()
    assert report["received"] == 7
    groups = report["group_complaints"]
    assert (groups["count"], groups["groups"], groups["customers"]) == (5, 3, 11)  # + Pv (3)
    assert groups["references"] == sorted(refs[k] for k in ("Pv", "G1", "G2", "G3", "H"))
    assert (groups["previous"], groups["change"]) == (0, None)


async def test_group_complaints_of_a_department(desk: Desk, refs: dict[str, str]) -> None:
    """H went to logistics (by its category); the GX-1 group to quality."""
    logistics = (await _report(desk, "weekly", "2026-11-25", department="logistics")).json()
    groups = logistics["group_complaints"]
    assert (groups["count"], groups["groups"], groups["customers"]) == (1, 1, 5)
    assert groups["references"] == [refs["H"]]
    quality = (await _report(desk, "weekly", "2026-11-25", department="quality")).json()
    assert (quality["group_complaints"]["count"], quality["group_complaints"]["customers"]) == (
        3,
        3,
    )


async def test_group_complaints_in_excel_csv_and_the_page(desk: Desk, refs: dict[str, str]) -> None:
    """The same figures in the workbook's summary (next to the repeats) and 受理号 list, the
    CSV and the chart page."""
    book = openpyxl.load_workbook(
        io.BytesIO((await _report(desk, "weekly", "2026-11-25", format="xlsx")).content)
    )
    labels = [r[0].value for r in book["概要"].iter_rows(min_row=4)]
    assert labels[labels.index("重复投诉") + 1] == "集体投诉"
    rows = {r[0].value: r for r in book["概要"].iter_rows(min_row=4)}
    assert [c.value for c in rows["集体投诉"][1:4]] == [4, 1, 3.0]
    assert rows["集体投诉"][3].number_format == "0.0%"
    assert (rows["集体投诉组数"][1].value, rows["集体投诉涉及客户数"][1].value) == (2, 8)
    listed = [
        r[1].value for r in book["受理号清单"].iter_rows(min_row=4) if r[0].value == "集体投诉"
    ]
    assert listed == sorted([refs["G1"], refs["G2"], refs["G3"], refs["H"]])
    text = (await _report(desk, "weekly", "2026-11-25", format="csv")).content.decode("utf-8-sig")
    assert "集体投诉,4,1,3.0\r\n" in text
    assert f"集体投诉,{refs['H']}\r\n" in text
    page = (await _report(desk, "weekly", "2026-11-25", format="html")).text
    assert "集体投诉涉及客户数" in page
    assert refs["G3"] in page
