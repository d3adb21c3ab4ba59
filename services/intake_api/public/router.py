"""`/api/v1/public`: what customers may call without an account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from services.intake_api.complaints import service
from services.intake_api.complaints.schemas import StatusLookup, StatusView
from services.intake_api.deps import ClientIpDep, DbDep, LimiterDep, SettingsDep, require_json
from services.intake_api.examples import STATUS_LOOKUP_EXAMPLES
from services.intake_api.problems import responses

router = APIRouter(prefix="/api/v1/public", tags=["public"], dependencies=[Depends(require_json)])


@router.post(
    "/status-lookup",
    summary="Look up a complaint's progress with its reference and phone number",
    response_model=StatusView,
    responses=responses(400, 404, 415, 422, 429),
)
async def status_lookup(
    db: DbDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    ip: ClientIpDep,
    body: Annotated[StatusLookup, Body(openapi_examples=STATUS_LOOKUP_EXAMPLES)],
) -> StatusView:
    """Returns only the status, the stage and the next deadline. A wrong pair gets the same 404
    as an unknown reference, so references cannot be confirmed by guessing, and attempts are
    limited per client address and per reference number (429 with Retry-After)."""
    await limiter.hit(settings.public_lookup_ip_limit, "lookup-ip", ip, what="lookups")
    await limiter.hit(
        settings.public_lookup_reference_limit,
        "lookup-ref",
        body.reference.upper(),
        what="lookups of this reference",
    )
    return StatusView.model_validate(await service.status_lookup(db, body.reference, body.phone))
