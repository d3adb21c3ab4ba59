"""The docs show the lifecycle as a state diagram (issue 4), drawn by the service's own copy of
Mermaid: the page loads nothing from outside, carries the diagram of the transition table, and
the script it names is served (and cached for good, its URL being versioned)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx

from services.intake_api import docs
from shared.domain.enums import Status
from shared.domain.lifecycle import TRANSITIONS, mermaid_state_diagram

PAGE = "/docs/lifecycle"
VENDORED = Path(docs.__file__).parent / "static" / "mermaid.min.js"


def _assets(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)""", page)


async def test_the_page_loads_only_the_services_own_assets(anon: httpx.AsyncClient) -> None:
    response = await anon.get(PAGE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assets = _assets(response.text)
    scripts = re.findall(r"""<script[^>]*\ssrc=["']([^"']+)""", response.text)
    assert len(scripts) == 1
    for asset in assets:
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
    assert "cdn" not in response.text.lower()
    assert "import(" not in response.text  # no module loaded from anywhere else either


async def test_the_script_is_the_vendored_mermaid_cached_for_good(anon: httpx.AsyncClient) -> None:
    page = (await anon.get(PAGE)).text
    (script,) = re.findall(r"""<script[^>]*\ssrc=["']([^"']+)""", page)
    assert "12.3.0" in script  # the version is in the URL: a new one is a new URL
    response = await anon.get(script)
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.content == VENDORED.read_bytes()
    cache = response.headers["cache-control"]
    assert "immutable" in cache
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))  # type: ignore[union-attr]
    assert max_age >= 30 * 24 * 3600
    # The licence travels with it.
    assert "MIT" in (VENDORED.parent / "LICENSE.mermaid").read_text()


async def test_the_page_draws_the_transition_table(anon: httpx.AsyncClient) -> None:
    page = (await anon.get(PAGE)).text
    blocks = re.findall(r'<pre class="mermaid"[^>]*>(.*?)</pre>', page, re.DOTALL)
    assert len(blocks) == 1
    source = html.unescape(blocks[0]).strip()
    assert source == mermaid_state_diagram(include_in_place=False).strip()
    # And, read straight off the table: every status, and every fixed move as an arrow.
    assert source.startswith("stateDiagram-v2")
    arrows = set(re.findall(r"^\s*(\w+) --> (\w+)", source, re.MULTILINE))
    for status in Status:
        assert re.search(rf"^\s*{status.value} : ", source, re.MULTILINE), status
    for action, row in TRANSITIONS.items():
        if isinstance(row.target, Status):
            for origin in row.sources - {row.target}:
                assert (origin.value, row.target.value) in arrows, action


async def test_linked_from_the_api_docs_and_kept_out_of_the_schema(
    anon: httpx.AsyncClient,
) -> None:
    schema = (await anon.get("/openapi.json")).json()
    assert not [p for p in schema["paths"] if p.startswith(("/docs", "/static"))]
    handling = next(t for t in schema["tags"] if t["name"] == "handling")
    (link,) = re.findall(r"\]\((docs/lifecycle)\)", handling["description"])
    # Relative to the Swagger UI page (/docs), as a browser resolves it.
    resolved = httpx.URL("http://kesu.test/docs").join(link)
    assert (await anon.get(resolved.path)).status_code == 200
