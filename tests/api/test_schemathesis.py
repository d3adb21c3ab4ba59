"""Schemathesis over the whole OpenAPI schema, against a real server: no 5xx, and every response
conforms to the schema (status codes, content types, headers, bodies)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import Settings
from tests.support.live import live_api

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
def live_url(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.require_database_url(),
        "REDIS_URL": settings.require_redis_url(),
        "KESU_REDIS_PREFIX": settings.redis_prefix,
        "KESU_QUEUE_NAME": settings.queue_name,
    }
    with live_api(env) as url:
        yield url


def test_schemathesis_finds_no_server_errors_or_schema_violations(
    live_url: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")), "run", f"{live_url}/openapi.json",
            "--checks", CHECKS,
            "--max-examples", "40",
            "--workers", "2",
            "--seed", "20261125",
            "--suppress-health-check", "all",
            "--request-timeout", "10",
            "--report", "junit", "--report-dir", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
