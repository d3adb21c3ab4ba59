"""uvicorn's httptools protocol with a header-read timeout (slowloris).

uvicorn bounds the idle time between requests (`--timeout-keep-alive`) but not the time a
client takes to send a request's headers: a connection that sends one header byte a second, or
nothing at all after connecting, is held open for as long as the client likes, and a few
thousand of them exhaust the server. Here a connection must complete each request's headers
within `KESU_HEADER_TIMEOUT_SECONDS` of connecting (first request) or of the previous response
(later ones on a kept-alive connection); otherwise it gets 408 and is closed. The body is not
covered: the app reads it, under `KESU_MAX_BODY_BYTES`.

`services.devstack` starts uvicorn with `--http services.intake_api.http_protocol:
HeaderTimeoutProtocol` (uvicorn imports the class; no code of ours runs before it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.config import get_settings

log = logging.getLogger("kesu.http")

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = get_settings().header_timeout_seconds
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_TIMED_OUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request's headers have arrived already; otherwise the next ones are due.
        queued = bool(self.pipeline)
        super().on_response_complete()
        if not queued and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
