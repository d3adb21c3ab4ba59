"""Level, repeat, routing, approval, satisfaction, escalation and closure rules.

Expected values are written from the seeds and the SPEC, never read back from the module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.enums import (
    Category,
    Channel,
    Level,
    RemedyType,
    Responsibility,
    Role,
    Satisfaction,
)
from shared.domain.intake import ComplaintIntake, Customer, Product, Wish
from shared.domain.rules import (
    ApprovalRules,
    ClosureBlocker,
    ClosureRules,
    GroupCandidate,
    GroupFinding,
    LevelRules,
    RepeatKey,
    RepeatRule,
    RoutingRules,
    closure_blockers,
    detect_group,
    escalate,
    is_repeat_of,
    level_text,
    may_mark_invalid,
    required_approval,
    reviewer_problem,
    route,
    satisfaction_outcome,
    suggest_level,
    tier_for,
    tier_reaches,
)

# --- level suggestion ----------------------------------------------------------------------


def level_of(text: str, channel: Channel = Channel.PHONE, **kwargs: object) -> Level:
    return suggest_level(channel=channel, text=text, is_repeat=False, **kwargs).level  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("你们再不处理我就打12315投诉", "12315"),
        ("我已经联系了记者, 准备曝光你们", "记者"),
        ("我要找媒体曝光这件事", "曝光"),
        ("我的律师会联系你们", "律师"),
        ("我要去法院起诉", "起诉"),
        ("热水器漏电, 孩子手被烫伤了", "烫伤"),
        ("产品爆裂导致人员受伤", "受伤"),
        ("我们小区三十户集体投诉", "集体"),
        ("新品批量出现质量问题", "批量"),
        ("已经投诉到消协了", "消协"),
        ("你们职能部门不作为", "不作为"),
    ],
)
def test_keywords_make_a_complaint_very_serious(text: str, keyword: str) -> None:
    suggestion = suggest_level(channel=Channel.PHONE, text=text, is_repeat=False)
    assert suggestion.level is Level.VERY_SERIOUS
    assert f"keyword:{keyword}" in suggestion.reasons


@pytest.mark.parametrize(
    "text", ["店员服务态度很差", "这是我第二次投诉了, 再次投诉", "对新的退货政策不满意"]
)
def test_seed_002_level_two_signals(text: str) -> None:
    assert level_of(text) is Level.SERIOUS


@pytest.mark.parametrize(
    "text",
    [
        "洗衣机用了三天就不转了, 要求维修",
        "快递晚到了两天",
        "请回电 13153001234",  # "315" inside a phone number is no 3·15 threat
        "订单号 SO123159 的货少了一件",
    ],
)
def test_ordinary_complaints_stay_level_one(text: str) -> None:
    suggestion = suggest_level(channel=Channel.PHONE, text=text, is_repeat=False)
    assert suggestion.level is Level.ORDINARY
    assert suggestion.reasons == []


def test_full_width_digits_and_ascii_case() -> None:
    assert level_of("我要打１２３１５") is Level.VERY_SERIOUS
    rules = LevelRules(very_serious_keywords=("CCTV",))
    assert level_of("我要找cctv曝光", rules=rules) is Level.VERY_SERIOUS
    assert level_of("我要找Cctv", rules=rules) is Level.VERY_SERIOUS
    assert level_of("型号XCCTV2", rules=rules) is Level.ORDINARY
    assert level_of("我要曝光", rules=rules) is Level.ORDINARY  # the defaults were replaced


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("我要打315", True),
        ("上315晚会", True),
        ("3·15 315!", True),
        ("区号0315", False),  # a digit before
        ("花了3150元", False),  # a digit after
        ("型号A315B", False),
    ],
)
def test_ascii_keywords_stand_alone(text: str, hit: bool) -> None:
    rules = LevelRules(very_serious_keywords=("315",), serious_keywords=())
    assert (level_of(text, rules=rules) is Level.VERY_SERIOUS) is hit


def test_regulator_channel_is_level_three() -> None:
    suggestion = suggest_level(channel=Channel.REGULATOR, text="商品与描述不符", is_repeat=False)
    assert suggestion.level is Level.VERY_SERIOUS
    assert suggestion.reasons == ["channel:regulator"]
    assert level_of("商品与描述不符", channel=Channel.SOCIAL_MEDIA) is Level.ORDINARY


def test_repeat_is_at_least_level_two() -> None:
    repeat = suggest_level(channel=Channel.WEB, text="还是不转", is_repeat=True)
    assert (repeat.level, repeat.reasons) == (Level.SERIOUS, ["repeat"])
    both = suggest_level(channel=Channel.WEB, text="再不修好就曝光", is_repeat=True)
    assert both.level is Level.VERY_SERIOUS
    assert {"repeat", "keyword:曝光"} <= set(both.reasons)


def test_group_complaints() -> None:
    assert level_of("一起买的都坏了", customer_count=2) is Level.ORDINARY
    group = suggest_level(channel=Channel.VISIT, text="都坏了", is_repeat=False, customer_count=3)
    assert (group.level, group.reasons) == (Level.VERY_SERIOUS, ["group:3"])


def test_a_level_set_by_staff_is_a_floor() -> None:
    kept = suggest_level(
        channel=Channel.PHONE, text="要求维修", is_repeat=False, current=Level.SERIOUS
    )
    assert (kept.level, kept.reasons) == (Level.SERIOUS, ["current:2"])
    raised = suggest_level(
        channel=Channel.PHONE, text="要曝光", is_repeat=False, current=Level.ORDINARY
    )
    assert raised.level is Level.VERY_SERIOUS


def test_level_rules_are_data() -> None:
    stored = LevelRules(serious_keywords=("投诉经理",), group_min_customers=5).model_dump_json()
    rules = LevelRules.model_validate_json(stored)
    assert level_of("我要投诉经理", rules=rules) is Level.SERIOUS
    assert level_of("x", customer_count=4, rules=rules) is Level.ORDINARY
    with pytest.raises(ValidationError):
        LevelRules(very_serious_keywords=("  ",))
    with pytest.raises(ValidationError):
        LevelRules(group_min_customers=1)


_cjk = st.text(
    alphabet=st.sampled_from("我要投诉质量差坏了退款曝光媒体受伤态度 0123456789abcXYZ１２")
)


@given(a=_cjk, b=_cjk, repeat=st.booleans(), channel=st.sampled_from(list(Channel)))
def test_adding_text_never_lowers_the_level(a: str, b: str, repeat: bool, channel: Channel) -> None:
    def level(text: str) -> Level:
        return suggest_level(channel=channel, text=text, is_repeat=repeat).level

    joined = level(a + " " + b)
    assert joined >= level(a)
    assert joined >= level(b)


@given(
    text=_cjk,
    keyword=st.sampled_from(["12315", "媒体", "曝光", "律师", "受伤", "集体", "批量"]),
    current=st.none() | st.sampled_from(list(Level)),
)
def test_a_level_three_keyword_always_gives_level_three(
    text: str, keyword: str, current: Level | None
) -> None:
    for variant in (f"{text} {keyword}", f"{keyword} {text}"):
        suggestion = suggest_level(
            channel=Channel.APP, text=variant, is_repeat=False, current=current
        )
        assert suggestion.level is Level.VERY_SERIOUS


@given(text=_cjk, current=st.none() | st.sampled_from(list(Level)), repeat=st.booleans())
def test_signals_only_raise(text: str, current: Level | None, repeat: bool) -> None:
    base = suggest_level(channel=Channel.EMAIL, text=text, is_repeat=False, current=current)
    more = suggest_level(channel=Channel.EMAIL, text=text, is_repeat=repeat, current=current)
    assert more.level >= base.level
    assert base.level >= (current or Level.ORDINARY)
    assert suggest_level(channel=Channel.REGULATOR, text=text, is_repeat=False).level == 3


# --- repeat complaints -----------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PHONE = "+8613800138000"


def key(**overrides: object) -> RepeatKey:
    fields: dict[str, object] = {
        "phone": PHONE,
        "name": "王芳",
        "order_number": "SO-2026-001",
        "serial_number": "SN123",
        "product_model": "XQB80",
        "created_at": T0,
    }
    fields.update(overrides)
    return RepeatKey.model_validate(fields)


WINDOW = timedelta(days=30)
NO_SERIAL_OR_MODEL = {"serial_number": None, "product_model": None}


@pytest.mark.parametrize(
    ("elapsed", "repeat"),
    [
        (timedelta(0), True),
        (timedelta(days=29, hours=23), True),
        (timedelta(days=30), True),  # inclusive end
        (timedelta(days=30, microseconds=1), False),
        (timedelta(days=45), False),
        (-timedelta(seconds=1), False),  # the "repeat" came first
    ],
)
def test_repeat_window_boundaries(elapsed: timedelta, repeat: bool) -> None:
    assert is_repeat_of(key(created_at=T0 + elapsed), key(), window=WINDOW) is repeat


@pytest.mark.parametrize(
    ("overrides", "repeat"),
    [
        ({"serial_number": None, "product_model": None}, True),  # same order
        ({"order_number": "SO-OTHER", "product_model": None}, True),  # same serial
        ({"order_number": None, "serial_number": None}, True),  # same model
        ({"order_number": "SO-OTHER", "serial_number": "SN9", "product_model": "X2"}, False),
        ({"order_number": None, "serial_number": None, "product_model": None}, False),
        ({"name": "王小芳"}, True),  # names are not matched
        ({"phone": "+8613900139000"}, False),  # another customer, same order
        ({"order_number": " so-2026-001 ", "serial_number": None, "product_model": None}, True),
        (
            {
                "order_number": "ＳＯ－２０２６－００１",
                "serial_number": None,
                "product_model": None,
            },
            True,
        ),
    ],
)
def test_repeat_needs_same_phone_and_a_shared_product_identifier(
    overrides: dict[str, object], repeat: bool
) -> None:
    new = key(created_at=T0 + timedelta(days=3), **overrides)
    assert is_repeat_of(new, key(), window=WINDOW) is repeat


def test_missing_identifiers_never_match_each_other() -> None:
    bare = {"order_number": None, "serial_number": None, "product_model": None}
    assert not is_repeat_of(key(**bare), key(**bare), window=WINDOW)


def test_repeat_across_time_zones() -> None:
    earlier = key(created_at=datetime(2026, 11, 1, 0, 0, tzinfo=UTC))
    new = key(created_at=datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert is_repeat_of(new, earlier, window=WINDOW)  # exactly 30 days later in UTC


def test_repeat_rule_config() -> None:
    assert RepeatRule().window == timedelta(days=30)
    rule = RepeatRule(window_days=7)
    assert rule.is_repeat(key(created_at=T0 + timedelta(days=7)), key())
    assert not rule.is_repeat(key(created_at=T0 + timedelta(days=8)), key())
    with pytest.raises(ValidationError):
        RepeatRule(window_days=0)


def test_repeat_key_validation() -> None:
    with pytest.raises(ValidationError):
        key(phone="13800138000")  # not E.164
    with pytest.raises(ValidationError):
        key(created_at=datetime(2026, 11, 2, 10, 0))  # noqa: DTZ001 - naive on purpose


# --- routing and tiers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "department"),
    [
        (Category.PRODUCT_QUALITY, "quality"),
        (Category.AFTER_SALES_SERVICE, "service"),
        (Category.LOGISTICS, "logistics"),
        (Category.PRICE_MARKETING, "sales"),
        (Category.OTHER, "service"),
    ],
)
@pytest.mark.parametrize(
    ("level", "role"),
    [
        (Level.ORDINARY, Role.AGENT),
        (Level.SERIOUS, Role.MANAGER),
        (Level.VERY_SERIOUS, Role.DIRECTOR),
    ],
)
def test_default_routing(category: Category, department: str, level: Level, role: Role) -> None:
    decision = route(category, level)
    assert (decision.department_code, decision.tier_role) == (department, role)
    assert tier_for(level) is role


def test_routing_is_configurable_and_complete() -> None:
    departments = {c: "cs" for c in Category} | {Category.LOGISTICS: "wuliu"}
    rules = RoutingRules(department_by_category=departments)
    assert route(Category.LOGISTICS, Level.SERIOUS, rules=rules).department_code == "wuliu"
    assert route(Category.OTHER, Level.SERIOUS, rules=rules).department_code == "cs"
    with pytest.raises(ValidationError, match="price_marketing"):
        RoutingRules(department_by_category={c: "x" for c in Category if c != "price_marketing"})
    with pytest.raises(ValidationError):
        RoutingRules(tier_by_level={Level.ORDINARY: Role.AGENT, Level.SERIOUS: Role.MANAGER})
    with pytest.raises(ValidationError):
        RoutingRules(tier_by_level={lvl: Role.AUDITOR for lvl in Level})


@pytest.mark.parametrize(
    ("level", "escalated"),
    [
        (Level.ORDINARY, Level.SERIOUS),
        (Level.SERIOUS, Level.VERY_SERIOUS),
        (Level.VERY_SERIOUS, Level.VERY_SERIOUS),
    ],
)
def test_escalation(level: Level, escalated: Level) -> None:
    assert escalate(level) is escalated


# --- approval --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Remedy:
    type: RemedyType
    amount: Decimal | None = None


def comp(amount: str) -> Remedy:
    return Remedy(RemedyType.COMPENSATION, Decimal(amount))


@pytest.mark.parametrize(
    ("amount", "approver"),
    [
        ("0.00", None),
        ("499.99", None),
        ("500.00", None),  # "above" 500: exactly 500 is the handler's call
        ("500", None),
        ("500.01", Role.MANAGER),
        ("4999.99", Role.MANAGER),
        ("5000.00", Role.MANAGER),
        ("5000.01", Role.DIRECTOR),
        ("120000.00", Role.DIRECTOR),
    ],
)
def test_approval_thresholds(amount: str, approver: Role | None) -> None:
    """The amount limits alone, for a company whose agents settle small sums (no kind needs a
    manager whatever its amount)."""
    by_amount = ApprovalRules(manager_types=frozenset())
    assert required_approval([comp(amount)], rules=by_amount) is approver
    refund = Remedy(RemedyType.REFUND, Decimal(amount))
    assert required_approval([refund], rules=by_amount) is approver


@pytest.mark.parametrize("amount", ["0.00", "0.01", "499.99", "500.00", "5000.00"])
def test_any_compensation_or_refund_needs_a_manager_seed_000_003(amount: str) -> None:
    """Seed 003 (涉及赔偿的须向总经理汇报) and seed 000 (附带赔偿待同意后方可办理): by default any
    compensation or refund, whatever the sum, is approved by a manager; above the higher
    limit by a director."""
    assert required_approval([comp(amount)]) is Role.MANAGER
    assert required_approval([Remedy(RemedyType.REFUND, Decimal(amount))]) is Role.MANAGER
    assert required_approval([comp("5000.01")]) is Role.DIRECTOR


def test_replacement_or_return_needs_a_manager_seed_000() -> None:
    """Seed 000 (退货、换货, 报各部门审批): 换货/退货 need a manager by default; repairs,
    apologies and explanations are the handler's."""
    assert required_approval([Remedy(RemedyType.REPLACEMENT)]) is Role.MANAGER
    assert required_approval([Remedy(RemedyType.RETURN, Decimal("800.00"))]) is Role.MANAGER
    handler_only = [
        Remedy(RemedyType.REPAIR, Decimal("800.00")),
        Remedy(RemedyType.APOLOGY),
        Remedy(RemedyType.EXPLANATION),
    ]
    assert required_approval(handler_only) is None


def test_approval_sums_compensation_and_refunds_only() -> None:
    assert (
        required_approval([comp("300.00"), Remedy(RemedyType.REFUND, Decimal("200.01"))])
        is Role.MANAGER
    )
    warranty = [
        Remedy(RemedyType.REPLACEMENT, Decimal("9000.00")),
        Remedy(RemedyType.REPAIR, Decimal("800.00")),
        Remedy(RemedyType.RETURN, Decimal("800.00")),
        Remedy(RemedyType.APOLOGY),
        Remedy(RemedyType.EXPLANATION),
    ]
    assert required_approval(warranty) is Role.MANAGER  # 换货/退货, never the director by sum
    assert required_approval([]) is None
    assert required_approval([*warranty, comp("5000.01")]) is Role.DIRECTOR


def test_approval_rules_are_configurable() -> None:
    rules = ApprovalRules(manager_above=Decimal("100.00"), director_above=Decimal("1000.00"))
    assert required_approval([comp("100.01")], rules=rules) is Role.MANAGER
    counting_all = ApprovalRules(counted_types=frozenset(RemedyType))
    assert (
        required_approval([Remedy(RemedyType.REPLACEMENT, Decimal("6000"))], rules=counting_all)
        is Role.DIRECTOR
    )
    with pytest.raises(ValidationError):
        ApprovalRules(manager_above=Decimal("6000.00"), director_above=Decimal("5000.00"))
    with pytest.raises(ValidationError):
        ApprovalRules(manager_above=Decimal("500.005"))
    with pytest.raises(ValidationError):
        ApprovalRules(manager_above=Decimal("-1.00"))


@pytest.mark.parametrize("amount", ["-0.01", "10.001", "NaN", "Infinity"])
def test_approval_rejects_bad_amounts(amount: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        required_approval([comp(amount)])


_RANK = {None: 0, Role.MANAGER: 1, Role.DIRECTOR: 2}
_cents = st.integers(min_value=0, max_value=2_000_000).map(lambda c: Decimal(c).scaleb(-2))


@given(st.lists(_cents, max_size=6), _cents)
def test_more_compensation_never_needs_less_approval(
    amounts: list[Decimal], extra: Decimal
) -> None:
    remedies = [Remedy(RemedyType.COMPENSATION, a) for a in amounts]
    before = required_approval(remedies)
    after = required_approval([*remedies, Remedy(RemedyType.COMPENSATION, extra)])
    assert _RANK[after] >= _RANK[before]
    total = sum(amounts, Decimal("0"))
    # Seed 000 / 003: any compensation at all needs a manager; a director above 5000.
    expected = Role.DIRECTOR if total > 5000 else Role.MANAGER if amounts else None
    assert before is expected


# --- satisfaction ----------------------------------------------------------------------------

# (score, level) → (closable, reopen, escalate_to, management_review), seed 002 §5.3.1.6–7.
SATISFACTION_TABLE = [
    (1, 1, True, False, None, False),
    (1, 2, True, False, None, False),
    (1, 3, True, False, None, False),
    (2, 1, True, False, None, False),
    (2, 2, True, False, None, False),
    (2, 3, True, False, None, False),
    (3, 1, True, False, None, False),
    (3, 2, True, False, None, False),
    (3, 3, True, False, None, False),
    (4, 1, False, True, 2, False),
    (4, 2, False, True, 3, False),
    (4, 3, False, True, None, True),
    (5, 1, False, True, 2, False),
    (5, 2, False, True, 3, False),
    (5, 3, False, True, None, True),
]


@pytest.mark.parametrize(
    ("score", "level", "closable", "reopen", "escalate_to", "review"), SATISFACTION_TABLE
)
def test_satisfaction_outcomes(
    score: int, level: int, closable: bool, reopen: bool, escalate_to: int | None, review: bool
) -> None:
    outcome = satisfaction_outcome(score, Level(level))
    assert outcome.closable is closable
    assert outcome.reopen is reopen
    assert outcome.escalate_to == escalate_to
    assert outcome.management_review is review
    assert satisfaction_outcome(Satisfaction(score), Level(level)) == outcome


@pytest.mark.parametrize("score", [0, 6, -1])
def test_satisfaction_outside_the_scale(score: int) -> None:
    with pytest.raises(ValueError, match="Satisfaction"):
        satisfaction_outcome(score, Level.ORDINARY)


# --- closure (四不放过) and invalid ----------------------------------------------------------


@pytest.mark.parametrize("responsibility", [Responsibility.COMPANY, Responsibility.SHARED])
def test_fault_cases_need_root_cause_and_action(responsibility: Responsibility) -> None:
    def blockers(has_root_cause: bool, action_count: int) -> list[str]:
        return list(
            closure_blockers(
                responsibility=responsibility,
                has_root_cause=has_root_cause,
                action_count=action_count,
                satisfaction=Satisfaction.SATISFIED,
            )
        )

    assert blockers(False, 0) == ["root_cause_missing", "corrective_action_missing"]
    assert blockers(True, 0) == ["corrective_action_missing"]
    assert blockers(False, 2) == ["root_cause_missing"]
    assert blockers(True, 1) == []


@pytest.mark.parametrize(
    "responsibility",
    [Responsibility.CUSTOMER, Responsibility.THIRD_PARTY, Responsibility.UNDETERMINED],
)
def test_other_cases_close_without_8d(responsibility: Responsibility) -> None:
    blockers = closure_blockers(
        responsibility=responsibility,
        has_root_cause=False,
        action_count=0,
        satisfaction=Satisfaction.ACCEPTABLE,
    )
    assert blockers == []


def test_verification_and_survey_blockers() -> None:
    # By default verification may finish after 结案.
    assert not closure_blockers(
        responsibility=Responsibility.COMPANY,
        has_root_cause=True,
        action_count=1,
        all_actions_verified=False,
        satisfaction=Satisfaction.SATISFIED,
    )
    strict = ClosureRules(require_verified_actions=True, require_satisfaction=True)
    blockers = closure_blockers(
        responsibility=Responsibility.COMPANY,
        has_root_cause=True,
        action_count=1,
        all_actions_verified=False,
        rules=strict,
    )
    assert blockers == [
        ClosureBlocker.CORRECTIVE_ACTION_UNVERIFIED,
        ClosureBlocker.SATISFACTION_MISSING,
    ]
    for score, blocked in [(1, False), (3, False), (4, True), (5, True)]:
        result = closure_blockers(
            responsibility=Responsibility.CUSTOMER,
            has_root_cause=False,
            action_count=0,
            satisfaction=Satisfaction(score),
        )
        assert (result == ["customer_dissatisfied"]) is blocked
        assert (result == []) is not blocked


@pytest.mark.parametrize(
    ("responsibility", "allowed"),
    [
        (Responsibility.COMPANY, False),
        (Responsibility.SHARED, False),
        (Responsibility.UNDETERMINED, False),
        (Responsibility.CUSTOMER, True),
        (Responsibility.THIRD_PARTY, True),
    ],
)
def test_may_mark_invalid(responsibility: Responsibility, allowed: bool) -> None:
    assert may_mark_invalid(responsibility) is allowed


def test_a_regulator_case_needs_its_reply_before_closure() -> None:
    def blockers(**kwargs: object) -> list[ClosureBlocker]:
        return closure_blockers(  # type: ignore[arg-type]
            responsibility=None,
            has_root_cause=False,
            action_count=0,
            satisfaction=Satisfaction.SATISFIED,
            **kwargs,
        )

    assert blockers(regulator_case=True) == [ClosureBlocker.REGULATOR_REPLY_MISSING]
    assert blockers(regulator_case=True, has_regulator_reply=True) == []
    assert blockers(regulator_case=False) == []
    off = ClosureRules(require_regulator_reply=False)
    assert blockers(regulator_case=True, rules=off) == []


def test_the_rating_is_mandatory_unless_the_customer_was_unreachable() -> None:
    """Seed 002 §5.3.1.6 / §5.4.1.3: no 结案 without the 回访 — a rating, or the customer
    recorded unreachable after the configured attempts (its own outcome)."""

    def blockers(**kwargs: object) -> list[ClosureBlocker]:
        return closure_blockers(  # type: ignore[arg-type]
            responsibility=None, has_root_cause=False, action_count=0, **kwargs
        )

    assert blockers() == [ClosureBlocker.SATISFACTION_MISSING]
    assert blockers(unreachable=True) == []
    assert blockers(satisfaction=Satisfaction.SATISFIED) == []
    assert blockers(rules=ClosureRules(require_satisfaction=False)) == []


def test_archiving_needs_the_review() -> None:
    """Seed 002 §5.1.1.1–3: 审核 before 存档."""
    rated = {"satisfaction": Satisfaction.SATISFIED}
    assert closure_blockers(
        responsibility=None, has_root_cause=False, action_count=0, reviewed=False, **rated
    ) == [ClosureBlocker.REVIEW_MISSING]
    off = ClosureRules(require_review=False)
    assert not closure_blockers(
        responsibility=None,
        has_root_cause=False,
        action_count=0,
        reviewed=False,
        rules=off,
        **rated,
    )


@pytest.mark.parametrize(
    ("level", "role", "allowed"),
    [
        (Level.ORDINARY, Role.AGENT, False),  # §5.1.1.1: 由二级受理人审核
        (Level.ORDINARY, Role.MANAGER, True),
        (Level.ORDINARY, Role.DIRECTOR, True),
        (Level.SERIOUS, Role.MANAGER, False),  # §5.1.1.2: 报三级受理人审核
        (Level.SERIOUS, Role.DIRECTOR, True),
        (Level.VERY_SERIOUS, Role.MANAGER, False),  # §5.1.1.3: 三级受理人指导处理
        (Level.VERY_SERIOUS, Role.DIRECTOR, True),
        (Level.ORDINARY, Role.CLERK, False),
    ],
)
def test_the_reviewer_is_the_tier_above_seed_002_5_1_1(
    level: Level, role: Role, allowed: bool
) -> None:
    problem = reviewer_problem(role=role, reviewer_id="r", level=level, handlers=["h", None])
    assert (problem is None) is allowed


def test_the_reviewer_is_never_the_handler_four_eyes() -> None:
    """Seed 002 §5.1.1.3: a level-3 case directed by a director is signed off by another."""
    problem = reviewer_problem(
        role=Role.DIRECTOR, reviewer_id="d1", level=Level.VERY_SERIOUS, handlers=["d1"]
    )
    assert problem is not None
    assert "四眼" in problem


def test_a_company_with_another_chain_changes_the_reviewers() -> None:
    rules = ClosureRules(
        reviewer_by_level={
            Level.ORDINARY: Role.AGENT,
            Level.SERIOUS: Role.MANAGER,
            Level.VERY_SERIOUS: Role.DIRECTOR,
        }
    )
    ok = reviewer_problem(
        role=Role.AGENT, reviewer_id="a2", level=Level.ORDINARY, handlers=["a1"], rules=rules
    )
    assert ok is None
    with pytest.raises(ValueError, match="no reviewer"):
        ClosureRules(reviewer_by_level={Level.ORDINARY: Role.MANAGER})
    with pytest.raises(ValueError, match="archive"):
        ClosureRules(archivist_roles=frozenset())


# --- what the keyword rules read, and tiers ----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "detail", "symptom"),
    [
        ("电水壶坏了。", "再不处理我就找律师", None),
        ("电水壶坏了。", None, "通电后冒烟起火"),
        ("电水壶坏了，我要曝光。", None, None),
    ],
)
def test_level_keywords_are_read_in_the_complaint_wish_and_symptom(
    content: str, detail: str | None, symptom: str | None
) -> None:
    intake = ComplaintIntake(
        channel=Channel.WEB,
        customer=Customer(name="王芳", phone="13812345678"),
        content=content,
        desired_resolution=Wish(types=["repair"], detail=detail),
        product=Product(model="KX-200", symptom=symptom),
    )
    assert level_of(level_text(intake)) is Level.VERY_SERIOUS


@pytest.mark.parametrize(
    ("role", "level", "reaches"),
    [
        (Role.AGENT, Level.ORDINARY, True),
        (Role.AGENT, Level.SERIOUS, False),
        (Role.MANAGER, Level.SERIOUS, True),
        (Role.MANAGER, Level.VERY_SERIOUS, False),
        (Role.DIRECTOR, Level.VERY_SERIOUS, True),
        (Role.DIRECTOR, Level.ORDINARY, True),  # a higher tier may do what a lower one may
        (Role.HANDLER, Level.ORDINARY, False),
        (None, Level.ORDINARY, False),
    ],
)
def test_tier_reaches(role: Role | None, level: Level, reaches: bool) -> None:
    assert tier_reaches(role, level) is reaches


def test_tiers_follow_the_routing_rules() -> None:
    managers_do_three = RoutingRules(
        tier_by_level={
            Level.ORDINARY: Role.AGENT,
            Level.SERIOUS: Role.MANAGER,
            Level.VERY_SERIOUS: Role.MANAGER,
        }
    )
    assert tier_reaches(Role.MANAGER, Level.VERY_SERIOUS, rules=managers_do_three)
    assert not tier_reaches(Role.AGENT, Level.SERIOUS, rules=managers_do_three)


# --- group complaints (集体投诉, seed 002 §4.3.3; issue 11 §5) ------------------------------------


def _candidate(n: int, customer: str, group: str | None = None) -> GroupCandidate:
    return GroupCandidate(id=f"c{n}", customer=customer, group_id=group)


def test_three_customers_about_one_model_form_a_group_seed_002_4_3_3() -> None:
    """Seed 002 §4.3.3 / SPEC §2: 3 or more distinct customers (the new one included) about the
    same model or batch within the window are one group; the same customer twice counts once."""
    one_customer_twice = [_candidate(1, "+8613900000001"), _candidate(2, "+8613900000001")]
    assert detect_group("+8613900000002", one_customer_twice) is None
    earlier = [_candidate(1, "+8613900000001"), _candidate(2, "a@example.com")]
    found = detect_group("+8613900000003", earlier)
    assert found == GroupFinding(group_id="c1", customers=3, members=("c1", "c2"), formed=True)
    # A fourth joins the group the earlier ones already form: management was told already.
    grouped = [_candidate(1, "x", "c1"), _candidate(2, "y", "c1"), _candidate(3, "z", "c1")]
    joined = detect_group("w", [*grouped, _candidate(4, "v")])
    assert joined == GroupFinding(group_id="c1", customers=5, members=("c4",), formed=False)


def test_group_detection_is_rule_data() -> None:
    earlier = [_candidate(1, "x"), _candidate(2, "y")]
    assert detect_group("z", earlier, rules=LevelRules(group_window_days=0)) is None
    assert detect_group("z", earlier, rules=LevelRules(group_min_customers=4)) is None
    two = detect_group("z", earlier[:1], rules=LevelRules(group_min_customers=2))
    assert two is not None
    assert two.customers == 2


def test_customer_count_at_intake_makes_a_group_complaint_level_3() -> None:
    """SPEC §2: a complaint speaking for 3+ customers (customer_count) is level 3."""
    got = suggest_level(channel=Channel.WEB, text="热水器漏水", is_repeat=False, customer_count=3)
    assert got.level is Level.VERY_SERIOUS
    assert "group:3" in got.reasons


def test_the_same_category_or_email_is_a_repeat_seed_002_4_3_2() -> None:
    """Seed 002 §4.3.2, issue 11 §5: the same customer (phone, or email case-folded) about the
    same category within the window repeats, with no product at all (服务态度)."""
    bare = {"order_number": None, "serial_number": None, "product_model": None}
    service = {**bare, "category": "after_sales_service"}
    new = key(created_at=T0 + timedelta(days=3), **service)
    assert RepeatRule().is_repeat(new, key(**service))
    assert not RepeatRule(same_category=False).is_repeat(new, key(**service))
    assert not RepeatRule().is_repeat(new, key(**{**bare, "category": "logistics"}))
    by_mail = key(created_at=T0 + timedelta(days=3), phone=None, email="Zhao@Example.com")
    assert RepeatRule().is_repeat(by_mail, key(email="zhao@example.com"))
    assert not RepeatRule().is_repeat(by_mail, key(email=None))
