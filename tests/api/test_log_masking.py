"""Issue 15 point 6: a phone number reached the log inside a validation traceback (uvicorn logs
an unhandled exception again, message included, after our 500 answer logged it without)."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from services.intake_api.app import create_app
from shared.config import Settings
from tests.conftest import make_settings

CANARY_PHONE = "13912345670"


class _Strict(BaseModel):
    count: int


def _failing() -> None:
    """What a bug looks like: a model validated with data it does not take, quoting it."""
    _Strict.model_validate({"count": f"tel: +86 {CANARY_PHONE}"})


async def test_an_unhandled_error_is_answered_and_logged_once_without_its_input(
    database_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    application = create_app(make_settings(database_url, settings.require_redis_url()))

    async def broken() -> None:
        _failing()

    application.add_api_route("/broken", broken)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kesu.test") as c:
            with caplog.at_level(logging.INFO):
                response = await c.get("/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "incident" in response.json()["detail"]
    incidents = [r for r in caplog.records if r.getMessage().startswith("unhandled")]
    assert len(incidents) == 1
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert CANARY_PHONE not in logged


def test_uvicorn_error_records_are_masked(
    database_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever still reaches uvicorn's error log (its own messages) has phone numbers and keys
    masked, traceback included."""
    create_app(make_settings(database_url, settings.require_redis_url()))
    key = "ksk_0a1b2c3d_" + "x" * 43
    with caplog.at_level(logging.INFO):
        try:
            _failing()
        except ValidationError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application %s", key)
    (record,) = [r for r in caplog.records if r.name == "uvicorn.error"]
    assert record.exc_text is not None
    text = caplog.text + record.getMessage() + record.exc_text
    assert CANARY_PHONE not in text
    assert key not in text
    assert "<redacted>" in record.exc_text
