"""Pure ASGI middleware: request body limit (413), a structured access log, and the end of an
answered error; and the masking of the API's logs.

Written as raw ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake_api.auth.secrets import CREDENTIAL_PATTERNS
from services.intake_api.problems import PROBLEM_JSON
from shared.log_masking import RedactPersonalData, protect

access_log = logging.getLogger("kesu.access")

# The API's loggers, and uvicorn's (its error log quotes exceptions, messages included).
API_LOGGERS = (
    "kesu.access",
    "kesu.api",
    "kesu.audit",
    "kesu.db",
    "kesu.http",
    "kesu.ratelimit",
    "uvicorn.error",
)
_REDACT = RedactPersonalData(CREDENTIAL_PATTERNS)


def protect_logs() -> None:
    """Mask personal data and credentials (a key a client put in a URL path) in every record of
    the API's loggers and in whatever reaches the process's handlers."""
    loggers = [logging.getLogger(name) for name in API_LOGGERS]
    protect(_REDACT, loggers, handlers_of=logging.getLogger())
    protect(_REDACT, [], handlers_of=logging.getLogger("uvicorn"))


class BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI re-raises HTTPExceptions met while reading a body, so the
    problem handler answers 413 (any other exception there would become a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"The request body exceeds {limit} bytes.")


def _problem_413(limit: int) -> list[Message]:
    body = orjson.dumps(
        {
            "type": "/problems/body-too-large",
            "code": "body-too-large",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"The request body exceeds {limit} bytes.",
        }
    )
    return [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


def is_upload(scope: Scope) -> bool:
    """The evidence uploads (`POST …/attachments`): their bodies are files, streamed."""
    return scope["method"] == "POST" and str(scope["path"]).endswith("/attachments")


class BodyLimitMiddleware:
    """Refuse bodies over `limit` bytes (`upload_limit` for evidence uploads), by
    Content-Length up front or while streaming."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None) -> None:
        self.app = app
        self.default_limit = limit
        self.upload_limit = upload_limit or limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if is_upload(scope) else self.default_limit
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = False
                if too_large:
                    for message in _problem_413(limit):
                        await send(message)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            for message in _problem_413(limit):
                await send(message)


class AccessLogMiddleware:
    """One JSON line per request: method, path (never the query: it may hold phone numbers),
    status, duration and the principal. Personal data is never logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            record: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
            }
            principal = scope.get("state", {}).get("principal_label")
            if principal:
                record["principal"] = principal
            access_log.info(orjson.dumps(record).decode())


class AnsweredErrors:
    """Outermost: an unhandled exception that was answered stops here.

    Starlette's ServerErrorMiddleware answers it with our 500 handler (`problems._unexpected`,
    which logs it once with an incident id, never its message) and then raises it again for
    the server to log: uvicorn would log it a second time with its message, and a validation
    error's message quotes its input (a phone number)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if not started:
                raise
