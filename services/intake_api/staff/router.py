"""`/api/v1/staff`: the staff directory (员工通讯录) any signed-in staff member reads, e.g. to
pick an assignee: who, role, department and the work contact customers are given
(受理人联系方式); nothing private (no e-mail or mobile number: admins only, no sign-in data)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.intake_api.deps import DbDep, staff
from services.intake_api.paging import Page, PageQuery, decode_cursor, encode_cursor
from services.intake_api.problems import responses
from shared.db import accounts
from shared.domain.access import Principal
from shared.domain.enums import Role
from shared.domain.errors import FieldError, InvalidInput
from shared.domain.values import Code

router = APIRouter(prefix="/api/v1", tags=["staff"])

AnyStaff = Annotated[Principal, Depends(staff(*Role))]


class StaffMember(BaseModel):
    id: uuid.UUID
    display_name: str = Field(examples=["李娜"])
    role: Role
    department: str | None = Field(examples=["quality"])
    department_name: str | None = Field(default=None, examples=["质量部"])
    work_phone: str | None = Field(
        default=None,
        description="The work contact customers are given (受理人联系方式), when set",
        examples=["400-800-1234 转 8021"],
    )


class StaffPage(Page[StaffMember]):
    pass


class StaffQuery(PageQuery):
    role: Role | None = None
    department: Code | None = None


@router.get(
    "/staff",
    summary="List the staff directory (员工通讯录): who can be assigned, by role and department.",
    response_model=StaffPage,
    responses=responses(401, 403, 422, 429),
)
async def list_staff(db: DbDep, _: AnyStaff, query: Annotated[StaffQuery, Query()]) -> StaffPage:
    """Active accounts by username, `limit` a page. Any signed-in staff member may read it
    (integration keys may not): the work contact only, never an e-mail or mobile number."""
    after = None
    if query.cursor is not None:
        after = decode_cursor(query.cursor).get("u")
        if not isinstance(after, str):
            raise InvalidInput([FieldError(("query", "cursor"), "invalid cursor")])
    filters = accounts.StaffFilters(
        role=query.role.value if query.role else None, department=query.department
    )
    async with db.connect() as conn:
        rows = await accounts.staff_page(conn, filters, after=after, limit=query.limit)
        total = await accounts.count_staff(conn, filters) if query.count else None
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return StaffPage(
        items=[StaffMember.model_validate({**r, "work_phone": r["contact_phone"]}) for r in rows],
        next_cursor=encode_cursor({"u": rows[-1]["username"]}) if more else None,
        total=total,
    )
