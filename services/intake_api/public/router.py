"""`/api/v1/public`: what customers may call without an account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from services.intake_api.auth.secrets import InvalidCredentials, parse_survey_token
from services.intake_api.complaints import actions, service
from services.intake_api.complaints.schemas import StatusLookup, StatusView
from services.intake_api.deps import (
    ClientIpDep,
    CollabDep,
    DbDep,
    LimiterDep,
    NowDep,
    SettingsDep,
    require_json,
)
from services.intake_api.examples import STATUS_LOOKUP_EXAMPLES
from services.intake_api.problems import responses
from services.intake_api.ratelimit import BackOff
from shared.db.audit import AuditContext
from shared.domain.complaint import ActorKind
from shared.domain.enums import Satisfaction
from shared.domain.errors import NotFound
from shared.domain.values import MediumText

router = APIRouter(prefix="/api/v1/public", tags=["public"], dependencies=[Depends(require_json)])

# Wrong phone numbers for one reference from one client address.
LOOKUP_BACK_OFF = BackOff(free=3, base=2.0, longest=900.0, memory=3600.0)


@router.post(
    "/status-lookup",
    summary="Look up a complaint's progress with its reference and phone number.",
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
    as an unknown reference, so references cannot be confirmed by guessing. Attempts are limited
    per client address, and wrong phone numbers for a reference back off per client address
    and reference together (after 3, the next waits 2 s, then 4 s … up to 15 minutes): a
    stranger guessing at a reference never locks its customer out (429 with Retry-After)."""
    await limiter.hit(settings.public_lookup_ip_limit, "lookup-ip", ip, what="lookups")
    reference = body.reference.strip().upper()
    await limiter.blocked("lookup", ip, reference, what="lookups of this reference")
    try:
        found = await service.status_lookup(db, body.reference, body.phone)
    except NotFound:
        await limiter.failed("lookup", ip, reference, policy=LOOKUP_BACK_OFF)
        raise
    await limiter.succeeded("lookup", ip, reference)
    return StatusView.model_validate(found)


class SurveyAnswer(BaseModel):
    """The customer's rating (seed 002): 1 非常满意, 2 满意, 3 可理解/接受, 4 不满意, 5 很不满意."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200, description="From the survey link")
    score: Satisfaction
    comment: MediumText | None = None


SURVEY_EXAMPLES = {
    "satisfied": {
        "summary": "客户通过短信链接评价：满意",
        "value": {
            "token": (
                "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f.1b2c3d4e5f60718293a4b5c6d7e8f901."
                "0123456789abcdef0123456789abcdef"
            ),
            "score": 2,
            "comment": "处理及时，态度很好",
        },
    }
}


@router.post(
    "/survey",
    summary="Answer a satisfaction survey (满意度调查) with the link's token.",
    status_code=204,
    responses=responses(400, 404, 415, 422, 429),
)
async def answer_survey(
    collab: CollabDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    now: NowDep,
    ip: ClientIpDep,
    body: Annotated[SurveyAnswer, Body(openapi_examples=SURVEY_EXAMPLES)],
) -> None:
    """The link works once, and only while the result it rates stands: a used link, or one
    whose result staff have reopened, gets the same 404 as an unknown one. A rating of 4 or 5
    reopens the complaint one level up."""
    await limiter.hit(settings.public_lookup_ip_limit, "survey-ip", ip, what="survey answers")
    try:
        complaint_id, nonce = parse_survey_token(settings.require_jwt_secret(), body.token)
    except InvalidCredentials:
        raise NotFound(actions.SURVEY_LINK_UNUSABLE) from None
    await actions.answer_survey(
        collab,
        complaint_id=complaint_id,
        nonce=nonce,
        score=body.score,
        comment=body.comment,
        audit=AuditContext(ActorKind.CUSTOMER.value, None, "survey", ip, now),
    )
