"""The lifecycle in the docs: the transition table as Markdown in the Swagger UI tag description
(`/docs`, `/redoc`), and drawn as a state diagram on its own page (`/docs/lifecycle`) with a
vendored Mermaid (services/intake_api/static/README.md). Everything is generated from
`shared.domain.lifecycle`, so the docs can never disagree with what the API enforces, and
nothing is loaded from outside the service (ops read the docs on intranets)."""

from __future__ import annotations

import html
from functools import cache
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from shared.domain.enums import Status
from shared.domain.lifecycle import (
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Relative,
    allowed_actions,
    mermaid_state_diagram,
)

MERMAID_VERSION = "12.3.0"
STATIC_DIR = Path(__file__).parent / "static"
# The version is in the URL, so browsers may keep the file for good (a new version is a new URL).
MERMAID_PATH = f"/static/mermaid-{MERMAID_VERSION}.min.js"
LIFECYCLE_PAGE_PATH = "/docs/lifecycle"
IMMUTABLE = "public, max-age=31536000, immutable"
# ReDoc as fastapi-offline bundles it, but its sidebar's Redocly logo is fetched from
# cdn.redoc.ly by the script itself: served here with that one URL made an inline image, so
# `/redoc` loads nothing from outside the service.
OFFLINE_DOCS_STATIC = "/static-offline-docs"
REDOC_BUNDLE = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
REDOC_LOGO_URL = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO_INLINE = (
    b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='16' height='16'%3E"
    b"%3Ccircle cx='8' cy='8' r='7' fill='%23b3b3b3'/%3E%3C/svg%3E"
)
REDOC_PATH = f"/static/redoc-{version('fastapi-offline')}.standalone.js"

router = APIRouter(include_in_schema=False)


def _target(action: Action) -> str:
    target = TRANSITIONS[action].target
    if target is Relative.SAME:
        return "·"
    if target is Relative.PREVIOUS:
        return "(back to where it paused)"
    return str(target)


def _moves(status: Status) -> list[tuple[str, str]]:
    """(action path segment, next status) for every action allowed in `status`."""
    return [(a.slug, _target(a)) for a in sorted(allowed_actions(status))]


def lifecycle_markdown() -> str:
    lines = [
        "### The complaint lifecycle (处理流程)",
        "",
        "Each action is `POST /api/v1/complaints/{id}/<action>` with `If-Match`. An action not",
        "allowed in the current status gets **409** with `allowed_actions`. `·` = the status",
        "stays.",
        "",
        # Relative, so it works behind a path prefix too (resolved against /docs or /redoc).
        "**[The state diagram (状态图)](docs/lifecycle)**, drawn from the same table.",
        "",
        "| status | actions → next status |",
        "|---|---|",
    ]
    for status in Status:
        moves = ", ".join(f"`{action}` → {target}" for action, target in _moves(status))
        lines.append(f"| **{status.value}** {STATUS_LABELS[status]} | {moves} |")
    lines += [
        "",
        "State diagram (Mermaid source):",
        "",
        "```mermaid",
        mermaid_state_diagram(include_in_place=False).rstrip(),
        "```",
    ]
    return "\n".join(lines)


def lifecycle_page(root_path: str = "") -> str:
    """The page: the diagram of status changes, then every status with what it allows."""
    rows = "\n".join(
        f"<tr><th>{status.value}<br><small>{html.escape(STATUS_LABELS[status])}</small></th>"
        "<td>"
        + ", ".join(f"<code>{a}</code> → {html.escape(t)}" for a, t in _moves(status))
        + "</td></tr>"
        for status in Status
    )
    diagram = html.escape(mermaid_state_diagram(include_in_place=False))
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>Kesu 客诉 — the complaint lifecycle (处理流程)</title>
<style>
body {{ font-family: sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
pre.mermaid {{ background: #fff; }}
</style>
</head>
<body>
<h1>The complaint lifecycle (处理流程)</h1>
<p>Each action is <code>POST /api/v1/complaints/{{id}}/&lt;action&gt;</code> with
<code>If-Match</code>; an action the status does not allow gets 409 with
<code>allowed_actions</code>. <a href="{root_path}/docs">Back to the API docs</a>.</p>
<pre class="mermaid" id="lifecycle-diagram">
{diagram}</pre>
<h2>What each status allows (· = the status stays)</h2>
<table>
{rows}
</table>
<script src="{root_path}{MERMAID_PATH}"></script>
<script>mermaid.initialize({{ startOnLoad: true, securityLevel: "strict" }});</script>
</body>
</html>
"""


@router.get(LIFECYCLE_PAGE_PATH)
async def lifecycle_diagram(request: Request) -> HTMLResponse:
    return HTMLResponse(lifecycle_page(html.escape(request.scope.get("root_path", ""))))


@router.get(MERMAID_PATH)
async def mermaid_script() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "mermaid.min.js",
        media_type="text/javascript",
        headers={"Cache-Control": IMMUTABLE},
    )


@cache
def offline_redoc_bundle() -> bytes:
    return REDOC_BUNDLE.read_bytes().replace(REDOC_LOGO_URL, REDOC_LOGO_INLINE)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = html.escape(request.scope.get("root_path", ""))
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{REDOC_PATH}",
        redoc_favicon_url=f"{root}{OFFLINE_DOCS_STATIC}/favicon.png",
        with_google_fonts=False,
    )


@router.get(REDOC_PATH)
async def redoc_script() -> Response:
    return Response(
        offline_redoc_bundle(),
        media_type="text/javascript",
        headers={"Cache-Control": IMMUTABLE},
    )
