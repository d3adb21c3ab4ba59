"""Schemathesis over the whole OpenAPI schema, against a real server: no 5xx, and every response
conforms to the schema (status codes, content types, headers, bodies)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.config import Settings
from tests.support.live import live_api
from tests.support.principals import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.servers import Servers, create_database, drop_database

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture(scope="module")
def live_url(settings: Settings, test_servers: Servers) -> Iterator[str]:
    # A database of its own: the fuzzer, as admin, changes calendars, policies and accounts,
    # which the other tests must not see.
    database_url = create_database(test_servers.admin_url)
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.require_redis_url(),
        "KESU_REDIS_PREFIX": settings.redis_prefix,
        "KESU_QUEUE_NAME": settings.queue_name,
        "KESU_JWT_SECRET": settings.require_jwt_secret(),
        "KESU_CHEAP_PASSWORD_HASHING": "true",
        "KESU_ADMIN_USERNAME": ADMIN_USERNAME,
        "KESU_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "KESU_USER_RATE_LIMIT": "100000/minute",
        "KESU_LOG_LEVEL": "WARNING",
    }
    try:
        with live_api(env) as url:
            yield url
    finally:
        drop_database(test_servers.admin_url, database_url)


def test_schemathesis_finds_no_server_errors_or_schema_violations(
    live_url: str, tmp_path: Path
) -> None:
    """As the admin, who reaches the most operations (the others answer 403/404, which must be
    documented problems too)."""
    signed = httpx.post(
        f"{live_url}/api/v1/auth/token",
        data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
    )
    token = signed.json()["access_token"]
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{live_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            "20",
            "--workers",
            "2",
            "--seed",
            "20261125",
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "10",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
