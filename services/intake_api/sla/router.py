"""`/api/v1/sla-policies`: SLA policies (时限规则). Staff read them; admins change them.

A change creates a new version that applies to complaints registered from then on; deadlines
already planned keep the version they came from.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from services.intake_api.auth.dependencies import StaffReader
from services.intake_api.deps import AdminPrincipal, AuditDep, DbDep, NowDep, require_json
from services.intake_api.etags import etag, optional_version
from services.intake_api.paging import Page, PagingDep
from services.intake_api.problems import responses
from services.intake_api.sla import service
from services.intake_api.sla.schemas import (
    APPLIES_TO,
    PolicyChangeOut,
    PolicyIn,
    PolicyOut,
    PolicyVersionOut,
)

router = APIRouter(
    prefix="/api/v1/sla-policies", tags=["sla"], dependencies=[Depends(require_json)]
)

PolicyId = Annotated[int, Path(ge=1, le=2**31 - 1, examples=[1])]
READ_ERRORS = responses(401, 403, 404, 422, 429)
WRITE_ERRORS = responses(401, 403, 404, 412, 415, 422, 429)

POLICY_EXAMPLES: dict[str, Any] = {
    "logistics": {
        "summary": "物流类投诉：48 小时内首次联系（先停用，核对后启用）",
        "value": {
            "name": "物流投诉首次联系时限",
            "kind": "complaint",
            "category": "logistics",
            "active": False,
            "stages": [
                {
                    "stage": "first_contact",
                    "amount": 48,
                    "unit": "hours",
                    "warn_ratio": 0.75,
                    "on_breach": {"escalate": True, "notify": ["assignee", "manager"]},
                }
            ],
        },
    },
    "level2": {
        "summary": "二级投诉：5 个工作日内解决（草案，停用）",
        "value": {
            "name": "二级投诉解决时限（草案）",
            "kind": "complaint",
            "level": 2,
            "active": False,
            "stages": [{"stage": "resolution", "amount": 5, "unit": "working_days"}],
        },
    },
}


class PolicyPage(Page[PolicyOut]):
    pass


class PolicyVersionPage(Page[PolicyVersionOut]):
    pass


@router.get("", summary="List the SLA policies.", response_model=PolicyPage, responses=READ_ERRORS)
async def list_policies(
    db: DbDep,
    _: StaffReader,
    paging: PagingDep,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
) -> PolicyPage:
    """How policies combine: for each stage, among the active policies matching a complaint
    (null fields match anything) and defining that stage, the highest `priority` wins, then
    the most specific (most non-null match fields), then the oldest."""
    rows = await service.list_policies(db, active=active)
    return PolicyPage.of_all([PolicyOut.model_validate(r) for r in rows], paging)


@router.get(
    "/{policy_id}", summary="Get an SLA policy.", response_model=PolicyOut, responses=READ_ERRORS
)
async def get_policy(
    db: DbDep, _: StaffReader, policy_id: PolicyId, response: Response
) -> PolicyOut:
    row = await service.get_policy(db, policy_id)
    response.headers["ETag"] = etag(row["version"])
    return PolicyOut.model_validate(row)


@router.get(
    "/{policy_id}/versions",
    summary="List every version of an SLA policy, oldest first.",
    response_model=PolicyVersionPage,
    responses=READ_ERRORS,
)
async def list_policy_versions(
    db: DbDep, _: StaffReader, policy_id: PolicyId, paging: PagingDep
) -> PolicyVersionPage:
    rows = await service.list_versions(db, policy_id)
    return PolicyVersionPage.of_all([PolicyVersionOut.model_validate(v) for v in rows], paging)


@router.post(
    "",
    summary="Create an SLA policy for new complaints.",
    status_code=201,
    tags=["admin"],
    response_model=PolicyChangeOut,
    responses=WRITE_ERRORS,
    description=APPLIES_TO,
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": POLICY_EXAMPLES}}}},
)
async def create_policy(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    body: PolicyIn,
    response: Response,
) -> PolicyChangeOut:
    row = await service.create_policy(db, body.policy(), audit=audit, now=now)
    response.headers["Location"] = f"{router.prefix}/{row['id']}"
    response.headers["ETag"] = etag(row["version"])
    return PolicyChangeOut.model_validate(row)


@router.put(
    "/{policy_id}",
    summary="Change an SLA policy: a new version for new complaints.",
    tags=["admin"],
    response_model=PolicyChangeOut,
    responses=WRITE_ERRORS,
    description=APPLIES_TO + " Send `If-Match` with the ETag you read to make sure no "
    "one changed the policy in between (412 otherwise). Deactivate a policy with "
    '`"active": false`.',
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": POLICY_EXAMPLES}}}},
)
async def update_policy(
    db: DbDep,
    _: AdminPrincipal,
    audit: AuditDep,
    now: NowDep,
    policy_id: PolicyId,
    body: PolicyIn,
    response: Response,
    if_match: Annotated[str | None, Header(description='The ETag read, e.g. "3"')] = None,
) -> PolicyChangeOut:
    row = await service.update_policy(
        db,
        policy_id,
        body.policy(),
        audit=audit,
        expected_version=optional_version(if_match, "policy"),
        now=now,
    )
    response.headers["ETag"] = etag(row["version"])
    return PolicyChangeOut.model_validate(row)
