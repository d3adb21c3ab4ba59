"""Real headless Chromium (Debian's `chromium`, with `fonts-noto-cjk`) driven over the DevTools
protocol with `websockets`: pages at a phone's screen size, taps, typed text, screenshots, and
every request the page makes (to prove nothing is fetched from outside).

Started with `--host-resolver-rules` sending every name but 127.0.0.1 nowhere, so a page that
tries to reach the internet fails fast here, and the attempt is still recorded."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A phone (iPhone 12-class viewport) in WeChat's in-app browser.
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/130.0.0.0 Mobile Safari/537.36 XWEB/1300 MMWEBSDK/20241103 "
    "MicroMessenger/8.0.54.2760(0x28003637) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN"
)
SCREENSHOTS = Path(tempfile.gettempdir()) / "kesu-screenshots"


class Connection:
    """One DevTools websocket: commands by id, events to whoever listens."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.listeners: list[Any] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            if "id" in message:
                future = self._waiting.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            else:
                for listener in list(self.listeners):
                    listener(message)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        command: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        await self._ws.send(json.dumps(command))
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._ws.close()


@dataclass
class Page:
    connection: Connection
    session: str
    requests: list[str] = field(default_factory=list)
    _loaded: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, message: dict[str, Any]) -> None:
        if message.get("sessionId") != self.session:
            return
        if message["method"] == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        elif message["method"] == "Page.loadEventFired":
            self._loaded.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.connection.send(method, params, self.session)

    async def goto(self, url: str) -> None:
        self._loaded.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self._loaded.wait(), 30)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = 15) -> Any:
        deadline = time.monotonic() + within
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {within}s: {expression}")
            await asyncio.sleep(0.1)

    async def tap(self, selector: str) -> None:
        """A finger's tap in the middle of the element (a touch gesture, not a script click)."""
        box = await self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        # A touch that starts and ends in place: the browser's gesture detection makes it a tap
        # (focus, click), as a finger's would.
        point = {"x": box["x"], "y": box["y"]}
        await self.send("Input.dispatchTouchEvent", type="touchStart", touchPoints=[point])
        await self.send("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])

    async def type(self, selector: str, text: str) -> None:
        await self.tap(selector)
        await self.send("Input.insertText", text=text)

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = await self.send("Page.captureScreenshot", format="png")
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def fonts_of(self, selector: str) -> list[dict[str, Any]]:
        """The fonts the browser drew the element's text with (family and glyph count)."""
        document = await self.send("DOM.getDocument", depth=0)
        node = await self.send(
            "DOM.querySelector", nodeId=document["root"]["nodeId"], selector=selector
        )
        fonts = await self.send("CSS.getPlatformFontsForNode", nodeId=node["nodeId"])
        result: list[dict[str, Any]] = fonts["fonts"]
        return result

    def outside(self, base: str) -> list[str]:
        """Requests to anywhere but `base` (inline data: and blob: URLs are not requests out)."""
        return [url for url in self.requests if not url.startswith((base, "data:", "blob:"))]


@dataclass
class Browser:
    connection: Connection

    async def new_page(self, *, phone: bool = False) -> Page:
        target = await self.connection.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.connection.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self.connection, attached["sessionId"])
        self.connection.listeners.append(page.on_event)
        for domain in ("Page", "Network", "Runtime", "DOM", "CSS"):
            await page.send(f"{domain}.enable")
        if phone:
            await page.send("Emulation.setDeviceMetricsOverride", **PHONE)
            await page.send("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=5)
            await page.send(
                "Network.setUserAgentOverride", userAgent=WECHAT_UA, acceptLanguage="zh-CN"
            )
        return page


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    profile = tempfile.mkdtemp(prefix="kesu-chromium-")
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            assert process.returncode is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not start"
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        connection = Connection(ws)
        try:
            yield Browser(connection)
        finally:
            await connection.close()
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        shutil.rmtree(profile, ignore_errors=True)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """`app` (its lifespan already running) over real HTTP on a free port; yields the base."""
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ws="none", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    sock = socket.create_server(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # The socket listens already: connections wait in its backlog until the server serves.
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
