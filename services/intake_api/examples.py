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
