"""RFC 9457 problem documents: the one shape of every error the API returns.

Domain exceptions, request validation errors and HTTP errors are all mapped here; nothing else
builds an error response. A 500 never carries a stack trace, only an id to find it in the logs.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.intake_api.audit_trail import record_denial
from shared.db.engine import DatabaseUnavailable
from shared.domain import errors as domain
from shared.domain.lifecycle import InvalidTransition
from shared.storage import StorageUnavailable

log = logging.getLogger("kesu.api")

PROBLEM_JSON = "application/problem+json"
# How long a client should wait before retrying while a dependency is unreachable.
UNAVAILABLE_RETRY_AFTER = 5


class ProblemError(BaseModel):
    loc: list[str | int] = Field(description='Where: e.g. ["body", "customer", "phone"]')
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(default="about:blank", description="A URI reference naming the problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = Field(
        default=None, description="Field-level details of a validation problem"
    )
    allowed_actions: list[str] | None = Field(
        default=None, description="For an action refused in the current state: what is allowed"
    )


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extensions.items() if v is not None})
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            400,
            type_="/problems/malformed-json",
            title="Malformed JSON",
            detail="The request body is not valid JSON.",
            instance=request.url.path,
            errors=_field_errors(errors),
        )
    return problem_response(
        422,
        type_="/problems/validation",
        title="Invalid input",
        detail="Some fields are missing or invalid; see errors.",
        instance=request.url.path,
        errors=_field_errors(errors),
    )


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        exc.status_code, detail=detail, instance=request.url.path, headers=exc.headers
    )


_DOMAIN_STATUS: list[tuple[type[domain.DomainError], int, str]] = [
    (domain.Unauthenticated, 401, "about:blank"),
    (domain.RateLimited, 429, "about:blank"),
    (domain.InvalidInput, 422, "/problems/validation"),
    (domain.NotFound, 404, "about:blank"),
    (domain.PreconditionFailed, 412, "/problems/stale-version"),
    (domain.PreconditionRequired, 428, "/problems/if-match-required"),
    (domain.Forbidden, 403, "about:blank"),
    (domain.Conflict, 409, "/problems/conflict"),
]


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, domain.DomainError)
    status, type_ = next(
        ((s, t) for cls, s, t in _DOMAIN_STATUS if isinstance(exc, cls)),
        (422, "/problems/domain-rule"),
    )
    extensions: dict[str, Any] = {}
    if isinstance(exc, domain.InvalidInput):
        extensions["errors"] = [
            {"loc": list(e.loc), "msg": e.msg, "type": e.type} for e in exc.errors
        ]
    if isinstance(exc, InvalidTransition):
        type_ = "/problems/invalid-transition"
        extensions["allowed_actions"] = sorted(str(a) for a in exc.allowed)
    type_ = getattr(exc, "problem_type", None) or type_
    title = exc.title if type_ != "about:blank" else None
    headers: dict[str, str] = {}
    if isinstance(exc, domain.Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="kesu"'
    if isinstance(exc, domain.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, domain.Unauthenticated | domain.Forbidden | domain.NotVisible):
        await record_denial(request, status, exc.detail)
    return problem_response(
        status,
        type_=type_,
        title=title,
        detail=exc.detail,
        instance=request.url.path,
        headers=headers,
        **extensions,
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    """PostgreSQL (or Redis, where a request needs it) is unreachable: 503 with Retry-After.
    Logged once per outage where the outage is seen (`shared.outage`), not per request."""
    what = "The database" if isinstance(exc, DatabaseUnavailable) else "A service we depend on"
    return problem_response(
        503,
        type_="/problems/unavailable",
        title="Service Unavailable",
        detail=f"{what} is unreachable for the moment; retry after the given delay.",
        instance=request.url.path,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex
    # The exception's message may quote input (personal data): log its type and frames only.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "unhandled %s (incident %s) on %s %s\n%s",
        type(exc).__name__,
        incident,
        request.method,
        request.url.path,
        frames,
    )
    return problem_response(
        500,
        detail=f"An unexpected error occurred (incident {incident}).",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(domain.DomainError, _domain)
    app.add_exception_handler(DatabaseUnavailable, _unavailable)
    app.add_exception_handler(RedisError, _unavailable)
    app.add_exception_handler(StorageUnavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem responses an operation may give."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
