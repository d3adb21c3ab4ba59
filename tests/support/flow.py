"""Driving a complaint through its lifecycle over HTTP, as front-ends do (GET for the ETag, then
the action with If-Match)."""

from __future__ import annotations

from typing import Any

import httpx


class Flow:
    def __init__(self, client: httpx.AsyncClient, complaint: dict[str, Any]) -> None:
        self.client = client
        self.id = complaint["id"]
        self.version = complaint["version"]
        self.complaint = complaint

    async def act(
        self,
        action: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
        *,
        expect: int = 200,
    ) -> httpx.Response:
        response = await self.client.post(
            f"/api/v1/complaints/{self.id}/{action.replace('_', '-')}",
            json=body or {},
            headers={**headers, "If-Match": f'"{self.version}"'},
        )
        assert response.status_code == expect, (action, response.text)
        if response.status_code == 200:
            self.complaint = response.json()
            self.version = self.complaint["version"]
            assert response.headers["etag"] == f'"{self.version}"'
        return response

    @property
    def status(self) -> str:
        return str(self.complaint["status"])
