"""Chinese labels of the values shown on printed forms and in the 台帐 (ledger)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.enums import Level, Status
from shared.domain.lifecycle import STATUS_LABELS
from shared.domain.templates import LEVEL_LABELS

SHANGHAI = ZoneInfo("Asia/Shanghai")

CHANNELS = {
    "phone": "电话",
    "email": "电子邮件",
    "web": "网站",
    "app": "App",
    "letter": "信函",
    "visit": "来访",
    "social_media": "社交媒体",
    "sms": "短信",
    "fax": "传真",
    "regulator": "监管部门转办 (12315)",
    "internal": "内部",
}
KINDS = {"complaint": "投诉", "inquiry": "咨询", "suggestion": "建议"}
CATEGORIES = {
    "product_quality": "产品质量",
    "after_sales_service": "售后服务",
    "logistics": "物流配送",
    "price_marketing": "价格与营销",
    "other": "其他",
}
CUSTOMER_TYPES = {"consumer": "消费者", "dealer": "加盟商", "enterprise": "企业客户"}
WISHES = {
    "refund": "退款",
    "replacement": "换货",
    "repair": "维修",
    "return": "退货",
    "compensation": "赔偿",
    "apology": "道歉",
    "explanation": "解释说明",
    "other": "其他",
}
RESPONSIBILITY = {
    "company": "公司责任",
    "customer": "客户责任",
    "shared": "双方责任",
    "third_party": "第三方责任 (物流等)",
    "undetermined": "待定",
}
SATISFACTION = {1: "非常满意", 2: "满意", 3: "可理解/接受", 4: "不满意", 5: "很不满意"}
ROLES = {
    "agent": "一级受理人",
    "manager": "二级受理人",
    "director": "三级受理人",
    "handler": "责任部门",
    "clerk": "事务文员",
    "auditor": "审计",
    "admin": "管理员",
}
ACTOR_KINDS = {"user": "员工", "integration": "集成", "customer": "客户", "system": "系统"}
# Event types as people read them in a timeline; types not listed here (added later, e.g.
# reviews and archiving) are shown by their own name.
EVENTS = {
    "complaint.registered": "受理登记",
    "complaint.triaged": "分类定级",
    "complaint.assigned": "分派",
    "complaint.reassigned": "改派",
    "complaint.investigation_started": "开始调查",
    "complaint.contact_logged": "联系客户",
    "complaint.awaiting_customer": "等待客户",
    "complaint.customer_responded": "客户已回复",
    "complaint.findings_recorded": "调查结果与责任判定",
    "complaint.root_cause_recorded": "原因分析",
    "complaint.solution_proposed": "提出处理方案",
    "complaint.solution_approved": "方案审批通过",
    "complaint.solution_rejected": "方案被驳回",
    "complaint.customer_agreed": "客户同意方案",
    "complaint.customer_rejected": "客户不同意方案",
    "complaint.solution_implemented": "方案已实施",
    "complaint.resolved": "告知处理结果",
    "complaint.satisfaction_recorded": "满意度回访",
    "complaint.corrective_action_added": "新增纠正预防措施",
    "complaint.corrective_action_updated": "更新纠正预防措施",
    "complaint.corrective_action_verified": "纠正预防措施效果确认",
    "complaint.escalated": "升级",
    "complaint.withdrawn": "撤诉",
    "complaint.marked_invalid": "投诉不成立",
    "complaint.reopened": "重新处理",
    "complaint.closed": "结案存档",
    "complaint.regulator_replied": "回复监管部门",
    "complaint.note_added": "内部备注",
    "complaint.customer_reply_sent": "答复客户",
    "complaint.evidence_attached": "上传证据附件",
    "complaint.claimed": "认领",
    "complaint.reviewed": "审核",
    "complaint.sent_back": "退回",
    "complaint.followup_attempt_logged": "回访未接通",
    "complaint.followup_unreachable": "回访无法联系",
    "deadline.warned": "时限预警",
    "deadline.breached": "超时",
    "deadlines.recomputed": "时限重算",
}


def label(table: dict[Any, str], value: Any) -> str:
    if value is None or value == "":
        return ""
    return table.get(value, str(value))


def status_label(value: str) -> str:
    try:
        return STATUS_LABELS[Status(value)]
    except ValueError:
        return value


def level_label(value: int) -> str:
    try:
        return LEVEL_LABELS[Level(value)]
    except ValueError:
        return str(value)


def local_time(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A stored UTC instant as Asia/Shanghai wall time (+08:00)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


# Payload fields of the timeline, as people read them (others by their own name).
FIELDS = {
    "text": "内容",
    "note": "说明",
    "reason": "原因",
    "summary": "摘要",
    "result": "结果",
    "findings": "调查结果",
    "responsibility": "责任判定",
    "fault_department": "责任部门",
    "department": "部门",
    "assignee_id": "处理人",
    "root_cause": "原因分析",
    "description": "描述",
    "remedies": "方案",
    "type": "类型",
    "amount": "金额",
    "owner": "负责人",
    "due_date": "期限",
    "kind": "类别",
    "score": "满意度",
    "source": "方式",
    "comment": "意见",
    "level": "级别",
    "reference": "受理号",
    "file_name": "文件名",
    "media_type": "文件类型",
    "size_bytes": "字节",
    "sha256": "SHA-256",
    "stage": "时限",
    "due_at": "到期",
    "explanation": "解释",
    "content": "内容",
    "outcome": "结果",
    "method": "方式",
}
