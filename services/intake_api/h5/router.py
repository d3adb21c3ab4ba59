"""The customers' own pages (H5, 客户自助页面), served by the API under `/h5/`: the status lookup
(`/h5/`, 投诉进度查询) and the satisfaction survey the SMS link opens (`/h5/survey?token=…`,
满意度评价). Small static pages in Chinese for phone browsers and WeChat's; their script calls
the public API (`/api/v1/public/status-lookup`, `/api/v1/public/survey`), whose limits per
client address apply. Nothing is loaded from outside the service, and the Content-Security-Policy
says so to the browser too. `KESU_PUBLIC_BASE_URL` defaults to `http://HOST:PORT/h5`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

PAGES = Path(__file__).parent / "pages"
PREFIX = "/h5"
SECURITY_HEADERS = {
    # Same-origin only: the pages, their script and style, and the public API.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    # The survey link's token is in the URL: never sent on as a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@cache
def _content(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def _file(name: str, cache_control: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control}
    media_type = _MEDIA_TYPES[Path(name).suffix]
    return Response(_content(name), media_type=media_type, headers=headers)


@router.get("")
async def h5_root() -> RedirectResponse:
    # The pages' relative links (h5.js, ../api/…) need the trailing slash.
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get("/")
async def status_page() -> Response:
    return _file("status.html", "no-cache")


@router.get("/survey")
async def survey_page() -> Response:
    # Holds a one-time credential in its URL: kept by no cache.
    return _file("survey.html", "no-store")


@router.get("/h5.css")
async def style() -> Response:
    return _file("h5.css", "public, max-age=300")


@router.get("/h5.js")
async def script() -> Response:
    return _file("h5.js", "public, max-age=300")
