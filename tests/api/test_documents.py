"""The printed 《投诉处理单》 (seed 002) and the 台帐 export (seeds 000 / 003: 客户投诉登记表).

The PDF is checked as a reader would get it: rendered to PNG by poppler's `pdftoppm`, its text
layer read by `pdftotext`, its font listed by `pdffonts` (embedded, so it prints anywhere)."""

from __future__ import annotations

import csv
import io
import subprocess
import urllib.parse
from pathlib import Path

import httpx
import openpyxl
import pytest

from tests.conftest import Staff
from tests.support.factories import complaint_body
from tests.support.flow import sign_off
from tests.support.principals import create_key
from tests.support.resolution import SOLUTION, resolve_through_api

ROOT_CAUSE = "注塑工序温度参数漂移，底座绝缘层偏薄"
ACTION = "注塑温度纳入首件检验，每班点检"


def _tool(*args: str) -> str:
    """A poppler tool's output (pdftotext, pdfinfo, pdffonts, pdftoppm)."""
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "form.pdf"
    path.write_bytes(pdf)
    return _tool("pdftotext", "-layout", str(path), "-")


async def test_the_handling_form_is_an_a4_pdf_with_every_section_seed_002(
    anon: httpx.AsyncClient, staff: Staff, tmp_path: Path
) -> None:
    """Seed 002 《投诉处理单》: registration, timeline, findings and responsibility, solution
    and approvals, customer agreement, result, satisfaction, corrective actions, sign-offs."""
    phone = "13912345678"
    body = complaint_body()
    body["customer"] = {**body["customer"], "phone": phone, "name": "赵敏"}
    resolved = await resolve_through_api(
        anon,
        registrar=staff.agent.headers,
        manager=staff.manager.headers,
        handler=staff.handler_quality,
        **body,
    )
    flow = resolved.flow
    upload = await anon.post(
        f"/api/v1/complaints/{flow.id}/attachments",
        files={"file": ("检测报告.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        headers=staff.agent.headers,
    )
    assert upload.status_code == 201, upload.text
    await flow.refresh(staff.agent.headers)
    own = staff.handler_quality.headers
    await flow.act("record_root_cause", own, {"root_cause": ROOT_CAUSE})
    await flow.act(
        "add_corrective_action",
        own,
        {"description": ACTION, "owner": "质量部 王工", "due_date": "2026-12-31"},
    )
    await sign_off(flow, "closed", staff)  # 回访 by an agent, 审核 by a manager, 存档 by the clerk

    answer = await anon.get(f"/api/v1/complaints/{flow.id}/form", headers=staff.agent.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert (
        "filename*=UTF-8''" + urllib.parse.quote("投诉处理单_")
        in (answer.headers["content-disposition"])
    )
    pdf = answer.content
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf, tmp_path)
    for expected in (
        "投诉处理单",
        resolved.reference,
        "受理登记",
        "处理经过",
        "调查结果与责任判定",
        "公司责任",
        ROOT_CAUSE,
        "处理方案与审批",
        SOLUTION,
        "客户意见",
        "同意",
        "满意度",
        "满意",
        "纠正预防措施",
        ACTION,
        "检测报告.pdf",
        "审核与存档",
        "审核人",
        "存档人",
        "结案存档",
        "赵敏",
        phone,  # an agent contacts customers: the number in clear
    ):
        assert expected in text, expected

    # A4 (595 x 842 points), the Chinese font embedded.
    info = _tool("pdfinfo", str(tmp_path / "form.pdf"))
    assert "595.276 x 841.89 pts (A4)" in info
    fonts = _tool("pdffonts", str(tmp_path / "form.pdf"))
    noto = [line for line in fonts.splitlines() if "NotoSansSC" in line]
    assert noto
    assert all(" yes yes yes " in f" {' '.join(line.split()[-5:])} " for line in noto)

    # Rendered as a printer would: a page image with ink on it.
    _tool(
        "pdftoppm",
        "-r",
        "60",
        "-png",
        "-f",
        "1",
        "-l",
        "1",
        str(tmp_path / "form.pdf"),
        str(tmp_path / "page"),
    )
    page = tmp_path / "page-1.png"
    assert page.stat().st_size > 10_000

    # The auditor reads the same form with the phone number masked.
    masked = await anon.get(f"/api/v1/complaints/{flow.id}/form", headers=staff.auditor.headers)
    assert masked.status_code == 200
    masked_text = _pdf_text(masked.content, tmp_path)
    assert phone not in masked_text
    assert "139****5678" in masked_text


async def test_the_form_of_a_hidden_complaint_is_404(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, staff: Staff
) -> None:
    created = await client.post("/api/v1/complaints", json=complaint_body())
    assert created.status_code == 201
    hidden = await anon.get(
        f"/api/v1/complaints/{created.json()['id']}/form",
        headers=staff.handler_logistics.headers,  # a product-quality case: not their department
    )
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
async def ledger_keys(
    anon: httpx.AsyncClient, admin_headers: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Two fresh integrations: each sees only what it registered (one with contact data)."""
    clear = await create_key(
        anon, admin_headers, ["complaints:create", "complaints:read", "pii:read"]
    )
    masked = await create_key(anon, admin_headers, ["complaints:create", "complaints:read"])
    return clear.headers, masked.headers


async def test_the_ledger_csv_follows_the_list_filters_and_access(
    anon: httpx.AsyncClient, ledger_keys: tuple[dict[str, str], dict[str, str]]
) -> None:
    clear, masked = ledger_keys
    mine = []
    for category in ("logistics", "logistics", "product_quality"):
        body = complaint_body(category=category, content=f"快递外箱破损，{category}，内件受潮")
        created = await anon.post("/api/v1/complaints", json=body, headers=clear)
        assert created.status_code == 201
        mine.append((created.json(), body["customer"]["phone"]))
    other = await anon.post("/api/v1/complaints", json=complaint_body(), headers=masked)
    assert other.status_code == 201

    answer = await anon.get(
        "/api/v1/complaints/export",
        params={"format": "csv", "category": "logistics"},
        headers=clear,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert (
        "filename*=UTF-8''" + urllib.parse.quote("投诉台帐_")
        in (answer.headers["content-disposition"])
    )
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    header, lines = rows[0], rows[1:]
    assert header[:3] == ["受理号", "登记时间", "受理渠道"]
    listed = await anon.get(
        "/api/v1/complaints",
        params={"category": "logistics", "sort": "created_at"},
        headers=clear,
    )
    # The same complaints as the list with the same filters: this key's two logistics ones.
    assert [line[0] for line in lines] == [c["reference"] for c in listed.json()["items"]]
    assert sorted(line[0] for line in lines) == sorted(
        c["reference"] for c, _ in mine if c["category"] == "logistics"
    )
    phones = {line[header.index("联系电话")] for line in lines}
    assert phones <= {f"+86{p}" for _, p in mine}  # stored and shown as E.164
    assert all("快递外箱破损" in line[header.index("投诉内容")] for line in lines)
    assert {line[header.index("投诉类别")] for line in lines} == {"物流配送"}

    # Without pii:read the numbers are masked, as in the list.
    hidden = await anon.get("/api/v1/complaints/export", params={"format": "csv"}, headers=masked)
    hidden_rows = list(csv.reader(io.StringIO(hidden.content.decode("utf-8-sig"))))
    assert len(hidden_rows) == 2
    assert "****" in hidden_rows[1][hidden_rows[0].index("联系电话")]


async def test_the_ledger_as_excel(
    anon: httpx.AsyncClient, ledger_keys: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    clear, masked = ledger_keys
    phones = []
    for _ in range(3):
        body = complaint_body()
        created = await anon.post("/api/v1/complaints", json=body, headers=clear)
        assert created.status_code == 201
        phones.append(f"+86{body['customer']['phone']}")
    answer = await anon.get("/api/v1/complaints/export", params={"format": "xlsx"}, headers=clear)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(answer.content)
    read_only = openpyxl.load_workbook(path, read_only=True)
    rows = list(read_only["台帐"].iter_rows(values_only=True))
    read_only.close()  # a read-only workbook keeps its file open until closed
    assert rows[0][0] == "受理号"
    assert len(rows) == 4
    assert all(str(r[0]).startswith("KS-") for r in rows[1:])

    # The same workbook as the CSV's lines, typed: Chinese headers, the header row frozen,
    # times as Excel dates (Asia/Shanghai wall time) with a date format, the level a number.
    book = openpyxl.load_workbook(path)
    sheet = book["台帐"]
    header = [c.value for c in sheet[1]]
    csv_answer = await anon.get(
        "/api/v1/complaints/export", params={"format": "csv"}, headers=clear
    )
    csv_rows = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert header == csv_rows[0]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b
    assert sheet.column_dimensions["L"].width > 50  # 投诉内容, the widest
    created_at = sheet.cell(row=2, column=header.index("登记时间") + 1)
    assert created_at.is_date
    assert created_at.number_format == "yyyy-mm-dd hh:mm"
    assert f"{created_at.value:%Y-%m-%d %H:%M}" == csv_rows[1][header.index("登记时间")]
    level = sheet.cell(row=2, column=header.index("级别") + 1).value
    assert isinstance(level, int)
    assert str(level) == csv_rows[1][header.index("级别")]
    lines = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(lines) == len(csv_rows) - 1
    for line, csv_line in zip(lines, csv_rows[1:], strict=True):
        texts = [header.index(h) for h in ("受理号", "状态", "客户姓名", "投诉内容", "客户诉求")]
        assert [line[i] or "" for i in texts] == [csv_line[i] for i in texts]
    assert {r[header.index("联系电话")] for r in rows[1:]} == set(phones)

    # Without pii:read the numbers are masked in the workbook too, as in the list.
    for _ in range(2):
        other = await anon.post("/api/v1/complaints", json=complaint_body(), headers=masked)
        assert other.status_code == 201
    hidden = await anon.get("/api/v1/complaints/export", params={"format": "xlsx"}, headers=masked)
    assert hidden.status_code == 200, hidden.text
    path.write_bytes(hidden.content)
    hidden_rows = list(openpyxl.load_workbook(path)["台帐"].iter_rows(values_only=True))
    assert len(hidden_rows) == 3
    assert all("****" in str(r[header.index("联系电话")]) for r in hidden_rows[1:])


@pytest.mark.parametrize(
    ("params", "status"),
    [
        (
            {
                "created_from": "2025-01-01T00:00:00+08:00",
                "created_to": "2026-06-01T00:00:00+08:00",
            },
            422,
        ),
        (
            {
                "created_from": "2026-06-01T00:00:00+08:00",
                "created_to": "2026-05-01T00:00:00+08:00",
            },
            422,
        ),
        ({"format": "pdf"}, 422),
        ({"customer_phone": "13800000000"}, 403),  # contact search without contact data
    ],
)
async def test_bad_export_queries(
    anon: httpx.AsyncClient,
    ledger_keys: tuple[dict[str, str], dict[str, str]],
    params: dict[str, str],
    status: int,
) -> None:
    _, masked = ledger_keys
    answer = await anon.get("/api/v1/complaints/export", params=params, headers=masked)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
