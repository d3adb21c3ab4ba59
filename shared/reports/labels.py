"""The Chinese names reports show for stored values (seed terms where the seeds have one)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.domain.enums import (
    Category,
    Channel,
    CustomerType,
    Kind,
    Responsibility,
    Stage,
)

DIMENSIONS: Mapping[str, str] = {
    "kind": "类型",
    "category": "投诉分类",
    "subcategory": "子分类",
    "channel": "受理渠道",
    "level": "级别",
    "department": "责任部门",
    "product_model": "产品型号",
    "customer_type": "客户类型",
}

_VALUES: Mapping[str, Mapping[str, str]] = {
    "kind": {Kind.COMPLAINT: "投诉", Kind.INQUIRY: "咨询", Kind.SUGGESTION: "建议"},
    "category": {
        Category.PRODUCT_QUALITY: "产品质量",
        Category.AFTER_SALES_SERVICE: "售后服务",
        Category.LOGISTICS: "物流配送",
        Category.PRICE_MARKETING: "价格营销",
        Category.OTHER: "其他",
    },
    "channel": {
        Channel.PHONE: "电话",
        Channel.EMAIL: "邮件",
        Channel.WEB: "网站",
        Channel.APP: "App",
        Channel.LETTER: "信函",
        Channel.VISIT: "来访",
        Channel.SOCIAL_MEDIA: "社交媒体",
        Channel.SMS: "短信",
        Channel.FAX: "传真",
        Channel.REGULATOR: "监管转办",
        Channel.INTERNAL: "内部",
    },
    "level": {"1": "一级（普通）", "2": "二级（较严重）", "3": "三级（非常严重）"},
    "customer_type": {
        CustomerType.CONSUMER: "消费者",
        CustomerType.DEALER: "加盟商",
        CustomerType.ENTERPRISE: "企业客户",
    },
    "responsibility": {
        Responsibility.COMPANY: "公司责任",
        Responsibility.CUSTOMER: "客户责任",
        Responsibility.SHARED: "共同责任",
        Responsibility.THIRD_PARTY: "第三方责任",
        Responsibility.UNDETERMINED: "未判定",
    },
    "stage": {
        Stage.ACKNOWLEDGEMENT: "受理确认",
        Stage.FIRST_CONTACT: "首次联系",
        Stage.INVESTIGATION: "调查",
        Stage.RESULT_TO_CUSTOMER: "结果答复",
        Stage.RESOLUTION: "处理完毕",
        Stage.PROGRESS_UPDATE: "进度通报",
        Stage.REGULATOR_REPLY: "监管回复",
    },
    "resolution": {
        "refund": "退款",
        "replacement": "换货",
        "repair": "维修",
        "return": "退货",
        "compensation": "赔偿",
        "apology": "道歉",
        "explanation": "解释说明",
        "other": "其他",
    },
    "cause_class": {
        "quality": "质量类",
        "non_quality": "非质量类",
        "other": "其他",
        "unclassified": "未分类",
    },
    "outcome": {
        "as_asked": "按期望解决",
        "partly": "部分满足",
        "otherwise": "其他方案",
        "no_solution": "无方案（解释/答复）",
    },
    "satisfaction": {
        "1": "1 非常满意",
        "2": "2 满意",
        "3": "3 可理解/接受",
        "4": "4 不满意",
        "5": "5 很不满意",
        "unreachable": "无法联系",
        "unrated": "未评价",
    },
}

NONE_LABEL = "（未填）"


def label(dimension: str, key: str) -> str:
    """The Chinese name of `key`; the key itself where there is none (a department code, a
    product model, a free-text sub-category)."""
    if key == "":
        return NONE_LABEL
    return _VALUES.get(dimension, {}).get(key, key)
