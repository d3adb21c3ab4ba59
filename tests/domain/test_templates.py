"""Message templates (通知模板): defaults, validation on save, safe rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.enums import Level, Stage
from shared.domain.errors import DomainError
from shared.domain.templates import (
    CUSTOMER_PERSONAL_PLACEHOLDERS,
    DEFAULT_TEMPLATES,
    FORBIDDEN_PHRASES,
    TEMPLATE_SPECS,
    Audience,
    MessageChannel,
    MessageTemplate,
    TemplateError,
    TemplateKey,
    find_forbidden_phrases,
    format_due_at_local,
    level_label,
    placeholders_in,
    render,
    stage_label,
    validate_template,
)

SEED_002 = next(Path("/work/shared/seeds").glob("002_*.txt"), None)

CUSTOMER_KEYS = {
    TemplateKey.COMPLAINT_ACKNOWLEDGED,
    TemplateKey.PROGRESS_UPDATE,
    TemplateKey.SOLUTION_PROPOSED,
    TemplateKey.RESULT_NOTICE,
    TemplateKey.SURVEY_INVITATION,
    TemplateKey.HANDLER_NOTICE,  # seed 002 §5.3.1.3: who handles it, the direct contact
    TemplateKey.OVERRUN_NOTICE,  # seed 000 第五条: why it is late, when to expect an answer
}
STAFF_KEYS = {
    TemplateKey.ASSIGNMENT,
    TemplateKey.DEADLINE_WARNING,
    TemplateKey.DEADLINE_BREACH,
    TemplateKey.ESCALATION,
    TemplateKey.LEVEL3_ALERT,
    TemplateKey.MANAGEMENT_REVIEW,
    TemplateKey.REPORT_READY,
    TemplateKey.GROUP_ALERT,  # 集体投诉: management told once (issue 11 §5)
}
VALUES = {
    "reference": "KS-20261120-0007",
    "company_name": "示例公司",
    "customer_name": "王先生",
    "service_phone": "400-000-0000",
    "handler_name": "李娜",
    "department": "综合服务部",
    "level": "二级投诉（较严重投诉）",
    "previous_level": "一级投诉（普通投诉）",
    "stage": "首次联系客户",
    "due_at_local": "2026年11月20日 18:00",
    "reason": "超时未处理",
    "category": "产品质量",
    "case_url": "https://kesu.example/cases/7",
    "survey_url": "https://kesu.example/s/AbC123",
    "progress_summary": "质量部正在检测样品",
    "solution_summary": "为您免费更换新品",
    "report_title": "投诉周报",
    "report_period": "2026-11-23～2026-11-29",
    "result_summary": "已为您更换新品",
    "score": "5",
    "stages_summary": "首次联系客户：2026年11月21日 18:00前；投诉处理：2026年11月25日 18:00前",
    "handler_contact": "0571-8888 8888 转 123",
    "overrun_reason": "您反映的问题需要相关部门进一步调查核实",
    "expected_by_local": "2026年11月27日 18:00",
    "customers": "3",
}


def test_every_key_has_a_spec_and_a_default() -> None:
    assert set(TEMPLATE_SPECS) == set(TemplateKey) == set(DEFAULT_TEMPLATES)
    assert {k for k, s in TEMPLATE_SPECS.items() if s.audience is Audience.CUSTOMER} == (
        CUSTOMER_KEYS
    )
    assert {k for k, s in TEMPLATE_SPECS.items() if s.audience is Audience.STAFF} == STAFF_KEYS
    assert all(spec.required <= spec.allowed for spec in TEMPLATE_SPECS.values())


@pytest.mark.parametrize("key", list(TemplateKey))
def test_defaults_are_polite_and_render(key: TemplateKey) -> None:
    template = DEFAULT_TEMPLATES[key]
    message = render(template, VALUES)
    assert message.body.startswith("您好")
    assert "{" not in message.body
    assert "}" not in message.subject
    assert find_forbidden_phrases(message.subject + message.body) == ()
    if key is not TemplateKey.REPORT_READY:  # a report is about no one complaint
        assert VALUES["reference"] in message.body
    assert message.audience is TEMPLATE_SPECS[key].audience
    if MessageChannel.EMAIL in message.channels:
        assert message.subject


def test_customer_defaults_use_the_seed_phrases() -> None:
    texts = "".join(DEFAULT_TEMPLATES[k].body for k in CUSTOMER_KEYS)
    for phrase in ("您好", "感谢您的耐心等待", "非常抱歉给您带来不便", "请您知悉", "请您放心"):
        assert phrase in texts


def test_acknowledgement_carries_the_reference_and_survey_its_link() -> None:
    ack = render(DEFAULT_TEMPLATES[TemplateKey.COMPLAINT_ACKNOWLEDGED], VALUES)
    assert "受理号" in ack.body
    assert "KS-20261120-0007" in ack.subject
    survey = render(DEFAULT_TEMPLATES[TemplateKey.SURVEY_INVITATION], VALUES)
    assert "https://kesu.example/s/AbC123 " in survey.body  # the link is not glued to "。"


@pytest.mark.skipif(SEED_002 is None, reason="seed texts not available here")
def test_forbidden_list_covers_the_seed_examples() -> None:
    assert SEED_002 is not None
    seed = SEED_002.read_text(encoding="utf-8")
    section = seed[seed.index("禁忌语言") :]
    for phrase in ("我不知道", "这个不关我的事", "你找他吧"):
        assert phrase in section  # the seed still says so
        assert find_forbidden_phrases(phrase), phrase


@pytest.mark.parametrize(
    "text",
    [
        "我不知道这件事",
        "这个不关我的事。",
        "这是质量部的事，你找他吧",
        "我 不 知 道",  # spaced out
        "不关\u200b我的事",  # zero-width space
        "与我无关",
    ],
)
def test_forbidden_phrases_are_found(text: str) -> None:
    assert find_forbidden_phrases(text)


def test_ordinary_negations_are_not_forbidden() -> None:
    assert find_forbidden_phrases("非常抱歉给您带来不便，我们会不断改进。") == ()


@pytest.mark.parametrize("phrase", FORBIDDEN_PHRASES)
def test_templates_with_forbidden_phrases_are_refused(phrase: str) -> None:
    with pytest.raises(TemplateError, match="禁忌语言"):
        validate_template(
            TemplateKey.PROGRESS_UPDATE,
            "进度",
            f"您好！受理号 {{reference}}：{{progress_summary}}。{phrase}",
        )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("您好 {reference} {reference.__class__}", "plain name"),
        ("您好 {reference} {values[0]}", "plain name"),
        ("您好 {reference} {0}", "plain name"),
        ("您好 {reference} {}", "plain name"),
        ("您好 {reference!r}", "format spec"),
        ("您好 {reference:>100000000}", "format spec"),
        ("您好 {reference:{reference}}", "format spec"),
        ("您好 { reference }", "plain name"),
        ("您好 {reference", "unbalanced"),
        ("您好 reference}", "unbalanced"),
        ("您好 {reference} {customer_phone}", "not allowed"),
        ("您好 {reference} {survey_url}", "not allowed"),  # survey link only in the survey
        ("您好，我们已受理。", "must use: reference"),
        ("   ", "empty"),
    ],
)
def test_unsafe_or_wrong_templates_are_refused(body: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why):
        validate_template(TemplateKey.COMPLAINT_ACKNOWLEDGED, "受理通知", body)


def test_other_refusals() -> None:
    with pytest.raises(TemplateError, match="unknown template"):
        validate_template("no_such_key", "s", "您好 {reference}")
    with pytest.raises(TemplateError, match="subject"):
        validate_template(TemplateKey.LEVEL3_ALERT, "", "您好 {reference}")
    with pytest.raises(TemplateError, match="single line"):
        validate_template(TemplateKey.LEVEL3_ALERT, "a\nBcc: x@example.com", "您好 {reference}")
    with pytest.raises(TemplateError, match="SMS body"):
        validate_template(TemplateKey.LEVEL3_ALERT, "s", "您好 {reference}" + "请" * 400)
    with pytest.raises(TemplateError, match="not allowed"):
        validate_template(TemplateKey.LEVEL3_ALERT, "{customer_name}", "您好 {reference}")


def test_staff_templates_cannot_carry_customer_personal_data() -> None:
    for key in STAFF_KEYS:
        assert not TEMPLATE_SPECS[key].allowed & CUSTOMER_PERSONAL_PLACEHOLDERS
    every = set().union(*(s.allowed for s in TEMPLATE_SPECS.values()))
    assert not {p for p in every if any(w in p for w in ("phone", "email", "address"))} - {
        "service_phone"  # the company's line, not the customer's
    }


def test_template_errors_are_domain_errors() -> None:
    with pytest.raises(TemplateError) as info:
        MessageTemplate(key=TemplateKey.ASSIGNMENT, subject="s", body="{reference.x}")
    assert isinstance(info.value, DomainError)
    assert "占位符" in info.value.detail


def test_render_requires_every_used_value() -> None:
    template = DEFAULT_TEMPLATES[TemplateKey.RESULT_NOTICE]
    values = {k: v for k, v in VALUES.items() if k != "result_summary"}
    with pytest.raises(TemplateError, match="missing values for: result_summary"):
        render(template, values)


def test_render_inserts_values_verbatim() -> None:
    template = MessageTemplate(
        key=TemplateKey.PROGRESS_UPDATE,
        subject="进度 {reference}",
        body="您好！{{字面}} {reference}：{progress_summary}",
    )
    hostile = {"reference": "KS-1", "progress_summary": "{reference.__class__} {0} {{x}}"}
    message = render(template, hostile)
    assert message.body == "您好！{字面} KS-1：{reference.__class__} {0} {{x}}"


def test_line_breaks_in_values_cannot_break_the_subject() -> None:
    template = DEFAULT_TEMPLATES[TemplateKey.COMPLAINT_ACKNOWLEDGED]
    message = render(template, {**VALUES, "reference": "KS-1\r\nBcc: evil@example.com"})
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert "KS-1\r\nBcc" in message.body  # the body may hold line breaks


@given(st.text(max_size=60))
def test_validation_never_crashes_unexpectedly(body: str) -> None:
    try:
        validate_template(TemplateKey.ASSIGNMENT, "分派", body)
    except TemplateError:
        return
    assert "reference" in placeholders_in(body)


def test_labels_and_local_time() -> None:
    assert all(stage_label(stage) for stage in Stage)
    assert level_label(Level.VERY_SERIOUS) == "三级投诉（非常严重投诉）"
    assert format_due_at_local(datetime(2026, 11, 20, 10, 0, tzinfo=UTC)) == "2026年11月20日 18:00"
    assert format_due_at_local(datetime(2026, 12, 31, 16, 5, tzinfo=UTC)) == "2027年1月1日 00:05"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_due_at_local(datetime(2026, 11, 20, 10, 0))  # noqa: DTZ001
