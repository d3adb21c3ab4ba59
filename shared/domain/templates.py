"""Notification message templates in Chinese (通知模板).

Customers are told of registration (with the 受理号), progress, the solution, the result and
the satisfaction survey; staff of assignment, deadline warnings and breaches (时限预警 / 超时),
escalations (升级) and level-3 cases (三级投诉). Webhooks carry data, not text, so templates
only exist for SMS and email.

Templates are editable by administrators, so every saved text goes through
`validate_template`: placeholders are plain names from the key's allowed set (``{reference}``),
never attribute or index access, conversions or format specs, braces must balance (a literal
brace is written ``{{`` / ``}}``), and the forbidden phrases of seed 002 (禁忌语言) are refused.
`render` substitutes values itself instead of calling ``str.format``, so a template can never
reach an object's attributes.

Placeholders (values are strings the caller has already formatted):

============== ============================================================================
reference      受理号, the complaint reference number
company_name   公司名称
customer_name  客户称呼 (customer templates only)
service_phone  客服热线, the company's service line (not the customer's phone)
handler_name   处理人 / 受理人 name
department     责任部门
level          投诉级别, see `level_label`
previous_level the level before an escalation (升级前级别)
stage          时限环节, see `stage_label`
due_at_local   截止时间 in Asia/Shanghai, see `format_due_at_local`
reason         升级原因
category       投诉分类 label
case_url       the case in the staff console (工单链接)
survey_url     满意度调查链接 (carries the survey token)
progress_summary / solution_summary / result_summary: 进度 / 处理方案 / 处理结果 texts
stages_summary the stages and their approximate times (受理回执, from the SLA policy)
handler_contact the handler's direct work contact (工作电话/分机, `users.contact_phone`)
overrun_reason  why the case is late (超时原因), expected_by_local: when to expect an answer
customers      how many customers a group complaint (集体投诉) counts
============== ============================================================================

Personal data: there is deliberately no placeholder for the customer's phone, email or address,
and staff templates cannot use ``customer_name``: staff open the case in the console instead of
receiving personal data by SMS or email.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

from shared.domain.enums import Level, Stage
from shared.domain.errors import DomainError

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_SUBJECT_CHARS = 120
MAX_BODY_CHARS = 2000
# Long Chinese SMS are split into 67-character parts and most gateways stop at about 500.
MAX_SMS_TEMPLATE_CHARS = 300

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FORMATTER = string.Formatter()


class TemplateError(DomainError):
    """A template or a rendering the rules refuse (模板错误); the detail is Chinese / English.

    Not a ValueError on purpose: raised inside `MessageTemplate`'s validator it propagates as
    itself instead of being folded into a pydantic ValidationError.
    """

    code = "template"

    title = "Invalid message template"


class Audience(StrEnum):
    CUSTOMER = "customer"  # 客户
    STAFF = "staff"  # 员工


class MessageChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class TemplateKey(StrEnum):
    COMPLAINT_ACKNOWLEDGED = "complaint_acknowledged"  # 受理回执, with the 受理号
    PROGRESS_UPDATE = "progress_update"  # 进度回复
    SOLUTION_PROPOSED = "solution_proposed"  # 处理方案
    RESULT_NOTICE = "result_notice"  # 处理结果告知
    SURVEY_INVITATION = "survey_invitation"  # 满意度调查
    ASSIGNMENT = "assignment"  # 分派
    DEADLINE_WARNING = "deadline_warning"  # 时限预警
    DEADLINE_BREACH = "deadline_breach"  # 超时
    ESCALATION = "escalation"  # 升级
    LEVEL3_ALERT = "level3_alert"  # 三级投诉警报
    MANAGEMENT_REVIEW = "management_review"  # 提交总经理例会 (seed 002 §5.3.1.7)
    REPORT_READY = "report_ready"  # 定期报表 (the files attached)
    # Issue 11 §4: the customer kept informed (seed 002 §5.3.1.3; seed 000 第五条).
    HANDLER_NOTICE = "handler_notice"  # 处理人及联系方式
    OVERRUN_NOTICE = "overrun_notice"  # 超时说明: why it is late, when to expect an answer
    GROUP_ALERT = "group_alert"  # 集体投诉: management told once when a group forms


# Seed 002 附件一 §三 (禁忌语言), with the common variants of the same three faults: saying "no"
# to the customer, pushing responsibility away, sending the customer to somebody else. Rule 1
# forbids "不" as such, which cannot be enforced literally (不便, 不断改进), so its example
# phrase is listed.
FORBIDDEN_PHRASES: tuple[str, ...] = (
    "我不知道",  # §三 1
    "不关我的事",  # §三 2
    "不关我事",
    "与我无关",
    "不归我管",
    "你找他吧",  # §三 3
    "您找他吧",
    "你找别人",
    "您找别人",
    "找别人吧",
)

_CUSTOMER_BASE = frozenset(
    {"reference", "company_name", "customer_name", "service_phone", "handler_name", "due_at_local"}
)
_STAFF_BASE = frozenset(
    {
        "reference",
        "company_name",
        "level",
        "stage",
        "due_at_local",
        "department",
        "handler_name",
        "case_url",
        "category",
    }
)
CUSTOMER_PERSONAL_PLACEHOLDERS = frozenset({"customer_name"})
# Values that are credentials for the customer alone: whoever holds the survey link can answer
# the survey. The outbox keeps them for the worker; views of the outbox for ops never show them.
CREDENTIAL_PLACEHOLDERS = frozenset({"survey_url"})
REDACTED = "[redacted]"


def redact_credentials(values: Mapping[str, object]) -> dict[str, object]:
    """`values` (an outbox payload) as ops may read it: credentials replaced by a marker."""
    return {k: REDACTED if k in CREDENTIAL_PLACEHOLDERS else v for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """What a template key is for: who reads it, how it travels, which placeholders it may use
    (`allowed`) and which it must use (`required`, e.g. the 受理号 of an acknowledgement)."""

    audience: Audience
    channels: frozenset[MessageChannel]
    allowed: frozenset[str]
    required: frozenset[str]


def _spec(
    audience: Audience, channels: set[MessageChannel], extra: set[str], required: set[str]
) -> TemplateSpec:
    base = _CUSTOMER_BASE if audience is Audience.CUSTOMER else _STAFF_BASE
    return TemplateSpec(audience, frozenset(channels), base | extra, frozenset(required))


_C, _S = Audience.CUSTOMER, Audience.STAFF
_BOTH = {MessageChannel.SMS, MessageChannel.EMAIL}
_EMAIL = {MessageChannel.EMAIL}
_K = TemplateKey
TEMPLATE_SPECS: Mapping[TemplateKey, TemplateSpec] = MappingProxyType(
    {
        _K.COMPLAINT_ACKNOWLEDGED: _spec(_C, _BOTH, {"stages_summary"}, {"reference"}),
        _K.PROGRESS_UPDATE: _spec(
            _C, _BOTH, {"progress_summary"}, {"reference", "progress_summary"}
        ),
        _K.SOLUTION_PROPOSED: _spec(
            _C, _BOTH, {"solution_summary"}, {"reference", "solution_summary"}
        ),
        _K.RESULT_NOTICE: _spec(_C, _BOTH, {"result_summary"}, {"reference", "result_summary"}),
        _K.SURVEY_INVITATION: _spec(_C, _BOTH, {"survey_url"}, {"reference", "survey_url"}),
        _K.ASSIGNMENT: _spec(_S, _EMAIL, set(), {"reference"}),
        _K.DEADLINE_WARNING: _spec(_S, _EMAIL, set(), {"reference", "stage", "due_at_local"}),
        _K.DEADLINE_BREACH: _spec(_S, _BOTH, set(), {"reference", "stage"}),
        _K.ESCALATION: _spec(_S, _BOTH, {"previous_level", "reason"}, {"reference", "level"}),
        _K.LEVEL3_ALERT: _spec(_S, _BOTH, set(), {"reference"}),
        _K.MANAGEMENT_REVIEW: _spec(_S, _BOTH, {"score"}, {"reference", "score"}),
        _K.REPORT_READY: _spec(
            _S, _EMAIL, {"report_title", "report_period"}, {"report_title", "report_period"}
        ),
        _K.HANDLER_NOTICE: _spec(_C, _BOTH, {"handler_contact"}, {"reference", "handler_name"}),
        _K.GROUP_ALERT: _spec(_S, _BOTH, {"customers"}, {"reference", "customers"}),
        _K.OVERRUN_NOTICE: _spec(
            _C,
            _BOTH,
            {"overrun_reason", "expected_by_local"},
            {"reference", "overrun_reason", "expected_by_local"},
        ),
    }
)


def find_forbidden_phrases(text: str) -> tuple[str, ...]:
    """The 禁忌语言 in `text`, also when split by spaces, punctuation or zero-width characters
    or written in full-width forms. Also useful for free text (处理方案) typed by staff."""
    folded = "".join(
        ch
        for ch in unicodedata.normalize("NFKC", text)
        if unicodedata.category(ch)[0] not in {"Z", "C", "P"}
    )
    return tuple(phrase for phrase in FORBIDDEN_PHRASES if phrase in folded)


def placeholders_in(text: str) -> frozenset[str]:
    """The placeholder names `text` uses; raises `TemplateError` on any unsafe syntax."""
    return frozenset(name for _, name in _parse(text) if name is not None)


def _parse(text: str) -> list[tuple[str, str | None]]:
    """Split `text` into (literal, placeholder-or-None) pieces, refusing everything but
    ``{name}``: `string.Formatter` would otherwise accept ``{x.y}``, ``{x[0]}``, ``{x!r}`` and
    ``{x:>99999999}`` (attribute access and memory abuse)."""
    try:
        pieces = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"花括号不匹配（字面花括号请写作 {{{{ 或 }}}}） / unbalanced braces: {exc}"
        ) from exc
    result: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in pieces:
        if name is None:
            result.append((literal, None))
            continue
        if conversion is not None or spec:
            raise TemplateError(
                f"占位符不允许格式说明或转换 / placeholder {{{name}}} must not have a "
                "conversion or format spec"
            )
        if not _NAME.fullmatch(name):
            raise TemplateError(
                f"占位符只能是简单名称，如 {{reference}} / placeholder {{{name}}} must be a plain "
                "name (no attribute, index or positional access)"
            )
        result.append((literal, name))
    return result


def validate_template(key: TemplateKey | str, subject: str, body: str) -> None:
    """Check a template before it is saved; raises `TemplateError` explaining what to fix."""
    try:
        spec = TEMPLATE_SPECS[TemplateKey(key)]
    except ValueError as exc:
        raise TemplateError(f"未知的模板 / unknown template key {key!r}") from exc
    if not body.strip():
        raise TemplateError("正文不能为空 / body must not be empty")
    if MessageChannel.EMAIL in spec.channels and not subject.strip():
        raise TemplateError("邮件模板需要主题 / an email template needs a subject")
    if "\n" in subject or "\r" in subject:
        raise TemplateError("主题不能换行 / subject must be a single line")
    if len(subject) > MAX_SUBJECT_CHARS or len(body) > MAX_BODY_CHARS:
        raise TemplateError(
            f"主题或正文过长 / subject over {MAX_SUBJECT_CHARS} or body over {MAX_BODY_CHARS} "
            "characters"
        )
    if MessageChannel.SMS in spec.channels and len(body) > MAX_SMS_TEMPLATE_CHARS:
        raise TemplateError(f"短信正文过长 / SMS body over {MAX_SMS_TEMPLATE_CHARS} characters")
    used = placeholders_in(subject) | placeholders_in(body)
    unknown = used - spec.allowed
    if unknown:
        raise TemplateError(
            f"模板 {key} 不允许的占位符 / placeholders not allowed here: "
            f"{', '.join(sorted(unknown))}; allowed: {', '.join(sorted(spec.allowed))}"
        )
    missing = spec.required - placeholders_in(body)
    if missing:
        raise TemplateError(f"正文缺少必需的占位符 / body must use: {', '.join(sorted(missing))}")
    forbidden = find_forbidden_phrases(subject) + find_forbidden_phrases(body)
    if forbidden:
        raise TemplateError(
            f"包含禁忌语言 / contains forbidden phrases (seed 002 禁忌语言): {'、'.join(forbidden)}"
        )


class MessageTemplate(BaseModel):
    """A validated template; audience and channels follow from the key (`TEMPLATE_SPECS`)."""

    model_config = ConfigDict(frozen=True)

    key: TemplateKey
    subject: str
    body: str

    @model_validator(mode="after")
    def _check(self) -> MessageTemplate:
        validate_template(self.key, self.subject, self.body)
        return self

    @property
    def audience(self) -> Audience:
        return TEMPLATE_SPECS[self.key].audience

    @property
    def channels(self) -> frozenset[MessageChannel]:
        return TEMPLATE_SPECS[self.key].channels

    @property
    def placeholders(self) -> frozenset[str]:
        return placeholders_in(self.subject) | placeholders_in(self.body)


class RenderedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: TemplateKey
    audience: Audience
    channels: frozenset[MessageChannel]
    subject: str
    body: str


# Placeholders added after messages were already queued (issue 11): a row written before them
# renders with this text rather than failing.
PLACEHOLDER_DEFAULTS: Mapping[str, str] = MappingProxyType(
    {"stages_summary": "我们会尽快与您联系并跟进处理", "handler_contact": "本公司客服热线"}
)


def render(template: MessageTemplate, values: Mapping[str, str]) -> RenderedMessage:
    """Fill in `values` (extra keys are ignored); a used placeholder without a value raises
    `TemplateError` (but those of `PLACEHOLDER_DEFAULTS`). Values are inserted verbatim, never
    parsed as templates themselves."""
    values = {**PLACEHOLDER_DEFAULTS, **values}
    missing = sorted(name for name in template.placeholders if name not in values)
    if missing:
        raise TemplateError(f"缺少占位符的值 / missing values for: {', '.join(missing)}")
    for name in template.placeholders:
        if not isinstance(values[name], str):
            raise TemplateError(f"占位符的值必须是字符串 / value for {name!r} must be a str")
    # Line breaks in a value would end the Subject header (header injection).
    subject = _substitute(template.subject, values, one_line=True)
    return RenderedMessage(
        key=template.key,
        audience=template.audience,
        channels=template.channels,
        subject=subject,
        body=_substitute(template.body, values, one_line=False),
    )


def _substitute(text: str, values: Mapping[str, str], *, one_line: bool) -> str:
    out: list[str] = []
    for literal, name in _parse(text):
        out.append(literal)
        if name is not None:
            value = values[name]
            out.append(" ".join(value.splitlines()) if one_line else value)
    return "".join(out)


LEVEL_LABELS: Mapping[Level, str] = MappingProxyType(
    {
        Level.ORDINARY: "一级投诉（普通投诉）",
        Level.SERIOUS: "二级投诉（较严重投诉）",
        Level.VERY_SERIOUS: "三级投诉（非常严重投诉）",
    }
)
STAGE_LABELS: Mapping[Stage, str] = MappingProxyType(
    {
        Stage.ACKNOWLEDGEMENT: "受理确认",
        Stage.FIRST_CONTACT: "首次联系客户",
        Stage.INVESTIGATION: "责任部门调查",
        Stage.RESULT_TO_CUSTOMER: "告知客户处理结果",
        Stage.RESOLUTION: "投诉处理",
        Stage.PROGRESS_UPDATE: "进度回复",
        Stage.REGULATOR_REPLY: "回复监管部门",
    }
)


def level_label(level: Level) -> str:
    return LEVEL_LABELS[level]


def stage_label(stage: Stage) -> str:
    return STAGE_LABELS[stage]


def format_due_at_local(due_at: datetime) -> str:
    """``2026年11月20日 18:00`` in Asia/Shanghai, the time every reader of a message uses."""
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    local = due_at.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# Defaults follow seed 002's 客服标准话术: greet with 您好, say what was recorded, promise to
# follow up (我们会尽快跟进处理，请您放心), give the result "请您知悉", thank the customer.
# A space precedes punctuation after a URL so SMS apps do not glue it to the link.
_DEFAULTS: tuple[tuple[TemplateKey, str, str], ...] = (
    (
        _K.COMPLAINT_ACKNOWLEDGED,
        "您的投诉已受理（受理号：{reference}）",
        "您好！感谢您联系{company_name}。您反映的问题我们已记录下来并正式受理，"
        "受理号为 {reference} 。我们会尽快与您联系并跟进处理，请您放心。"
        "处理安排：{stages_summary}。如需补充情况，请提供受理号，谢谢您。",
    ),
    (
        _K.PROGRESS_UPDATE,
        "投诉处理进度（受理号：{reference}）",
        "您好！您受理号为 {reference} 的投诉目前进度如下：{progress_summary}。"
        "我们会尽快跟进处理，感谢您的耐心等待。",
    ),
    (
        _K.SOLUTION_PROPOSED,
        "投诉处理方案（受理号：{reference}）",
        "您好！非常抱歉给您带来不便。关于您受理号为 {reference} 的投诉，我们的处理方案是："
        "{solution_summary}。如您对方案有任何意见，欢迎随时与我们联系。",
    ),
    (
        _K.RESULT_NOTICE,
        "投诉处理结果（受理号：{reference}）",
        "您好！您受理号为 {reference} 的投诉已处理完毕，具体结果是：{result_summary}，请您知悉。"
        "感谢您的耐心等待，非常抱歉给您带来不便。",
    ),
    (
        _K.SURVEY_INVITATION,
        "邀请您评价投诉处理结果（受理号：{reference}）",
        "您好！您受理号为 {reference} 的投诉已处理完毕。为了改进我们的服务，诚邀您对本次处理结果"
        "进行满意度评价：{survey_url} 。谢谢您！",
    ),
    (
        _K.ASSIGNMENT,
        "【新投诉分派】{reference}（{level}）",
        "您好，{handler_name}！受理号 {reference} 的{level}已分派给您，责任部门：{department}。"
        "请于 {due_at_local} 前与客户取得联系并跟进处理。",
    ),
    (
        _K.DEADLINE_WARNING,
        "【时限预警】{reference}「{stage}」将于 {due_at_local} 到期",
        "您好，{handler_name}！受理号 {reference}（{level}）的「{stage}」环节将于 "
        "{due_at_local} 到期，请尽快跟进处理。",
    ),
    (
        _K.DEADLINE_BREACH,
        "【已超时】{reference}「{stage}」",
        "您好，{handler_name}！受理号 {reference}（{level}）的「{stage}」环节已于 "
        "{due_at_local} 超时，本次超时已记录。请立即跟进处理。",
    ),
    (
        _K.ESCALATION,
        "【投诉升级】{reference} 已升级为{level}",
        "您好！受理号 {reference} 的投诉已由{previous_level}升级为{level}，原因：{reason}。"
        "请您跟进处理，当前时限为 {due_at_local}。",
    ),
    (
        _K.LEVEL3_ALERT,
        "【三级投诉】{reference} 请立即关注",
        "您好！受理号 {reference} 为三级投诉（非常严重投诉），可能影响公司声誉或利益，"
        "请立即关注并指导处理。责任部门：{department}。",
    ),
    (
        _K.MANAGEMENT_REVIEW,
        "【总经理例会】{reference} 三级投诉客户不满意",
        "您好！受理号 {reference} 为三级投诉，客户对处理结果的满意度评价为 {score}"
        "（4 不满意 / 5 很不满意），请提交总经理例会研究处理。责任部门：{department}。",
    ),
    (
        _K.REPORT_READY,
        "【{report_title}】{report_period}",
        "您好，{handler_name}！您订阅的{report_title}（{report_period}）已生成，见附件："
        "Excel 工作簿（含图表）与图表页面（无需联网即可打开）。",
    ),
    (
        _K.GROUP_ALERT,
        "【集体投诉】{reference} 等{customers}位客户反映同一问题",
        "您好！受理号 {reference} 与此前的投诉共有{customers}位客户反映同一型号或批次的问题，"
        "已按集体投诉（三级投诉）处理并转交三级受理人，请立即关注并指导处理。",
    ),
    (
        _K.HANDLER_NOTICE,
        "您的投诉已安排专人处理（受理号：{reference}）",
        "您好！您受理号为 {reference} 的投诉已由{handler_name}负责跟进处理，"
        "联系电话：{handler_contact} 。我们会尽快跟进处理，请您放心。",
    ),
    (
        _K.OVERRUN_NOTICE,
        "关于您的投诉处理进度的说明（受理号：{reference}）",
        "您好！非常抱歉，您受理号为 {reference} 的投诉未能在承诺的时间内处理完毕，原因是"
        "{overrun_reason}。我们会尽快跟进处理，预计于 {expected_by_local} 前给您答复，"
        "感谢您的理解与耐心等待。",
    ),
)
DEFAULT_TEMPLATES: Mapping[TemplateKey, MessageTemplate] = MappingProxyType(
    {key: MessageTemplate(key=key, subject=subject, body=body) for key, subject, body in _DEFAULTS}
)
