"""Request bodies for tests: realistic, and unique so that a test can find its own rows."""

from __future__ import annotations

import random
import uuid
from typing import Any


def mobile() -> str:
    """A random valid Chinese mobile number (139 prefix), so each test finds its own complaints."""
    return "139" + f"{random.randrange(10**8):08d}"


def complaint_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "web",
        "kind": "complaint",
        "category": "product_quality",
        # One customer per complaint: a repeat (same phone or email, same product or category,
        # issue 11 §5) only where a test makes one.
        "customer": {
            "name": "王芳",
            "phone": mobile(),
            "email": f"wang.fang.{uuid.uuid4().hex[:8]}@example.com",
        },
        "product": {
            # A model of its own: 3 customers about one model are a group (集体投诉, level 3).
            "model": f"KX-200-{uuid.uuid4().hex[:6].upper()}",
            "serial_number": f"SN{uuid.uuid4().hex[:10].upper()}",
            "order_number": f"ORD{uuid.uuid4().hex[:10].upper()}",
            "purchase_date": "2026-10-01",
        },
        "content": "电水壶使用一周后底座开裂漏电，要求退货。",
        "desired_resolution": {"types": ["refund"]},
    }
    body.update(overrides)
    return body
