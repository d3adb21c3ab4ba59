"""The customers' own pages (H5) and the API docs in a real headless Chromium: at a phone's
screen size in WeChat's user agent, the status lookup shows a complaint's progress, the survey
from the SMS link is answered by tapping, the Chinese is drawn with a CJK font (not tofu), and
no page fetches anything from outside the service. Screenshots: $TMPDIR/kesu-screenshots/."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text

from services.intake_api.app import create_app
from shared.config import Settings
from shared.db.engine import Database
from tests.conftest import Staff, make_settings
from tests.support.browser import Browser, Page, chromium, serve
from tests.support.factories import complaint_body, mobile
from tests.support.resolution import resolve_through_api

CJK_FAMILIES = ("CJK", "WenQuanYi", "Droid Sans Fallback", "Source Han")


@pytest_asyncio.fixture(scope="module")
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


def _drawn_in_cjk(fonts: list[dict[str, Any]]) -> bool:
    """Every glyph of the text came from a CJK font: no fallback boxes."""
    return bool(fonts) and all(
        any(name in font["familyName"] for name in CJK_FAMILIES) for font in fonts
    )


async def _phone_page(browser: Browser) -> Page:
    return await browser.new_page(phone=True)


async def test_the_status_lookup_shows_the_progress_on_a_phone(
    browser: Browser, base: str, client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    phone = mobile()
    created = await client.post(
        "/api/v1/complaints", json=complaint_body(customer={"name": "王芳", "phone": phone})
    )
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    expected = await anon.post(
        "/api/v1/public/status-lookup", json={"reference": reference, "phone": phone}
    )
    assert expected.status_code == 200, expected.text
    page = await _phone_page(browser)

    await page.goto(f"{base}/h5/")
    assert await page.evaluate("document.title") == "投诉进度查询"
    assert await page.evaluate("window.innerWidth") == 390
    await page.type("#reference", reference)
    await page.type("#phone", phone)
    await page.tap("#lookup-submit")
    await page.wait_for("!document.getElementById('result').hidden")

    assert await page.evaluate("document.getElementById('r-reference').textContent") == reference
    assert (
        await page.evaluate("document.getElementById('r-stage').textContent")
        == (expected.json()["stage"])
    )
    registered = await page.evaluate("document.getElementById('r-registered').textContent")
    assert registered.startswith(expected.json()["registered_at"][:4] + "年")
    await page.screenshot("h5-status")
    assert _drawn_in_cjk(await page.fonts_of("h1")), await page.fonts_of("h1")
    assert _drawn_in_cjk(await page.fonts_of("label[for=reference]"))
    assert page.outside(base) == []


async def test_a_wrong_phone_number_is_told_in_chinese(browser: Browser, base: str) -> None:
    page = await _phone_page(browser)
    await page.goto(f"{base}/h5/?reference=KS-20261203-999999")
    assert await page.evaluate("document.getElementById('reference').value") == (
        "KS-20261203-999999"
    )
    await page.type("#phone", "13800000000")
    await page.tap("#lookup-submit")
    message = await page.wait_for(
        "document.getElementById('message').className.includes('error')"
        " && document.getElementById('message').textContent"
    )
    assert message == "没有找到这条投诉，请核对受理号和手机号码。"
    assert page.outside(base) == []


async def _survey_link(db: Database, complaint_id: str) -> str:
    async with db.connect() as conn:
        row = await conn.execute(
            text(
                "SELECT payload->>'survey_url' FROM outbox WHERE complaint_id = :id "
                "AND template_key = 'survey_invitation'"
            ),
            {"id": uuid.UUID(complaint_id)},
        )
        link: str = row.scalar_one()
    return link


async def test_the_survey_from_the_sms_link_is_answered_by_tapping(
    browser: Browser, base: str, anon: httpx.AsyncClient, staff: Staff, db: Database
) -> None:
    """Seed 002 §5.3.1.6: the five answers 1 非常满意 … 5 很不满意, chosen with a tap, with a
    comment in Chinese; the answer is recorded on the complaint."""
    done = await resolve_through_api(
        anon,
        registrar=staff.agent.headers,
        manager=staff.manager.headers,
        handler=staff.handler_quality,
        customer={"name": "王芳", "phone": mobile()},
    )
    link = urlsplit(await _survey_link(db, done.flow.id))
    # By default the link lands on these pages (KESU_PUBLIC_BASE_URL unset).
    assert link.path == "/h5/survey"
    token = parse_qs(link.query)["token"][0]
    page = await _phone_page(browser)

    await page.goto(f"{base}/h5/survey?token={token}")
    labels = await page.evaluate(
        "Array.from(document.querySelectorAll('.score')).map(b => b.textContent)"
    )
    assert labels == ["1 非常满意", "2 满意", "3 可理解/接受", "4 不满意", "5 很不满意"]
    assert await page.evaluate("document.getElementById('survey-submit').disabled")
    await page.tap(".score[data-score='2']")
    assert await page.evaluate(
        "document.querySelector(\".score[data-score='2']\").getAttribute('aria-checked')"
    ) == ("true")
    await page.type("#comment", "处理及时，态度很好")
    await page.screenshot("h5-survey-chosen")
    assert _drawn_in_cjk(await page.fonts_of("h1"))
    assert _drawn_in_cjk(await page.fonts_of("label[for=comment]"))
    await page.tap("#survey-submit")
    message = await page.wait_for(
        "document.getElementById('message').className.includes('ok')"
        " && document.getElementById('message').textContent"
    )
    assert message == "感谢您的评价！"
    await page.screenshot("h5-survey-thanks")
    assert page.outside(base) == []

    complaint = await anon.get(f"/api/v1/complaints/{done.flow.id}", headers=staff.manager.headers)
    assert complaint.json()["satisfaction"] == 2
    assert complaint.json()["satisfaction_source"] == "survey"

    # The link works once: tapping again on a fresh load is told so.
    await page.goto(f"{base}/h5/survey?token={token}")
    await page.tap(".score[data-score='1']")
    await page.tap("#survey-submit")
    message = await page.wait_for(
        "document.getElementById('message').className.includes('error')"
        " && document.getElementById('message').textContent"
    )
    assert message == "该评价链接已使用或已失效。"


async def test_the_pages_refuse_outside_content_and_referrers(anon: httpx.AsyncClient) -> None:
    for path in ("/h5/", "/h5/survey"):
        response = await anon.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "connect-src 'self'" in policy
        assert response.headers["referrer-policy"] == "no-referrer"
    assert (await anon.get("/h5/survey")).headers["cache-control"] == "no-store"
    redirect = await anon.get("/h5")
    assert redirect.status_code == 308
    assert redirect.headers["location"] == "/h5/"


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        # The sidebar's logo (drawn last): its address.
        ("/redoc", "(document.querySelector('img[alt=\"redocly logo\"]') || {}).src"),
        ("/docs", "(document.querySelector('.swagger-ui .info .title') || {}).textContent"),
    ],
)
async def test_the_docs_load_nothing_from_the_internet(
    browser: Browser, base: str, path: str, rendered: str
) -> None:
    """ReDoc's bundled script draws Redocly's logo from cdn.redoc.ly: served here, it is inline."""
    page = await browser.new_page()
    await page.goto(f"{base}{path}")
    drawn = await page.wait_for(rendered, within=60)
    if path == "/redoc":
        assert drawn.startswith("data:image/svg+xml,")
    await page.screenshot(f"docs{path.replace('/', '-')}")
    assert page.outside(base) == []


@pytest_asyncio.fixture(scope="module")
async def strict_base(settings: Settings) -> AsyncIterator[str]:
    """The API with a public limit of 2 lookups a minute per client address."""
    strict = create_app(
        make_settings(
            settings.require_database_url(),
            settings.require_redis_url(),
            public_lookup_ip_limit="2/minute",
        )
    )
    async with strict.router.lifespan_context(strict), serve(strict) as url:
        yield url


async def test_the_pages_are_rate_limited_as_the_api_is(browser: Browser, strict_base: str) -> None:
    """The page's lookups are the public API's: past the per-address limit the customer is
    told, in Chinese, how long to wait (429's Retry-After)."""
    page = await _phone_page(browser)
    await page.goto(f"{strict_base}/h5/?reference=KS-20261203-999998")
    await page.type("#phone", "13800000000")
    messages = []
    for _ in range(3):
        await page.wait_for("!document.getElementById('lookup-submit').disabled")
        await page.tap("#lookup-submit")
        messages.append(
            await page.wait_for(
                "document.getElementById('message').className.includes('error')"
                " && !document.getElementById('lookup-submit').disabled"
                " && document.getElementById('message').textContent"
            )
        )
        await page.evaluate("document.getElementById('message').className = 'message'")
    assert messages[:2] == ["没有找到这条投诉，请核对受理号和手机号码。"] * 2
    assert re.fullmatch(r"操作过于频繁，请 \d+ 秒后再试。", messages[2]), messages
