"""Issue 15 points 5 and 6 against a real server, started the way `make run` starts it.

- X-Forwarded-For from 127.0.0.1 was believed (uvicorn's default), so every failed sign-in could
  claim a fresh address and the per-address limit never held.
- A request whose headers never end held its connection open for as long as the client liked
  (slowloris): 4,000 of them were all still open after 23 s.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from shared.config import Settings
from tests.support.live import live_api

HEADER_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": settings.require_database_url(),
        "REDIS_URL": settings.require_redis_url(),
        # Limits of this server only: its own key prefix.
        "KESU_REDIS_PREFIX": f"{settings.redis_prefix}-live-{uuid.uuid4().hex[:6]}",
        "KESU_JWT_SECRET": settings.require_jwt_secret(),
        "KESU_CHEAP_PASSWORD_HASHING": "true",
        "KESU_LOGIN_FAILURE_IP_LIMIT": "3/day",
        "KESU_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "KESU_LOG_LEVEL": "WARNING",
    }
    with live_api(env) as url:
        yield url


def test_a_forwarded_address_from_an_untrusted_peer_is_not_believed(live_url: str) -> None:
    codes = []
    for i in range(5):
        response = httpx.post(
            f"{live_url}/api/v1/auth/token",
            data={"username": f"sprayed-{i}", "password": "Spring2026!"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
        )
        codes.append(response.status_code)
    assert codes == [401, 401, 401, 429, 429]


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    conn = socket.create_connection((parts.hostname, parts.port))
    conn.settimeout(HEADER_TIMEOUT * 10)  # far beyond the server's limit: the server acts first
    return conn


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


def test_a_request_whose_headers_never_end_is_closed(live_url: str) -> None:
    with _connect(live_url) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: kesu\r\nX-Slow: 1\r\n")  # no blank line
        answer = _read_all(conn)  # socket.timeout here: the server never closed it
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_connection_that_sends_nothing_is_closed(live_url: str) -> None:
    with _connect(live_url) as conn:
        assert _read_all(conn).startswith(b"HTTP/1.1 408")


def test_prompt_requests_on_a_kept_alive_connection_are_served(live_url: str) -> None:
    with httpx.Client(base_url=live_url) as c:
        assert [c.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]
