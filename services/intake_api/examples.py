"""Realistic request examples shown in the OpenAPI docs. A test posts every one of them as-is."""

from __future__ import annotations

from typing import Any

COMPLAINT_EXAMPLES: dict[str, dict[str, Any]] = {
    "phone": {
        "summary": "电话投诉：洗衣机漏水（呼叫中心实时登记）",
        "value": {
            "channel": "phone",
            "kind": "complaint",
            "category": "product_quality",
            "subcategory": "漏水",
            "customer": {"name": "张伟", "phone": "13812345678", "customer_type": "consumer"},
            "product": {
                "model": "XQG100-B14",
                "serial_number": "SN2025083100123",
                "order_number": "JD20250831123456",
                "quantity": 1,
                "purchase_date": "2025-08-31",
                "symptom": "脱水时底部漏水，地板已被泡坏",
            },
            "content": (
                "购买不到三个月的滚筒洗衣机脱水时底部漏水，已经影响楼下邻居，希望尽快上门处理。"
            ),
            "desired_resolution": {"types": ["repair", "compensation"], "detail": "赔偿地板损失"},
            "channel_meta": {
                "call_id": "CALL-20261125-093001-8842",
                "caller_number": "13812345678",
                "agent_id": "A1024",
            },
        },
    },
    "web": {
        "summary": "网页表单：物流延误与服务态度",
        "value": {
            "channel": "web",
            "kind": "complaint",
            "category": "logistics",
            "customer": {
                "name": "李娜",
                "phone": "+86 139 1234 5678",
                "email": "li.na@example.com",
                "address": "上海市浦东新区世纪大道100号",
            },
            "product": {"order_number": "TM202611200088", "ship_date": "2026-11-20"},
            "content": "订单承诺48小时送达，至今五天仍未收到，联系快递员态度恶劣。",
            "desired_resolution": {"types": ["explanation", "apology"]},
            "subject": {"staff_name": "王师傅", "shop": "浦东配送站"},
            "attachments": [
                {
                    "name": "物流截图.png",
                    "url": "https://files.example.com/evidence/20261125/abc123.png",
                    "media_type": "image/png",
                    "size_bytes": 183204,
                }
            ],
        },
    },
    "regulator": {
        "summary": "12315 转办工单（监管渠道）",
        "value": {
            "channel": "regulator",
            "kind": "complaint",
            "category": "price_marketing",
            "customer": {"name": "陈静", "phone": "0755-86001234"},
            "content": "消费者通过12315平台投诉：促销页面标注“全场五折”，结算时未按承诺价格执行。",
            "desired_resolution": {"types": ["refund"], "detail": "退还差价 320 元"},
            "channel_meta": {"regulator": "12315", "regulator_case_number": "1231520261125004567"},
        },
    },
    "dealer_inquiry": {
        "summary": "加盟商咨询：新品到货数量",
        "value": {
            "channel": "email",
            "kind": "inquiry",
            "category": "after_sales_service",
            "customer": {
                "name": "杭州西湖加盟店",
                "email": "xihu.store@example.com",
                "customer_type": "dealer",
            },
            "content": "本周新品到货数量与发货单不一致，请协助核对。",
        },
    },
}

STATUS_LOOKUP_EXAMPLES: dict[str, dict[str, Any]] = {
    "lookup": {
        "summary": "凭受理号和手机号查询进度",
        "value": {"reference": "KS-20261125-000123", "phone": "13812345678"},
    }
}

# One realistic body per action (POST /api/v1/complaints/{id}/<action>), in handling order.
ACTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "triage": {"category": "product_quality", "subcategory": "漏水", "cause_class": "quality"},
    "assign": {"department": "quality", "note": "请质量部检测漏水原因"},
    "reassign": {"department": "quality", "reason": "原处理人休假，转交同部门同事"},
    "start_investigation": {"note": "已安排工程师上门检测"},
    "log_contact": {"method": "phone", "outcome": "已电话联系客户，约定明天上门检测"},
    "await_customer": {"reason": "等待客户提供购买凭证和故障照片", "expected_by": "2026-12-01"},
    "customer_responded": {"summary": "客户已上传购买凭证和照片"},
    "record_findings": {
        "findings": "经检测，排水泵密封圈装配不良导致漏水",
        "responsibility": "company",
        "evidence": ["检测报告 QA-2026-1125-07"],
        "fault_department": "quality",
    },
    "record_root_cause": {"root_cause": "供应商来料密封圈尺寸超差，进货检验未覆盖该尺寸"},
    "propose_solution": {
        "remedies": [
            {"type": "repair", "description": "免费更换排水泵"},
            {"type": "compensation", "amount": "800.00", "description": "地板维修费用"},
        ],
        "description": "免费更换排水泵并赔偿地板维修费用800元",
    },
    "approve_solution": {"comment": "同意按方案赔偿"},
    "reject_solution": {"reason": "赔偿依据不足，请补充地板维修报价单"},
    "customer_agrees": {"note": "客户电话确认同意方案"},
    "customer_rejects": {"reason": "客户认为赔偿金额不足以覆盖地板损失"},
    "implement_solution": {"note": "已更换排水泵，赔偿款已转账"},
    "resolve": {"result": "已为您更换排水泵并完成赔偿，感谢您的耐心等待"},
    "record_satisfaction": {"score": 2, "comment": "回访：客户表示满意", "method": "phone"},
    "add_corrective_action": {
        "kind": "corrective",
        "description": "对密封圈来料增加尺寸全检",
        "owner": "质量部 王工",
        "due_date": "2026-12-15",
    },
    "update_corrective_action": {
        "action_id": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
        "status": "done",
        "note": "来料全检已上线",
    },
    "verify_corrective_action": {
        "action_id": "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
        "effective": True,
        "note": "连续三个月无同类投诉",
    },
    "escalate": {"reason": "客户情绪激动，扬言向媒体曝光"},
    "withdraw": {"reason": "客户表示问题已自行解决，申请撤诉"},
    "mark_invalid": {"explanation": "经核实，漏水系安装时进水管未拧紧所致，已为您免费紧固"},
    "reopen": {"reason": "客户反映同一问题再次出现"},
    "close": {"summary": "处理完毕，客户满意，纠正措施已落实"},
    "regulator_reply": {
        "replied_at": "2026-11-30T10:00:00+08:00",
        "content": "已与消费者协商一致，退还差价320元，消费者表示满意",
        "outcome": "调解成功",
    },
    "add_note": {"text": "客户要求周末上门，已与服务网点确认"},
    "reply_to_customer": {"text": "您好，您反映的问题已安排质量部调查，预计3个工作日内答复您"},
    "claim": {"note": "一级受理人认领"},
    "review": {"comment": "处理过程符合规定，同意存档"},
    "send_back": {"reason": "处理记录不完整，请补充与客户的沟通记录"},
    "log_followup_attempt": {"method": "phone", "note": "电话无人接听"},
    "record_unreachable": {"note": "三个工作日内三次电话均无人接听"},
    "link_repeat": {
        "repeat_of": "0b7e9c7e-5a55-4d44-9d7e-1f2a3b4c5d6e",
        "reason": "同一客户就同一服务态度问题再次投诉",
    },
    "unlink_repeat": {"reason": "并非同一事件"},
}
