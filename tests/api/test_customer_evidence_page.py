"""The customer's evidence upload on the H5 status page, in a real headless Chromium at a
phone's size: after the lookup (受理号 + phone), a photo chosen on the phone is uploaded to the
public attachments endpoint and lands in the complaint's evidence (证据附件)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI

from tests.conftest import Staff
from tests.support.browser import Browser, chromium, serve
from tests.support.evidence import png
from tests.support.factories import complaint_body, mobile


@pytest_asyncio.fixture(scope="module")
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def test_a_customer_uploads_a_photo_after_the_lookup(
    browser: Browser,
    base: str,
    anon: httpx.AsyncClient,
    staff: Staff,
    tmp_path: Path,
) -> None:
    phone = mobile()
    created = await anon.post(
        "/api/v1/complaints",
        json=complaint_body(customer={"name": "王芳", "phone": phone}),
        headers=staff.agent.headers,
    )
    assert created.status_code == 201, created.text
    complaint = created.json()
    photo = tmp_path / "漏水照片.png"
    photo.write_bytes(png(24, 24))

    page = await browser.new_page(phone=True)
    await page.goto(f"{base}/h5/")
    assert await page.evaluate("document.getElementById('evidence').hidden") is True
    await page.type("#reference", complaint["reference"])
    await page.type("#phone", phone)
    await page.tap("#lookup-submit")
    await page.wait_for("!document.getElementById('evidence').hidden")

    document = await page.send("DOM.getDocument", depth=0)
    node = await page.send(
        "DOM.querySelector", nodeId=document["root"]["nodeId"], selector="#evidence-file"
    )
    await page.send("DOM.setFileInputFiles", files=[str(photo)], nodeId=node["nodeId"])
    await page.tap("#evidence-submit")
    said = await page.wait_for(
        "(() => { const t = document.getElementById('evidence-message').textContent;"
        " return t.indexOf('已收到') === 0 ? t : ''; })()"
    )
    assert "漏水照片.png" in said
    await page.screenshot("h5-evidence")
    assert page.outside(base) == []

    listed = await anon.get(
        f"/api/v1/complaints/{complaint['id']}/attachments", headers=staff.agent.headers
    )
    assert [(f["file_name"], f["uploaded_by_kind"]) for f in listed.json()["items"]] == [
        ("漏水照片.png", "customer")
    ]
