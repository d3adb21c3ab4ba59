"""`/api/v1/public`: what customers may call without an account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from services.intake_api.complaints import service
from services.intake_api.complaints.schemas import StatusLookup, StatusView
from services.intake_api.deps import DbDep, require_json
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
    db: DbDep, body: Annotated[StatusLookup, Body(openapi_examples=STATUS_LOOKUP_EXAMPLES)]
) -> StatusView:
    """Returns only the status, the stage and the next deadline. A wrong pair gets the same 404
    as an unknown reference, so references cannot be confirmed by guessing."""
    return StatusView.model_validate(await service.status_lookup(db, body.reference, body.phone))
