"""Liveness and readiness for orchestrators and ops."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import Response

from services.intake_api.calendar.service import readiness as calendar_readiness
from services.intake_api.deps import DbDep, NowDep
from services.intake_api.problems import problem_response, responses

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="PostgreSQL and Redis are reachable", responses=responses(503))
async def readyz(request: Request, db: DbDep, now: NowDep) -> Any:
    """Also reports the business calendar's last known day: deadlines after it are provisional
    (a `warning` appears 60 days before; it never makes the service unready)."""
    checks: dict[str, str] = {}

    async def database() -> None:
        async with db.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        await request.app.state.redis.ping()

    for name, check in (("database", database), ("redis", redis)):
        try:
            await asyncio.wait_for(check(), timeout=2)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    calendar = await calendar_readiness(db, now=now) if checks["database"] == "ok" else None
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", "checks": checks, "calendar": calendar}
    response: Response = problem_response(
        503, detail="A dependency is not reachable.", checks=checks, calendar=calendar
    )
    return response
