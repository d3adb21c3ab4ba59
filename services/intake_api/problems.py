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
from services.intake_api.problem_catalog import (
    CATALOG,
    CODE_OF_STATUS,
    problem_type,
    wants_chinese,
)
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
    """An RFC 9457 problem document. `code` names the kind of problem (stable; the `type` is
    `/problems/<code>`); `title` and `detail` follow `Accept-Language` (zh → 中文)."""

    type: str = Field(
        description="A URI reference naming the problem", examples=["/problems/tier-too-low"]
    )
    code: str = Field(
        description="The kind of problem, stable: switch on it", examples=["tier-too-low"]
    )
    title: str = Field(examples=["受理级别不足"])
    status: int = Field(examples=[403])
    detail: str | None = Field(
        default=None,
        examples=[
            "此投诉的级别需要更高一级受理人处理，请转交上级。"
            "（a level-2 complaint needs a higher tier to triage）"
        ],
    )
    instance: str | None = Field(default=None, examples=["/api/v1/complaints/0b6f…/triage"])
    errors: list[ProblemError] | None = Field(
        default=None, description="Field-level details of a validation problem"
    )
    allowed_actions: list[str] | None = Field(
        default=None,
        description="For an action refused in the current status: the actions the status allows",
    )


def problem_response(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    request: Request | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """The problem document of `code` (by default, the status's), with its title and detail in
    the language the request asks for: in Chinese the code's advice, then `detail` (which says
    what exactly was refused) in brackets."""
    code = code or CODE_OF_STATUS.get(status, "bad-request" if status < 500 else "internal-error")
    kind = CATALOG.get(code)
    title = kind.title if kind else HTTPStatus(status).phrase
    if kind and request is not None and wants_chinese(request.headers.get("accept-language")):
        title = kind.title_zh
        detail = f"{kind.advice_zh}（{detail}）" if detail else kind.advice_zh
    body: dict[str, Any] = {
        "type": problem_type(code),
        "code": code,
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance or request is not None:
        body["instance"] = instance or (request.url.path if request is not None else None)
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
            code="malformed-json",
            detail="The request body is not valid JSON.",
            request=request,
            errors=_field_errors(errors),
        )
    detail = "Some fields are missing or invalid; see errors."
    if _form_sent_as_json(request, errors):
        detail = (
            "This endpoint takes a form: send the fields as application/x-www-form-urlencoded "
            "(username=…&password=…), not JSON."
        )
    return problem_response(
        422, code="validation", detail=detail, request=request, errors=_field_errors(errors)
    )


def _form_sent_as_json(request: Request, errors: Sequence[Any]) -> bool:
    """Form fields missing from a JSON body: the client sent JSON to a form endpoint (sign-in)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    missing_form = any(
        e.get("type") == "missing" and tuple(e.get("loc", ()))[:1] == ("body",) for e in errors
    )
    route = request.scope.get("route")
    body_media = getattr(getattr(route, "body_field", None), "field_info", None)
    takes_form = getattr(body_media, "media_type", "") == "application/x-www-form-urlencoded"
    return missing_form and takes_form and media_type.endswith("json")


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == HTTPStatus(exc.status_code).phrase:
        detail = None  # Starlette's default: the title says it already
    return problem_response(exc.status_code, detail=detail, request=request, headers=exc.headers)


# The status of each kind of domain refusal; a subclass takes its parent's.
_DOMAIN_STATUS: list[tuple[type[domain.DomainError], int]] = [
    (domain.Unauthenticated, 401),
    (domain.RateLimited, 429),
    (domain.InvalidInput, 422),
    (domain.NotFound, 404),
    (domain.PreconditionFailed, 412),
    (domain.PreconditionRequired, 428),
    (domain.Forbidden, 403),
    (domain.Conflict, 409),
]


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, domain.DomainError)
    status = next((s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls)), 422)
    extensions: dict[str, Any] = {}
    if isinstance(exc, domain.InvalidInput):
        extensions["errors"] = [
            {"loc": list(e.loc), "msg": e.msg, "type": e.type} for e in exc.errors
        ]
    if isinstance(exc, InvalidTransition):
        extensions["allowed_actions"] = sorted(a.slug for a in exc.allowed)
    headers: dict[str, str] = {}
    if isinstance(exc, domain.Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="kesu"'
    detail = exc.detail
    if isinstance(exc, domain.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
        detail = f"{detail} Retry after {exc.retry_after_seconds} s."
    if isinstance(exc, domain.Unauthenticated | domain.Forbidden | domain.NotVisible):
        await record_denial(request, status, exc.detail)
    return problem_response(
        status,
        code=exc.code,
        detail=detail,
        request=request,
        headers=headers,
        **extensions,
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    """PostgreSQL (or Redis, where a request needs it) is unreachable: 503 with Retry-After.
    Logged once per outage where the outage is seen (`shared.outage`), not per request."""
    what = "The database" if isinstance(exc, DatabaseUnavailable) else "A service we depend on"
    return problem_response(
        503,
        code="unavailable",
        detail=f"{what} is unreachable for the moment; retry after the given delay.",
        request=request,
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
        code="internal-error",
        detail=f"An unexpected error occurred (incident {incident}).",
        request=request,
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
