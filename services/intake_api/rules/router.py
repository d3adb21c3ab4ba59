"""`/api/v1/rules`: the configurable rule sets (规则配置). Staff read them; admins replace them.

One rule set per concern: `level` (分级 keywords, channels, repeat and group levels), `repeat`
(二次投诉 window), `routing` (责任部门 per category, tier per level, from which level the
department's manager is told), `approval` (审批 limits), `closure` (四不放过, and the sign-off
chain: who reviews each level, who archives, who does the 回访 and how many attempts make a
customer unreachable). A replacement applies to every action from then on; what was already
decided (a complaint's level, a solution's approval) stays as it was.

(No `from __future__ import annotations` here: each PUT endpoint's body is the rule set's own
model, named from the loop, so annotations must be evaluated when the endpoint is made.)
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Response
from pydantic import BaseModel, ConfigDict

from services.intake_api.auth.dependencies import StaffReader
from services.intake_api.complaints.schemas import LocalTime
from services.intake_api.deps import AdminPrincipal, AuditDep, DbDep, NowDep, require_json
from services.intake_api.etags import etag, optional_version
from services.intake_api.paging import Page, PagingDep
from services.intake_api.problems import responses
from services.intake_api.rules import service
from shared.db.rule_sets import MODELS, RuleSetName

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], dependencies=[Depends(require_json)])

READ_ERRORS = responses(401, 403, 422, 429)
WRITE_ERRORS = responses(401, 403, 412, 415, 422, 429)


class RuleSetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: RuleSetName
    version: int  # 0: never changed, the seeds' defaults
    is_default: bool
    updated_at: LocalTime | None
    updated_by: str | None
    document: dict[str, Any]


EXAMPLES: dict[RuleSetName, dict[str, Any]] = {
    RuleSetName.LEVEL: {
        "summary": "加入「黑猫投诉」「食品安全」为三级关键词",
        "value": {
            "very_serious_keywords": [
                "12315",
                "消协",
                "市场监管",
                "媒体",
                "曝光",
                "记者",
                "律师",
                "起诉",
                "受伤",
                "集体",
                "黑猫投诉",
                "食品安全",
            ],
            "serious_keywords": ["二次投诉", "再次投诉", "态度", "政策", "找领导"],
            "channel_levels": {"regulator": 3},
            "repeat_level": 2,
            "group_min_customers": 3,
            "group_level": 3,
        },
    },
    RuleSetName.REPEAT: {
        "summary": "60 天内同一客户同一订单/产品视为二次投诉",
        "value": {"window_days": 60},
    },
    RuleSetName.ROUTING: {
        "summary": "售后服务类投诉交客服部，三个级别分别由受理人、经理、总监负责",
        "value": {
            "department_by_category": {
                "product_quality": "quality",
                "after_sales_service": "service",
                "logistics": "logistics",
                "price_marketing": "sales",
                "other": "service",
            },
            "tier_by_level": {"1": "agent", "2": "manager", "3": "director"},
            "report_to_manager_from": 3,
        },
    },
    RuleSetName.APPROVAL: {
        "summary": "赔偿或退款超过 1000 元需经理审批，超过 10000 元需总监审批",
        "value": {
            "manager_above": "1000.00",
            "director_above": "10000.00",
            "counted_types": ["compensation", "refund"],
        },
    },
    RuleSetName.CLOSURE: {
        "summary": "四不放过且措施验证有效方可结案；回访两个工作日联系不上即可存档",
        "value": {
            "fault_responsibilities": ["company", "shared"],
            "require_verified_actions": True,
            "require_satisfaction": True,
            "require_review": True,
            "reviewer_by_level": {"1": "manager", "2": "director", "3": "director"},
            "archivist_roles": ["clerk"],
            "followup_roles": ["agent", "clerk", "manager", "director"],
            "followup_attempts": 2,
        },
    },
    RuleSetName.ASSESSMENT: {
        "summary": "考核：未按时应诉每次 50 元，未做回访每次 80 元，违规操作 30—100 元",
        "value": {
            "first_contact_missed": "50.00",
            "survey_not_done": "80.00",
            "survey_required_kinds": ["complaint"],
            "procedure_violation_min": "30.00",
            "procedure_violation_max": "100.00",
        },
    },
}

PUT_DOC = (
    "Replaces the whole rule set (fields left out take the seeds' defaults). Applies to every "
    "action from now on, in all API and worker processes within a few seconds; complaints "
    "already triaged, routed or approved keep what was decided. Audited with the new document. "
    'Send `If-Match` with the ETag you read (`"0"` for a rule set never changed) to make sure '
    "no one changed it in between (412 otherwise)."
)


class RuleSetPage(Page[RuleSetOut]):
    pass


@router.get(
    "",
    summary="List the rule sets in force.",
    response_model=RuleSetPage,
    responses=READ_ERRORS,
)
async def list_rule_sets(db: DbDep, _: StaffReader, paging: PagingDep) -> RuleSetPage:
    rows = await service.list_rule_sets(db)
    return RuleSetPage.of_all([RuleSetOut.model_validate(r) for r in rows], paging)


@router.get(
    "/{name}",
    summary="Get one rule set in force.",
    response_model=RuleSetOut,
    responses=READ_ERRORS,
)
async def get_rule_set(
    db: DbDep, _: StaffReader, name: RuleSetName, response: Response
) -> RuleSetOut:
    row = await service.get_rule_set(db, name)
    response.headers["ETag"] = etag(row["version"])
    return RuleSetOut.model_validate(row)


def _put_endpoint(name: RuleSetName, model: type[BaseModel]) -> Callable[..., Awaitable[Any]]:
    async def endpoint(
        db: DbDep,
        _: AdminPrincipal,
        audit: AuditDep,
        now: NowDep,
        response: Response,
        body: Annotated[model, Body(openapi_examples={name.value: EXAMPLES[name]})],  # type: ignore[valid-type]
        if_match: Annotated[
            str | None, Header(max_length=64, description='The ETag read, e.g. "3"')
        ] = None,
    ) -> RuleSetOut:
        expected = optional_version(if_match, "rule set")
        row = await service.replace_rule_set(
            db, name, body, audit=audit, expected_version=expected, now=now
        )
        response.headers["ETag"] = etag(row["version"])
        return RuleSetOut.model_validate(row)

    endpoint.__name__ = f"replace_{name.value}_rules"
    return endpoint


for _name, _model in MODELS.items():
    router.put(
        f"/{_name.value}",
        summary=f"Replace the {_name.value} rules.",
        tags=["admin"],
        response_model=RuleSetOut,
        responses=WRITE_ERRORS,
        description=f"{(_model.__doc__ or '').strip()}\n\n{PUT_DOC}",
    )(_put_endpoint(_name, _model))
