"""Liveness and readiness for orchestrators and ops."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.intake_api.deps import DbDep, NowDep, SettingsDep
from services.intake_api.ops import service
from services.intake_api.problems import problem_response, responses

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="Tell whether the process is up (liveness).")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Tell whether PostgreSQL and Redis are reachable (readiness).",
    responses=responses(503),
)
async def readyz(request: Request, db: DbDep, settings: SettingsDep, now: NowDep) -> Any:
    """Also reports, without ever making the API unready:

    - `calendar`: the business calendar's last known day: deadlines after it are provisional
      (a `warning` appears 60 days before);
    - `worker`: the SLA workers from their heartbeats: `state` is `ok` (some worker beat in the
      last 10 s), `stale` (the newest heartbeat is older), `missing` (none) or `unknown` (Redis
      unreachable), with `workers` (how many beat lately), `last_seen_at` and `last_sweep_at`.
      Registrations do not need a worker: what it owes waits in PostgreSQL until one runs;
    - `notifications`: the channels whose messages wait for a gateway that is not configured
      (`waiting_for`, with a `warning`).
    """
    report = await service.readiness(
        db, request.app.state.redis, prefix=settings.redis_prefix, now=now
    )
    extra: dict[str, Any] = {
        "checks": report.checks,
        "calendar": report.calendar,
        "worker": report.worker,
        "notifications": report.notifications,
    }
    if report.ready:
        return {"status": "ready", **extra}
    response: Response = problem_response(503, detail="A dependency is not reachable.", **extra)
    return response
