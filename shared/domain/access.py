"""Who may see and do what (保密, SPEC §7; seeds 000 and 003).

Records are shown only to those who need them:

- agents (一级受理人) see what they registered or are assigned, and their tier's queues: the
  cases of their levels nobody holds yet, whoever registered them (seed 002 §5.1.1.1), and the
  resolved ones waiting for their 回访 (§5.3.1.6);
- handlers see their department's cases (and what they are assigned);
- managers (二级) and directors (三级) see cases at or below their tier, in their department when
  they have one, company-wide otherwise; managers also the level-3 cases reported to them
  (seed 002 §5.1.1.3, the routing rules' `report_to_manager_from`);
- the clerk (事务文员) keeps the records: reads every case, contact data included (回访 calls);
- auditors read everything and change nothing; admins manage accounts and configuration and may
  read complaints with personal data masked;
- integrations see only what they created, unless given the `complaints:read:all` scope;
- whatever the role, the staff member a complaint is about never sees it (recusal, 回避).

`Visibility` is the one statement of the record rule. The API evaluates it on a loaded complaint
(`allows`) and the repository turns the same object into SQL for lists, so the two cannot drift.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from shared.domain.complaint import Actor, ActorKind
from shared.domain.enums import Level, Role, Status
from shared.domain.values import mask_phone


class Scope(StrEnum):
    """What an integration key may do."""

    COMPLAINTS_CREATE = "complaints:create"
    COMPLAINTS_READ = "complaints:read"  # what this key created
    COMPLAINTS_READ_ALL = "complaints:read:all"
    PII_READ = "pii:read"  # unmasked contact data of readable complaints


TIER_OF_ROLE: dict[Role, int] = {Role.AGENT: 1, Role.MANAGER: 2, Role.DIRECTOR: 3}
# Which tier handles each level (一级/二级/三级受理人, seed 002 §4.2): the routing rules'
# default, which admins may change (shared.domain.rules.RoutingRules.tier_by_level).
DEFAULT_TIER_BY_LEVEL: Mapping[Level, Role] = MappingProxyType(
    {Level.ORDINARY: Role.AGENT, Level.SERIOUS: Role.MANAGER, Level.VERY_SERIOUS: Role.DIRECTOR}
)
STAFF_CREATORS = frozenset({Role.AGENT, Role.MANAGER, Role.DIRECTOR, Role.HANDLER})
# The clerk (事务文员) calls customers back for the 回访 too.
CONTACT_READERS = frozenset({Role.AGENT, Role.HANDLER, Role.MANAGER, Role.DIRECTOR, Role.CLERK})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a staff user or an integration key."""

    kind: ActorKind  # USER or INTEGRATION
    id: str
    label: str  # username or key name, for audit and logs (never customer data)
    role: Role | None = None
    department: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    # The name shown next to its id in answers (a user's display name, a key's name), when
    # the credentials' lookup gave it: answers about the caller's own doings need no query.
    name: str | None = None

    @property
    def user_id(self) -> uuid.UUID | None:
        return uuid.UUID(self.id) if self.kind is ActorKind.USER else None

    @functools.cached_property
    def actor(self) -> Actor:
        """Built once per principal (an immutable model): a request asks for it several times,
        and the authenticator keeps the principal of a key or user between requests."""
        return Actor(kind=self.kind, id=self.id)

    def has_role(self, *roles: Role) -> bool:
        return self.kind is ActorKind.USER and self.role in roles

    def has_scope(self, scope: Scope) -> bool:
        return self.kind is ActorKind.INTEGRATION and scope in self.scopes

    @property
    def idempotency_scope(self) -> str:
        """Idempotency keys are per caller: two integrations may both send key "1"."""
        return f"{self.kind}:{self.id}"


# The status whose cases wait for their 回访 (the follow-up queue).
FOLLOW_UP_STATUS = Status.RESOLVED


@dataclass(frozen=True)
class ComplaintFacts:
    """The fields of a complaint the access rules look at."""

    created_by_kind: str
    created_by_id: str | None
    assignee_id: uuid.UUID | None
    department: str | None
    level: int
    subject_user_id: uuid.UUID | None
    status: str = ""  # the lifecycle status (the 回访 queue holds resolved cases)


@dataclass(frozen=True)
class Visibility:
    """Which complaints a principal may read: the union of the grants, minus the recused ones.

    `everything` grants all; otherwise a complaint is visible when any grant matches it.
    """

    everything: bool = False
    created_by: tuple[str, str] | None = None  # (kind, id)
    assignee_id: uuid.UUID | None = None
    department: str | None = None  # cases routed to this department
    max_level: int | None = None  # with `department` (None: any department), level <= max_level
    excluded_subject: uuid.UUID | None = None  # recusal: never, whatever the grants
    # The tier's queues up to this level, any department, whatever the channel or who
    # registered them: cases nobody holds yet (seed 002 §5.1.1.1), and resolved cases awaiting
    # their 回访 by someone other than the handler (§5.3.1.6, §5.4.1.3).
    queue_max_level: int | None = None

    def allows(self, facts: ComplaintFacts) -> bool:
        if self.excluded_subject is not None and facts.subject_user_id == self.excluded_subject:
            return False
        if self.everything:
            return True
        if self.created_by is not None and self.created_by == (
            facts.created_by_kind,
            facts.created_by_id,
        ):
            return True
        if self.assignee_id is not None and facts.assignee_id == self.assignee_id:
            return True
        queued = facts.assignee_id is None or facts.status == FOLLOW_UP_STATUS
        if self.queue_max_level is not None and queued and facts.level <= self.queue_max_level:
            return True
        if self.max_level is not None:
            in_scope = self.department is None or facts.department == self.department
            return in_scope and facts.level <= self.max_level
        return self.department is not None and facts.department == self.department

    @property
    def nothing(self) -> bool:
        return not (
            self.everything
            or self.created_by
            or self.assignee_id
            or self.department
            or self.max_level is not None
            or self.queue_max_level is not None
        )


def _highest_level_reached(role: Role, tier_by_level: Mapping[Level, Role]) -> int:
    """The highest level whose tier `role`'s reaches (0: none)."""
    held = TIER_OF_ROLE[role]
    return max(
        (int(lv) for lv, tier in tier_by_level.items() if TIER_OF_ROLE[tier] <= held), default=0
    )


def visibility(
    principal: Principal,
    *,
    tier_by_level: Mapping[Level, Role] = DEFAULT_TIER_BY_LEVEL,
    report_to_manager_from: Level | None = Level.VERY_SERIOUS,
) -> Visibility:
    """The record-level rule for a principal (see the module docstring); managers and directors
    see the levels whose tier (`tier_by_level`, from the routing rules in force) theirs reaches,
    managers also the cases from `report_to_manager_from` up (seed 002 §5.1.1.3: a level-3 case
    is reported to the department's manager); agents see their tier's queue of unassigned cases."""
    if principal.kind is ActorKind.INTEGRATION:
        if Scope.COMPLAINTS_READ_ALL in principal.scopes:
            return Visibility(everything=True)
        if Scope.COMPLAINTS_READ in principal.scopes:
            return Visibility(created_by=(ActorKind.INTEGRATION, principal.id))
        return Visibility()
    user_id = principal.user_id
    assert user_id is not None
    mine = (ActorKind.USER.value, principal.id)
    role = principal.role
    if role in (Role.AUDITOR, Role.ADMIN):
        return Visibility(everything=True, excluded_subject=user_id)
    if role is Role.CLERK:
        # 事务文员 keeps the records (档案管理) and archives every reviewed case.
        return Visibility(everything=True, excluded_subject=user_id)
    if role is Role.AGENT:
        return Visibility(
            created_by=mine,
            assignee_id=user_id,
            queue_max_level=_highest_level_reached(role, tier_by_level) or None,
            excluded_subject=user_id,
        )
    if role is Role.HANDLER:
        return Visibility(
            created_by=mine,
            assignee_id=user_id,
            department=principal.department or None,
            excluded_subject=user_id,
        )
    if role in (Role.MANAGER, Role.DIRECTOR):
        reached = _highest_level_reached(role, tier_by_level)
        # Levels are contiguous: the reported ones join the tier's own from the bottom up.
        reported = report_to_manager_from is not None and int(report_to_manager_from) <= reached + 1
        if role is Role.MANAGER and reported:
            reached = max(int(lv) for lv in Level)
        return Visibility(
            created_by=mine,
            assignee_id=user_id,
            department=principal.department,
            max_level=reached,
            excluded_subject=user_id,
        )
    return Visibility(excluded_subject=user_id)


def can_register(principal: Principal) -> bool:
    if principal.kind is ActorKind.INTEGRATION:
        return Scope.COMPLAINTS_CREATE in principal.scopes
    return principal.role in STAFF_CREATORS


def sees_contact_data(principal: Principal) -> bool:
    """Phone, email and address in clear: the people who contact the customer."""
    if principal.kind is ActorKind.INTEGRATION:
        return Scope.PII_READ in principal.scopes
    return principal.role in CONTACT_READERS


def can_reveal(principal: Principal) -> bool:
    """An explicit, audited reveal of every personal field (identity number included)."""
    if principal.kind is ActorKind.INTEGRATION:
        return Scope.PII_READ in principal.scopes
    return principal.role is not None


MASK = "****"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else MASK


def mask_text(value: str, keep: int = 6) -> str:
    """Addresses keep their first characters (the city), the rest is hidden."""
    return value[:keep] + MASK if len(value) > keep else MASK


def mask_identifier(value: str) -> str:
    return value[:2] + MASK + value[-2:] if len(value) > 6 else MASK


def mask_customer(customer: dict[str, object], *, contact_visible: bool) -> dict[str, object]:
    """The customer as a principal may see it: identity numbers always masked (reveal shows
    them), contact data masked unless the principal contacts customers."""
    out = dict(customer)
    if isinstance(out.get("id_number"), str):
        out["id_number"] = mask_identifier(str(out["id_number"]))
    if contact_visible:
        return out
    if isinstance(out.get("phone"), str):
        out["phone"] = mask_phone(str(out["phone"]))
    if isinstance(out.get("email"), str):
        out["email"] = mask_email(str(out["email"]))
    if isinstance(out.get("address"), str):
        out["address"] = mask_text(str(out["address"]))
    return out
