"""Every kind of problem the API answers, by its stable `code`: the status, and the title and
advice in English and Chinese. The problem `type` is `/problems/<code>`; a console switches on
`code` (or `type`) and shows `title` / `detail`, which follow `Accept-Language` (zh → 中文).

The domain's refusals name their code (`shared.domain.errors`); this table gives the words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Kind:
    status: int
    title: str
    title_zh: str
    advice_zh: str  # what to do, in Chinese (the English detail comes from the refusal)


_K = Kind
CATALOG: Mapping[str, Kind] = MappingProxyType(
    {
        "validation": _K(422, "Invalid input", "输入有误", "请按 errors 中列出的字段修改后重试。"),
        "malformed-json": _K(400, "Malformed JSON", "JSON 格式错误", "请求体不是合法的 JSON。"),
        "bad-request": _K(400, "Bad request", "请求有误", "请检查请求后重试。"),
        "unsupported-media-type": _K(
            415, "Unsupported media type", "不支持的内容类型", "请按接口要求的格式发送请求体。"
        ),
        "body-too-large": _K(413, "Content too large", "请求体过大", "请缩小请求体后重试。"),
        "unauthenticated": _K(
            401,
            "Unauthorized",
            "未登录",
            "请先登录（Authorization: Bearer <令牌>），集成方请提供 X-API-Key。",
        ),
        "forbidden": _K(403, "Forbidden", "无权操作", "您的账号无权进行此操作。"),
        "wrong-role": _K(
            403,
            "Not for your role",
            "角色无权操作",
            "此操作不属于您的角色，请交由有权限的同事处理。",
        ),
        "tier-too-low": _K(
            403,
            "Tier too low",
            "受理级别不足",
            "此投诉的级别需要更高一级受理人（一级/二级/三级受理人）处理，请转交上级。",
        ),
        "four-eyes": _K(
            403,
            "Approval by someone else",
            "需他人审批",
            "处理方案不能由提出人本人审批（四眼原则），请由其他经理或总监审批。",
        ),
        "not-found": _K(404, "Not found", "未找到", "记录不存在，或您无权查看。"),
        "method-not-allowed": _K(
            405, "Method not allowed", "不支持的请求方法", "请查看接口文档中的请求方法。"
        ),
        "not-acceptable": _K(406, "Not acceptable", "无法提供所需格式", "请调整 Accept 请求头。"),
        "conflict": _K(409, "Conflict", "状态冲突", "记录的当前状态不允许此操作，请刷新后重试。"),
        "state-conflict": _K(
            409,
            "Not possible in the complaint's current state",
            "当前状态下无法操作",
            "投诉目前的处理进度不允许此操作，请先完成前置步骤。",
        ),
        "awaiting-approval": _K(
            409, "Awaiting approval", "等待审批", "处理方案尚待审批（审批），审批通过后再实施。"
        ),
        "closure-requirements": _K(
            409,
            "Closure requirements not met",
            "未满足结案条件",
            "结案前须完成：原因分析、纠正预防措施及效果确认（四不放过）、回访、监管回复。",
        ),
        "invalid-transition": _K(
            409,
            "Invalid transition",
            "当前状态不允许此操作",
            "投诉当前状态不允许此操作；可执行的操作见 allowed_actions。",
        ),
        "stale-version": _K(
            412,
            "Precondition failed",
            "版本已过期",
            "投诉已被他人更新，请重新获取（GET）后用新的 ETag 重试。",
        ),
        "if-match-required": _K(
            428,
            "Precondition required",
            "缺少 If-Match",
            "请在 If-Match 请求头中带上投诉的 ETag（先 GET 获取）。",
        ),
        "rate-limited": _K(
            429, "Too many requests", "请求过于频繁", "请按 Retry-After 指示的秒数稍后重试。"
        ),
        "recusal": _K(
            422, "Recusal", "需要回避", "被投诉的员工本人不能处理此投诉（回避），请指派其他人。"
        ),
        "idempotency-key-reused": _K(
            422,
            "Idempotency key reused with a different request",
            "幂等键已用于其他请求",
            "同一个 Idempotency-Key 只能用于相同的请求；新的投诉请换一个新键。",
        ),
        "unsafe-url": _K(
            422, "Unsafe webhook URL", "不安全的回调地址", "请使用可公开访问的 https 地址。"
        ),
        "template": _K(422, "Template refused", "模板错误", "请按 errors 或说明修改模板。"),
        "domain-rule": _K(422, "Domain rule violated", "不符合业务规则", "请按说明修改后重试。"),
        "unavailable": _K(
            503,
            "Service unavailable",
            "服务暂不可用",
            "依赖的服务暂时无法访问，请按 Retry-After 稍后重试。",
        ),
        "internal-error": _K(
            500,
            "Internal server error",
            "服务器内部错误",
            "请稍后重试；如持续出现，请把 incident 编号告知管理员。",
        ),
    }
)

# Errors FastAPI or Starlette raise as bare HTTP statuses.
CODE_OF_STATUS: Mapping[int, str] = MappingProxyType(
    {
        400: "bad-request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        406: "not-acceptable",
        409: "conflict",
        413: "body-too-large",
        415: "unsupported-media-type",
        422: "validation",
        429: "rate-limited",
        503: "unavailable",
    }
)


def problem_type(code: str) -> str:
    return f"/problems/{code}"


def wants_chinese(accept_language: str | None) -> bool:
    """Whether the client prefers Chinese (`zh`, `zh-CN`, `zh-Hans` …) to English, by the
    q-values of `Accept-Language`; English when it names neither."""
    best: tuple[float, bool] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        is_zh = tag == "zh" or tag.startswith("zh-")
        if not (is_zh or tag == "en" or tag.startswith("en-")) or q <= 0:
            continue
        if best is None or q > best[0]:
            best = (q, is_zh)
    return best is not None and best[1]


def problem_types_markdown() -> str:
    """The catalog as a Markdown table, for the API description."""
    lines = ["| `code` (type `/problems/<code>`) | status | title | 中文 |", "|---|---|---|---|"]
    lines += [f"| `{c}` | {k.status} | {k.title} | {k.title_zh} |" for c, k in CATALOG.items()]
    return "\n".join(lines)
