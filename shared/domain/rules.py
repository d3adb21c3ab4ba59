"""Pure business rules of complaint handling: level (分级), repeats, routing, approval,
satisfaction, escalation and closure (四不放过).

Each rule set is a frozen pydantic model with the seeds' defaults, so it can be stored as data and
edited by admins later; every function takes its rules as a keyword argument defaulting to those
defaults. Nothing here reads the clock or touches a database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from shared.domain.access import DEFAULT_TIER_BY_LEVEL, TIER_OF_ROLE
from shared.domain.enums import (
    Category,
    Channel,
    Kind,
    Level,
    RemedyType,
    Responsibility,
    Role,
    Satisfaction,
)
from shared.domain.intake import Product, Wish
from shared.domain.values import Money

__all__ = [
    "DEFAULT_APPROVAL_RULES",
    "DEFAULT_ASSESSMENT_RULES",
    "DEFAULT_CLOSURE_RULES",
    "DEFAULT_LEVEL_RULES",
    "DEFAULT_ROUTING_RULES",
    "STAFF_OVERRIDE",
    "ApprovalRules",
    "AssessmentRules",
    "ClosureBlocker",
    "ClosureRules",
    "GroupCandidate",
    "GroupFinding",
    "GroupSummary",
    "LevelRules",
    "LevelSuggestion",
    "LevelTextSource",
    "RemedyLike",
    "RepeatKey",
    "RepeatRule",
    "RoutingDecision",
    "RoutingRules",
    "SatisfactionOutcome",
    "closure_blockers",
    "detect_group",
    "escalate",
    "group_finding",
    "is_repeat_of",
    "level_text",
    "may_mark_invalid",
    "required_approval",
    "reviewer_problem",
    "route",
    "satisfaction_outcome",
    "suggest_level",
    "tier_for",
    "tier_reaches",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
DepartmentCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]

# ---------------------------------------------------------------------------------------------
# Level suggestion (投诉分级, seed 002 §4.3, SPEC §2)
# ---------------------------------------------------------------------------------------------

# Seed 002 §4.3.3 (12315, 批量投诉, 职能部门不作为) and SPEC §2 (媒体曝光, 律师, 起诉, 受伤, 群体).
_VERY_SERIOUS_KEYWORDS = (
    "12315",
    "315",
    "消协",
    "消费者协会",
    "市场监管",
    "工商局",
    "质监",
    "媒体",
    "曝光",
    "记者",
    "电视台",
    "报社",
    "热搜",
    "律师",
    "起诉",
    "法院",
    "诉讼",
    "仲裁",
    "投诉到",
    "受伤",
    "伤害",
    "人身安全",
    "安全隐患",
    "烫伤",
    "烧伤",
    "触电",
    "起火",
    "爆炸",
    "中毒",
    "住院",
    "财产损失",
    "集体",
    "群体",
    "批量",
    "不作为",
)
# Seed 002 §4.3.2: second complaints, service attitude, policy disputes, beyond tier-1 authority.
_SERIOUS_KEYWORDS = (
    "二次投诉",
    "再次投诉",
    "多次投诉",
    "态度",
    "政策",
    "欺骗",
    "忽悠",
    "找领导",
    "找经理",
    "负责人",
)


class LevelRules(BaseModel):
    """Signals that raise a complaint's suggested level; the level is always settable by staff.

    The rules err towards the higher level: a false alarm costs a tier-2 or tier-3 look, a missed
    safety or media case costs far more. Keywords therefore ignore negation ("没有受伤" still
    matches 受伤); staff lower the level when it is wrong.
    """

    model_config = _FROZEN

    very_serious_keywords: tuple[Keyword, ...] = _VERY_SERIOUS_KEYWORDS  # → 三级投诉
    serious_keywords: tuple[Keyword, ...] = _SERIOUS_KEYWORDS  # → 二级投诉
    channel_levels: Mapping[Channel, Level] = Field(
        default_factory=lambda: {Channel.REGULATOR: Level.VERY_SERIOUS}
    )
    repeat_level: Level = Level.SERIOUS  # seed 002: 针对同一事件的二次投诉
    group_min_customers: StrictInt = Field(default=3, ge=2)  # 群体投诉: 3+ customers (SPEC §2)
    group_level: Level = Level.VERY_SERIOUS
    # Issue 11 §5: distinct customers about the same product model or batch within this many
    # days are found automatically as one group (0 turns the detection off).
    group_window_days: StrictInt = Field(default=30, ge=0, le=3650)


# Frozen models: one shared default instance is safe.
DEFAULT_LEVEL_RULES = LevelRules()


class LevelSuggestion(BaseModel):
    """A suggested level and why: codes such as `keyword:曝光`, `channel:regulator`, `repeat`."""

    model_config = _FROZEN

    level: Level
    reasons: list[str]


# The level reason recorded when staff set a level other than the suggested one (with a reason):
# from then on the suggestion no longer moves the level, only staff and escalation do.
STAFF_OVERRIDE = "staff_override"


class LevelTextSource(Protocol):
    """What the keyword rules read: an intake and a complaint's state both qualify."""

    @property
    def content(self) -> str: ...

    @property
    def desired_resolution(self) -> Wish | None: ...

    @property
    def product(self) -> Product | None: ...


def level_text(source: LevelTextSource) -> str:
    """The text the level keywords (12315, 曝光, 受伤 …) are looked for in: the complaint, the
    customer's wish and the product symptom. Intake and triage read the same text, so triage
    never loses a signal intake found."""
    parts = [source.content]
    if source.desired_resolution is not None and source.desired_resolution.detail:
        parts.append(source.desired_resolution.detail)
    if source.product is not None and source.product.symptom:
        parts.append(source.product.symptom)
    return "\n".join(parts)


_ASCII_ALNUM = "0-9A-Za-z"


@lru_cache(maxsize=64)
def _keyword_patterns(keywords: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    patterns = []
    for keyword in keywords:
        normalized = unicodedata.normalize("NFKC", keyword)
        # Digits and Latin letters run together in phone and order numbers ("13153…" holds
        # "315"), so an ASCII end of a keyword must not touch another ASCII letter or digit.
        # Chinese is written without spaces: a CJK end matches anywhere.
        head = (
            f"(?<![{_ASCII_ALNUM}])" if normalized[0].isascii() and normalized[0].isalnum() else ""
        )
        tail = (
            f"(?![{_ASCII_ALNUM}])" if normalized[-1].isascii() and normalized[-1].isalnum() else ""
        )
        pattern = re.compile(head + re.escape(normalized) + tail, re.IGNORECASE | re.ASCII)
        patterns.append((keyword, pattern))
    return tuple(patterns)


def _matched(keywords: tuple[str, ...], text: str) -> list[str]:
    return [keyword for keyword, pattern in _keyword_patterns(keywords) if pattern.search(text)]


def suggest_level(
    *,
    channel: Channel,
    text: str,
    is_repeat: bool,
    current: Level | None = None,
    customer_count: int = 1,
    rules: LevelRules = DEFAULT_LEVEL_RULES,
) -> LevelSuggestion:
    """Suggest a level from the channel, the complaint text, repeat and group signals.

    The suggestion is the highest level any signal gives, and never lower than `current` (a
    level staff set is a floor, not something to undo). Text is NFKC-normalized so full-width
    digits (１２３１５) match; ASCII keywords match case-insensitively.
    """
    normalized = unicodedata.normalize("NFKC", text)
    level = Level.ORDINARY
    reasons: list[str] = []

    def raise_to(candidate: Level, reason: str) -> None:
        nonlocal level
        level = max(level, candidate)
        reasons.append(reason)

    if channel in rules.channel_levels:
        raise_to(rules.channel_levels[channel], f"channel:{channel}")
    if is_repeat:
        raise_to(rules.repeat_level, "repeat")
    if customer_count >= rules.group_min_customers:
        raise_to(rules.group_level, f"group:{customer_count}")
    for keyword in _matched(rules.very_serious_keywords, normalized):
        raise_to(Level.VERY_SERIOUS, f"keyword:{keyword}")
    for keyword in _matched(rules.serious_keywords, normalized):
        raise_to(Level.SERIOUS, f"keyword:{keyword}")
    if current is not None and current > level:
        raise_to(current, f"current:{int(current)}")
    return LevelSuggestion(level=level, reasons=reasons)


# ---------------------------------------------------------------------------------------------
# Repeat complaints (二次投诉, seed 002 §4.3.2)
# ---------------------------------------------------------------------------------------------

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


class RepeatKey(BaseModel):
    """What identifies "the same customer about the same event" for repeat detection."""

    model_config = _FROZEN

    phone: E164 | None = None  # normalized E.164, e.g. +8613800138000
    email: str | None = None  # compared case-folded (issue 11 §5: phone or email)
    name: str | None = None  # shown to staff; never matched (spellings and nicknames vary)
    order_number: str | None = None
    serial_number: str | None = None
    product_model: str | None = None
    category: Category | None = None  # the same category is the same matter (seed 002 §4.3.2)
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _a_customer(self) -> RepeatKey:
        if self.phone is None and self.email is None:
            raise ValueError("a repeat key names the customer by phone or email")
        return self


class RepeatRule(BaseModel):
    """The repeat window, in calendar days: customers count days, not working days."""

    model_config = _FROZEN

    window_days: StrictInt = Field(default=30, ge=1, le=3650)
    # Issue 11 §5: the same category within the window is a repeat too, so that a second
    # service-attitude complaint with no product (服务态度) is caught.
    same_category: StrictBool = True

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    def is_repeat(self, new: RepeatKey, earlier: RepeatKey) -> bool:
        return is_repeat_of(new, earlier, window=self.window, same_category=self.same_category)


def _identifier(value: str | None) -> str | None:
    # Order and serial numbers are typed by hand from labels: fold width, case and spaces.
    if value is None:
        return None
    folded = "".join(unicodedata.normalize("NFKC", value).split()).casefold()
    return folded or None


def _same_customer(new: RepeatKey, earlier: RepeatKey) -> bool:
    if new.phone is not None and new.phone == earlier.phone:
        return True
    mine, theirs = new.email, earlier.email
    return mine is not None and theirs is not None and mine.casefold() == theirs.casefold()


def is_repeat_of(
    new: RepeatKey, earlier: RepeatKey, *, window: timedelta, same_category: bool = False
) -> bool:
    """Whether `new` repeats `earlier`: the same customer (phone, or email case-folded) about
    the same order, serial or model — or, with `same_category`, the same category — within
    `window`.

    The customer is identified by phone alone: it is the one identifier every channel captures,
    normalized, while names are ambiguous. The event is identified by any shared product
    identifier; the product model is the broadest, and accepted on purpose, since a missed
    repeat under-serves an already unhappy customer while a false one only floors the level at 2
    and staff can unlink it. Both ends of the window are inclusive; `new` must not precede
    `earlier`. Missing identifiers never match each other.
    """
    if not _same_customer(new, earlier):
        return False
    elapsed = new.created_at - earlier.created_at
    if not timedelta(0) <= elapsed <= window:
        return False
    if same_category and new.category is not None and new.category == earlier.category:
        return True
    pairs = (
        (new.order_number, earlier.order_number),
        (new.serial_number, earlier.serial_number),
        (new.product_model, earlier.product_model),
    )
    for mine, theirs in pairs:
        ours = _identifier(mine)
        if ours is not None and ours == _identifier(theirs):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Group complaints (集体投诉, seed 002 §4.3.3; issue 11 §5)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupCandidate:
    """A complaint about the same product model or batch within the window, as the group
    detection sees it: who complained (`customer`: phone, else email, else the complaint) and
    the group it already belongs to."""

    id: str
    customer: str
    group_id: str | None


@dataclass(frozen=True)
class GroupFinding:
    group_id: str  # the first complaint's id, or the group the earlier ones already form
    customers: int  # distinct customers, the new complaint's included
    members: tuple[str, ...]  # earlier complaints to link (not yet in the group)
    formed: bool  # this complaint makes the group (management is told now, once)


@dataclass(frozen=True)
class GroupSummary:
    """What the group detection needs of the earlier complaints about the same product model
    or batch (oldest first), summed up where they are read (intake reads this, not the
    candidates themselves: in a wave of calls about one model there are hundreds)."""

    first_id: str | None  # the oldest one (None: there are none)
    others: int  # distinct customers among them, the new complaint's customer left out
    existing_group_id: str | None  # the group the oldest grouped one belongs to
    members: tuple[str, ...]  # those in no group yet, oldest first

    @classmethod
    def of(cls, customer: str, earlier: Sequence[GroupCandidate]) -> GroupSummary:
        return cls(
            first_id=earlier[0].id if earlier else None,
            others=len({c.customer for c in earlier} - {customer}),
            existing_group_id=next((c.group_id for c in earlier if c.group_id is not None), None),
            members=tuple(c.id for c in earlier if c.group_id is None),
        )


def detect_group(
    customer: str,
    earlier: Sequence[GroupCandidate],
    *,
    rules: LevelRules = DEFAULT_LEVEL_RULES,
) -> GroupFinding | None:
    """Whether a new complaint from `customer` joins or forms a group with `earlier` (oldest
    first): `group_min_customers` distinct customers or more, the new one included."""
    return group_finding(GroupSummary.of(customer, earlier), rules=rules)


def group_finding(
    summary: GroupSummary, *, rules: LevelRules = DEFAULT_LEVEL_RULES
) -> GroupFinding | None:
    """`detect_group` on the earlier complaints' summary (seed 002 §4.3.3)."""
    if rules.group_window_days == 0 or summary.first_id is None:
        return None
    customers = summary.others + 1
    if customers < rules.group_min_customers:
        return None
    existing = summary.existing_group_id
    group_id = existing or summary.first_id
    return GroupFinding(group_id, customers, summary.members, formed=existing is None)


# ---------------------------------------------------------------------------------------------
# Routing and tiers (确定责任部门, 一级/二级/三级受理人)
# ---------------------------------------------------------------------------------------------

_TIER_ROLES = frozenset({Role.AGENT, Role.MANAGER, Role.DIRECTOR})


class RoutingRules(BaseModel):
    """Seed 000 第二条: 按照投诉分类确定责任部门; seed 002 §4.2 and §5.1.1: one tier per level.

    `tier_by_level` decides who may hold a level (be its assignee) and take its tier decisions
    (triage, assign, withdraw, reopen, close): the level's tier or a higher one (`tier_reaches`);
    which levels managers and directors see (shared.domain.access.visibility); and who hears of
    an escalation to a level or of an unassigned case's alerts (shared.domain.notify). A company
    whose agents are trusted with level-2 cases maps level 2 to `agent`.
    """

    model_config = _FROZEN

    department_by_category: Mapping[Category, DepartmentCode] = Field(
        default_factory=lambda: {
            Category.PRODUCT_QUALITY: "quality",
            Category.AFTER_SALES_SERVICE: "service",
            Category.LOGISTICS: "logistics",
            Category.PRICE_MARKETING: "sales",
            Category.OTHER: "service",
        }
    )
    tier_by_level: Mapping[Level, Role] = Field(
        default_factory=lambda: dict(
            DEFAULT_TIER_BY_LEVEL
        )  # agent 一级, manager 二级, director 三级
    )
    # Seed 002 §5.1.1.3, seed 003 「重大投诉,必须马上报告部门经理」: from this level on the
    # responsible department's managers (二级) are told at once, with the directors, and see the
    # case. None: only the directors.
    report_to_manager_from: Level | None = Level.VERY_SERIOUS

    @model_validator(mode="after")
    def _complete(self) -> RoutingRules:
        # Stored config must answer for every category and level, or routing fails at 2 a.m.
        if missing := set(Category) - set(self.department_by_category):
            raise ValueError(f"no department for categories {sorted(missing)}")
        if missing_levels := set(Level) - set(self.tier_by_level):
            raise ValueError(f"no tier for levels {sorted(missing_levels)}")
        if odd := set(self.tier_by_level.values()) - _TIER_ROLES:
            raise ValueError(f"tiers must be agent, manager or director, not {sorted(odd)}")
        # Escalation hands a case to the next tier: a higher level never needs a lower one.
        ranks = [TIER_OF_ROLE[self.tier_by_level[level]] for level in sorted(Level)]
        if ranks != sorted(ranks):
            raise ValueError("a higher level must not need a lower tier")
        return self


DEFAULT_ROUTING_RULES = RoutingRules()


class RoutingDecision(BaseModel):
    model_config = _FROZEN

    department_code: str
    tier_role: Role


def route(
    category: Category,
    level: Level,
    *,
    rules: RoutingRules = DEFAULT_ROUTING_RULES,
) -> RoutingDecision:
    """The responsible department (责任部门) for the category and the tier for the level."""
    return RoutingDecision(
        department_code=rules.department_by_category[category],
        tier_role=rules.tier_by_level[level],
    )


def tier_for(
    level: Level,
    *,
    rules: RoutingRules = DEFAULT_ROUTING_RULES,
) -> Role:
    """The tier that handles `level`: agent (一级), manager (二级), director (三级)."""
    return rules.tier_by_level[level]


def tier_reaches(
    role: Role | None,
    level: Level,
    *,
    rules: RoutingRules = DEFAULT_ROUTING_RULES,
) -> bool:
    """Whether `role`'s tier is at or above the tier configured for `level` (a director may do
    what a manager may). Roles outside the three tiers (handlers, auditors …) reach none."""
    held = TIER_OF_ROLE.get(role, 0) if role is not None else 0
    return held >= TIER_OF_ROLE[rules.tier_by_level[level]]


def escalate(level: Level) -> Level:
    """One level up (升级). Level 3 stays 3: there is no tier above management, and every
    level-3 case already notifies management at once (SPEC §2), so callers notify, not fail."""
    return Level(min(int(level) + 1, int(Level.VERY_SERIOUS)))


# ---------------------------------------------------------------------------------------------
# Approval of remedies (审批)
# ---------------------------------------------------------------------------------------------


class RemedyLike(Protocol):
    """Any remedy value with a type and an optional CNY amount (two decimal places)."""

    @property
    def type(self) -> RemedyType: ...

    @property
    def amount(self) -> Decimal | None: ...


class ApprovalRules(BaseModel):
    """Who approves a solution (审批), seed 000 / 003 by default.

    - `manager_types`: any remedy of these kinds needs at least a manager's approval, whatever
      its amount — compensation and refunds (seed 003: 涉及赔偿的须向上汇报; seed 000: 附带赔偿
      待同意后方可办理) and replacement or return (换货/退货, seed 000: 报各部门审批);
    - amounts of the `counted_types` (compensation, refunds: the money that leaves the company)
      are summed: above `manager_above` a manager approves, above `director_above` a director.
      Limits are exclusive: exactly 5000.00 needs a manager, not a director.
    A company that lets agents settle small sums empties `manager_types` and sets the limits.
    """

    model_config = _FROZEN

    manager_above: Money = Decimal("500.00")
    director_above: Money = Decimal("5000.00")
    counted_types: frozenset[RemedyType] = frozenset({RemedyType.COMPENSATION, RemedyType.REFUND})
    manager_types: frozenset[RemedyType] = frozenset(
        {
            RemedyType.COMPENSATION,
            RemedyType.REFUND,
            RemedyType.REPLACEMENT,
            RemedyType.RETURN,
        }
    )

    @model_validator(mode="after")
    def _ordered(self) -> ApprovalRules:
        if self.director_above < self.manager_above:
            raise ValueError("director_above must not be below manager_above")
        return self


DEFAULT_APPROVAL_RULES = ApprovalRules()


def required_approval(
    remedies: Iterable[RemedyLike],
    *,
    rules: ApprovalRules = DEFAULT_APPROVAL_RULES,
) -> Role | None:
    """The role that must approve the remedies (None: the handler decides): a director above
    the higher limit, else a manager above the lower one or for any remedy of the
    `manager_types` (seed 000 / 003)."""
    total = Decimal("0.00")
    kinds: set[RemedyType] = set()
    for remedy in remedies:
        kinds.add(remedy.type)
        amount = remedy.amount
        if amount is None:
            continue
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"remedy amount must be a finite, non-negative sum, got {amount}")
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            raise ValueError(f"remedy amount has more than two decimal places (分): {amount}")
        if remedy.type in rules.counted_types:
            total += amount
    if total > rules.director_above:
        return Role.DIRECTOR
    if total > rules.manager_above or kinds & rules.manager_types:
        return Role.MANAGER
    return None


# ---------------------------------------------------------------------------------------------
# Satisfaction survey (满意度回访, seed 002 §5.3.1.6–7)
# ---------------------------------------------------------------------------------------------


class SatisfactionOutcome(BaseModel):
    model_config = _FROZEN

    closable: bool  # 1–3: 视为投诉事件处理完毕
    reopen: bool  # 4–5: 自动升级到下一级别, 重新填报《投诉处理单》
    escalate_to: Level | None  # the next level, None when already at level 3
    management_review: bool  # level 3 rated 4–5: 提交总经理例会研究处理


def satisfaction_outcome(score: Satisfaction | int, level: Level) -> SatisfactionOutcome:
    """What a survey answer means. The scale's thresholds are the seed's, not configuration."""
    rating = Satisfaction(score)  # ValueError outside 1–5
    if rating <= Satisfaction.ACCEPTABLE:
        return SatisfactionOutcome(
            closable=True, reopen=False, escalate_to=None, management_review=False
        )
    at_top = level >= Level.VERY_SERIOUS
    return SatisfactionOutcome(
        closable=False,
        reopen=True,
        escalate_to=None if at_top else escalate(level),
        management_review=at_top,
    )


# ---------------------------------------------------------------------------------------------
# Closure (结案) and invalid-path guards
# ---------------------------------------------------------------------------------------------


class ClosureBlocker(StrEnum):
    ROOT_CAUSE_MISSING = "root_cause_missing"  # 原因没有查清不放过
    CORRECTIVE_ACTION_MISSING = "corrective_action_missing"  # 没有制定纠正预防措施不放过
    CORRECTIVE_ACTION_UNVERIFIED = "corrective_action_unverified"  # 措施绩效跟踪 (seed 004)
    SATISFACTION_MISSING = "satisfaction_missing"  # 未回访 (seed 002 §5.4.1.3)
    REVIEW_MISSING = "review_missing"  # 未审核 (seed 002 §5.1.1.1–3)
    CUSTOMER_DISSATISFIED = "customer_dissatisfied"  # rated 4–5: reopen, do not close
    REGULATOR_REPLY_MISSING = "regulator_reply_missing"  # seed 003 第七条: 向监管部门反馈


class ClosureRules(BaseModel):
    """四不放过 / 五不放过 (seed 003): fault cases close only with a root cause and an action.

    Verification of effectiveness (效果确认) usually takes weeks; by default it may finish after
    结案, and the lifecycle allows verifying corrective actions on closed complaints.
    """

    model_config = _FROZEN

    fault_responsibilities: frozenset[Responsibility] = frozenset(
        {Responsibility.COMPANY, Responsibility.SHARED}
    )
    require_verified_actions: StrictBool = False
    # 回访 is mandatory (seed 002 §5.3.1.6, §5.4.1.3): the customer rated the result, or the desk
    # recorded them unreachable after `followup_attempts` attempts on different working days.
    require_satisfaction: StrictBool = True
    # Seed 003 第七条: 上级监管部门转来的客户投诉, 处理完后应及时向监管部门反馈; the 12315 rules
    # want the result recorded back, so a regulator case closes only once that is done.
    require_regulator_reply: StrictBool = True
    # The sign-off chain (审核 → 存档, seed 002 §5.1.1.1–3; see `reviewer_problem`).
    require_review: StrictBool = True
    # Who reviews a case of each level: that tier or a higher one, never the case's handler.
    reviewer_by_level: Mapping[Level, Role] = Field(
        default_factory=lambda: {
            Level.ORDINARY: Role.MANAGER,  # 由二级受理人审核
            Level.SERIOUS: Role.DIRECTOR,  # 报三级受理人审核
            Level.VERY_SERIOUS: Role.DIRECTOR,  # 三级受理人指导处理; another director signs off
        }
    )
    # Who archives (存档, the `close` step): seed 002 §3.2 事务文员.
    archivist_roles: frozenset[Role] = frozenset({Role.CLERK})
    # Who may record a return call's rating or a failed attempt (never the case's handler).
    followup_roles: frozenset[Role] = frozenset(
        {Role.AGENT, Role.CLERK, Role.MANAGER, Role.DIRECTOR}
    )
    # The customer is recorded unreachable only after this many attempts on different working
    # days (Asia/Shanghai, the business calendar).
    followup_attempts: StrictInt = Field(default=3, ge=1, le=10)

    @model_validator(mode="after")
    def _chain(self) -> ClosureRules:
        if missing := set(Level) - set(self.reviewer_by_level):
            raise ValueError(f"no reviewer for levels {sorted(missing)}")
        if odd := set(self.reviewer_by_level.values()) - _TIER_ROLES:
            raise ValueError(f"reviewers must be agent, manager or director, not {sorted(odd)}")
        if not self.archivist_roles:
            raise ValueError("someone must archive (存档): archivist_roles is empty")
        if not self.followup_roles:
            raise ValueError("someone must do the 回访: followup_roles is empty")
        return self


DEFAULT_CLOSURE_RULES = ClosureRules()


def reviewer_problem(
    *,
    role: Role | None,
    reviewer_id: str,
    level: Level,
    handlers: Iterable[str | None],
    rules: ClosureRules = DEFAULT_CLOSURE_RULES,
) -> str | None:
    """Why this caller may not review (审核) or send back a case of `level`, or None: the
    reviewer's tier must reach the level's reviewer tier (seed 002 §5.1.1.1: level 1 → 二级,
    §5.1.1.2: level 2 → 三级, §5.1.1.3: level 3 → 三级), and the reviewer is never one of the
    case's handlers (four eyes)."""
    needed = rules.reviewer_by_level[level]
    held = TIER_OF_ROLE.get(role, 0) if role is not None else 0
    if held < TIER_OF_ROLE[needed]:
        return f"a level-{int(level)} case is reviewed by a {needed} or higher (审核)"
    if reviewer_id in {h for h in handlers if h}:
        return "the handler of a case never reviews it (四眼原则)"
    return None


def closure_blockers(
    *,
    responsibility: Responsibility | None,
    has_root_cause: bool,
    action_count: int,
    all_actions_verified: bool = True,
    satisfaction: Satisfaction | None = None,
    regulator_case: bool = False,
    has_regulator_reply: bool = False,
    reviewed: bool = True,
    unreachable: bool = False,
    rules: ClosureRules = DEFAULT_CLOSURE_RULES,
) -> list[ClosureBlocker]:
    """Why the complaint cannot close yet; empty when it can. `responsibility` is None before
    any findings (a case resolved at first contact)."""
    blockers: list[ClosureBlocker] = []
    if responsibility is not None and responsibility in rules.fault_responsibilities:
        if not has_root_cause:
            blockers.append(ClosureBlocker.ROOT_CAUSE_MISSING)
        if action_count < 1:
            blockers.append(ClosureBlocker.CORRECTIVE_ACTION_MISSING)
    if rules.require_verified_actions and action_count > 0 and not all_actions_verified:
        blockers.append(ClosureBlocker.CORRECTIVE_ACTION_UNVERIFIED)
    if satisfaction is None:
        if rules.require_satisfaction and not unreachable:
            blockers.append(ClosureBlocker.SATISFACTION_MISSING)
    elif satisfaction > Satisfaction.ACCEPTABLE:
        blockers.append(ClosureBlocker.CUSTOMER_DISSATISFIED)
    if rules.require_regulator_reply and regulator_case and not has_regulator_reply:
        blockers.append(ClosureBlocker.REGULATOR_REPLY_MISSING)
    if rules.require_review and not reviewed:
        blockers.append(ClosureBlocker.REVIEW_MISSING)
    return blockers


def may_mark_invalid(responsibility: Responsibility) -> bool:
    """Only a finding of customer or third-party fault makes a complaint invalid (非我方原因)."""
    return responsibility in {Responsibility.CUSTOMER, Responsibility.THIRD_PARTY}


DEFAULT_REPEAT_RULE = RepeatRule()


class AssessmentRules(BaseModel):
    """考核 (seed 002 §5.4 违规处罚规定; SPEC §6): what each kind of entry against a handler costs
    (负激励, 元) and which entries the complaint changes make by themselves."""

    model_config = _FROZEN

    # §5.4.1.1: 未遵守1个工作日内应诉 — the first-contact deadline breached, 30元/次.
    first_contact_missed: Money = Decimal("30.00")
    # §5.4.1.3: 处理完毕后未按规定咨询客户满意度 — archived (结案) with no satisfaction, 50—100元.
    survey_not_done: Money = Decimal("50.00")
    # Which kinds of case owe the 回访 before 结案 (inquiries and suggestions are answered, not
    # surveyed, unless a company says otherwise).
    survey_required_kinds: frozenset[Kind] = frozenset({Kind.COMPLAINT})
    # §5.4.1.2: 未按受理权责及业务指引操作 — entered by a manager, 30—100元/次.
    procedure_violation_min: Money = Decimal("30.00")
    procedure_violation_max: Money = Decimal("100.00")

    @model_validator(mode="after")
    def _range(self) -> AssessmentRules:
        if self.procedure_violation_min > self.procedure_violation_max:
            raise ValueError("procedure_violation_min exceeds procedure_violation_max")
        return self


DEFAULT_ASSESSMENT_RULES = AssessmentRules()


@dataclass(frozen=True)
class Rules:
    """The configurable rule sets (规则配置: stored as data, defaults from the seeds)."""

    level: LevelRules = DEFAULT_LEVEL_RULES
    repeat: RepeatRule = DEFAULT_REPEAT_RULE
    routing: RoutingRules = DEFAULT_ROUTING_RULES
    approval: ApprovalRules = DEFAULT_APPROVAL_RULES
    closure: ClosureRules = DEFAULT_CLOSURE_RULES
    assessment: AssessmentRules = DEFAULT_ASSESSMENT_RULES
