"""The OpenAPI document: FastAPI's, with every validation error declared as our problem type."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from services.intake_api import response_examples
from services.intake_api.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


# Intake and queries first, then the lifecycle actions, then configuration and operations: the
# order generated clients and the docs page group operations in.
TAG_ORDER: list[tuple[str, str]] = [
    ("auth", "Signing in (登录) and who you are."),
    ("complaints", "Registering complaints (受理登记) and querying them."),
    ("staff", "The staff directory (员工通讯录): who can be assigned, by role and department."),
    ("public", "What customers reach without an account: status lookup and the survey."),
    ("evidence", "Evidence files (证据附件) of a complaint: uploads and audited downloads."),
    ("handling", ""),
    ("notifications: webhooks", "Webhook subscriptions for integrators."),
    ("notifications: templates", "The messages sent to customers and staff (客服标准话术)."),
    ("notifications: outbox", "Notifications owed and sent, dead letters (死信) and replays."),
    ("calendar", "Business calendars: working hours, holidays and make-up days (调休)."),
    ("sla", "SLA policies: the deadlines (时限) of each stage."),
    ("reports", "Weekly and monthly reports, analyses and scheduled reports (报表)."),
    ("assessment", "The assessment ledger (考核, seed 002 §5.4)."),
    ("rules", "Rule sets a company can change: levels, repeats, routing, approval, closure."),
    ("admin", "Accounts, departments and integration keys."),
    ("audit", "The audit log."),
    ("ops", "Health, readiness and delivery backlog."),
]


def tags(lifecycle: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "description": lifecycle if name == "handling" else text}
        for name, text in TAG_ORDER
    ]


def operation_id(route: APIRoute) -> str:
    """A stable, readable operationId: the endpoint's name in camelCase (`register_complaint`
    → `registerComplaint`; an action's endpoint is named `<action>_complaint`)."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _answer_example(responses: dict[str, Any]) -> None:
    """A realistic example for the answers that have one (services/intake_api/response_examples):
    generated clients and the docs page show it instead of "string"."""
    for status in ("200", "201"):
        content = responses.get(status, {}).get("content", {}).get("application/json")
        ref = (content or {}).get("schema", {}).get("$ref", "")
        build = response_examples.BY_SCHEMA.get(ref.rsplit("/", 1)[-1])
        if content is not None and build is not None:
            content["example"] = build()


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path, path_item in schema.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = _problem("Invalid input (field-level details in `errors`)")
            if "requestBody" in operation:
                # Every body can be malformed, too large or of the wrong media type.
                responses.setdefault("400", _problem("Malformed body (not JSON, bad form data)"))
                responses.setdefault("413", _problem("Body larger than the limit (1 MiB)"))
                responses.setdefault("415", _problem("Unsupported media type"))
            _answer_example(responses)
            if path != "/healthz":
                # Any operation but the liveness probe may find PostgreSQL unreachable.
                unavailable = _problem("PostgreSQL unreachable for the moment (`Retry-After`)")
                unavailable["headers"] = {
                    "Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}
                }
                responses.setdefault("503", unavailable)
    schemas = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema
