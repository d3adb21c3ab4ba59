"""Liveness and readiness for orchestrators and ops."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.intake_api.deps import DbDep, NowDep
from services.intake_api.ops import service
from services.intake_api.problems import problem_response, responses

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="PostgreSQL and Redis are reachable", responses=responses(503))
async def readyz(request: Request, db: DbDep, now: NowDep) -> Any:
    """Also reports the business calendar's last known day: deadlines after it are provisional
    (a `warning` appears 60 days before), and the channels whose messages wait for a gateway
    that is not configured (`notifications.waiting_for`, with a `warning`). Neither ever makes
    the service unready."""
    report = await service.readiness(db, request.app.state.redis, now=now)
    if report.ready:
        return {
            "status": "ready",
            "checks": report.checks,
            "calendar": report.calendar,
            "notifications": report.notifications,
        }
    response: Response = problem_response(
        503, detail="A dependency is not reachable.", checks=report.checks, calendar=report.calendar
    )
    return response
