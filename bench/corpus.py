"""The benchmark corpus: N realistic complaints in a database of their own, made once and reused.

    .venv/bin/python bench/corpus.py --n 100000    # seeds or finds kesu_corpus_100000_2026_…

One generator for every benchmark that needs a big, realistic complaint base (`bench/search.py`,
`bench/reports.py`): `ensure_seeded(admin_url, n)` returns the URL of a database named
`kesu_corpus_<n>_<seed>_<alembic head>_<chain digest>` on that server, creating, migrating
(Alembic, as the tests do) and filling it only when it is missing or incomplete: the marker row in
`bench_corpus` is written last, so an interrupted run is detected and the database made again.
The schema's head is in the name: a checkout with other migrations gets a corpus of its own.

What it holds, through the project's own tables: staff accounts (一级/二级/三级受理人, department
handlers), the complaints projection with every column the list and the reports read, each
complaint's events (registered → assigned → findings → solution → resolved → satisfaction →
closed, as far as it got), and its deadlines (acknowledgement, first contact, resolution: met,
breached or still open). The mix: kinds, the seed 000 categories with sub-categories, channels,
levels 1–3, statuses and outcomes (closed, withdrawn, invalid, open, overdue), responsibility,
satisfaction 1–5 or unreachable (客户联系不上), refund / compensation amounts, root causes and
corrective actions for company-fault cases. Registered over `months` months ending now, in
Asia/Shanghai business hours (weekdays 08:30–18:00, a few evenings and weekends).

The Chinese text is made from phrase tables built from the seeds' vocabulary (products, faults,
service attitude, delivery, refunds with amounts, model numbers like XQG100-…, order numbers),
so a two-character search term such as 漏水 or 吞卡 hits a realistic share of complaints.
Deterministic for a seed; rows are written with COPY (asyncpg `copy_records_to_table`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import hashlib
import importlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.postgresql import JSONB

from services.devstack.migrate import alembic_config, upgrade_head
from shared.db.changes import PROJECTION_COLUMNS
from shared.db.tables import Complaint as ComplaintTable

# The tests' servers (DATABASE_URL, else the embedded PostgreSQL), imported by name: mypy's
# scope (shared, services, migrations, bench) stays off tests/.
test_servers = importlib.import_module("tests.support.servers")

SH = ZoneInfo("Asia/Shanghai")
CHUNK = 10_000
MARKER_TABLE = "bench_corpus"
COLUMNS = [c.strip() for c in PROJECTION_COLUMNS.split(",")]
# The projection's JSON columns, as the table declares them: written as JSON text by COPY.
JSON_COLUMNS = frozenset(
    c.name
    for c in ComplaintTable.__table__.columns
    if isinstance(c.type, JSONB) and c.name in COLUMNS
)

# --- phrase tables (from the seeds' vocabulary) ------------------------------------------------

# (product, model prefix, faults)
PRODUCTS: list[tuple[str, str, list[str]]] = [
    ("洗衣机", "XQG100", ["漏水", "不脱水", "异响", "门锁打不开", "震动很大", "显示E3故障码"]),
    ("滚筒洗衣机", "XQG80", ["漏水", "滚筒不转", "异响", "进水慢", "排水不畅"]),
    ("空调", "KFR-35GW", ["不制冷", "漏水", "外机噪音大", "遥控失灵", "制热效果差"]),
    ("冰箱", "BCD-520W", ["不制冷", "冷藏室结冰", "异响", "门封条脱落", "压缩机频繁启动"]),
    ("电热水器", "EC6002", ["漏水", "不加热", "漏电", "温控失灵"]),
    ("微波炉", "M1-L213", ["不加热", "转盘不转", "打火", "门开关异常"]),
    ("电水壶", "KX-200", ["底座开裂", "漏电", "漏水", "有异味"]),
    ("电视机", "55E3F", ["黑屏", "花屏", "无法开机", "遥控失灵"]),
    ("油烟机", "CXW-200", ["吸力不足", "噪音大", "漏油"]),
    ("自动取款机", "ATM-9000", ["吞卡", "吐钞错误", "屏幕无响应"]),
]
SERVICE_ISSUES = [
    "客服态度恶劣，说话不耐烦",
    "维修人员上门迟到三个小时",
    "多次打电话没有人回复",
    "维修师傅乱收费",
    "承诺的回电一直没有回电",
    "门店店员推诿责任",
    "安装师傅没有按约定时间上门",
]
DELIVERY_ISSUES = [
    "快递送货延误一周",
    "收到的商品外包装破损",
    "物流显示已签收但没有收到货",
    "送货员态度很差，不肯送货上楼",
    "发错了型号",
]
PRICE_ISSUES = [
    "促销价格与宣传不符",
    "下单后第二天降价，要求补差价",
    "优惠券无法使用",
    "赠品没有发放",
]
WANTS = [
    "要求退款{amount}元",
    "要求换货",
    "要求上门维修",
    "要求赔偿{amount}元",
    "要求道歉",
    "要求给个说法",
]
OPENERS = ["", "我在贵公司购买的", "上个月买的", "去年双十一买的", "在门店购买的", "网上订购的"]
CLOSERS = ["", "非常失望。", "请尽快处理。", "再不处理就向12315投诉。", "希望给个合理的解释。"]
FINDINGS = [
    "经上门检测，{fault}系{part}质量问题所致",
    "经核实，物流配送过程中造成外观损伤",
    "经调查，系客户使用不当造成{fault}",
    "经核实，客服人员未按标准话术服务",
    "经检测，产品符合出厂标准，未发现{fault}",
]
PARTS = ["进水阀", "排水泵", "密封圈", "主控板", "压缩机", "温控器", "电源线", "门锁"]
ROOT_CAUSES = [
    "供应商来料{part}不良，进货检验漏检",
    "装配工序{part}未紧固到位",
    "物流外包商装卸不规范",
    "客服人员培训不到位",
    "售后派单系统延误",
]
ACTIONS = [
    "对{part}供应商进行质量约谈并加严进货检验",
    "修订装配作业指导书，增加{part}紧固检查",
    "对客服人员进行标准话术培训",
    "更换物流外包商并增加签收回访",
]
NOTES = [
    "已电话联系客户，约定明天上门",
    "客户情绪激动，需二级受理人跟进",
    "已安排维修师傅上门检测",
    "客户要求书面答复",
    "已寄出替换配件，快递单号SF{num}",
]
REPLIES = [
    "您好，您反映的问题我们已受理，将在一个工作日内与您联系。",
    "您好，维修师傅将于明天上午上门，请保持电话畅通。",
    "您好，退款{amount}元已原路退回，请注意查收。",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
CITIES = [
    "上海市浦东新区",
    "北京市朝阳区",
    "广州市天河区",
    "深圳市南山区",
    "杭州市西湖区",
    "成都市武侯区",
]
SUBCATEGORIES = {
    "product_quality": ["defect", "safety", "performance", "appearance"],
    "after_sales_service": ["attitude", "repair", "installation", "response_time"],
    "logistics": ["delay", "damage", "lost", "wrong_item"],
    "price_marketing": ["price", "promotion", "gift"],
    "other": ["other"],
}
DEPARTMENT_OF = {
    "product_quality": "quality",
    "after_sales_service": "service",
    "logistics": "logistics",
    "price_marketing": "sales",
    "other": "service",
}


def _weighted(rng: random.Random, pairs: list[tuple[Any, float]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


# --- staff --------------------------------------------------------------------------------------


@dataclass
class Staff:
    id: uuid.UUID
    username: str
    role: str
    department: str | None


def staff_accounts(rng: random.Random) -> list[Staff]:
    out = []
    plan: list[tuple[str, str | None, int]] = [
        ("agent", None, 20),
        ("manager", None, 5),
        ("director", None, 2),
        ("admin", None, 1),
        ("clerk", None, 3),
    ]
    plan += [("handler", d, 6) for d in ("service", "quality", "logistics", "sales", "engineering")]
    for role, dept, count in plan:
        for i in range(count):
            out.append(
                Staff(
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    f"bench-{role}-{dept or 'x'}-{i}",
                    role,
                    dept,
                )
            )
    return out


# --- one complaint -------------------------------------------------------------------------------


@dataclass
class Generated:
    complaint: tuple[Any, ...]
    events: list[tuple[Any, ...]] = field(default_factory=list)
    deadlines: list[tuple[Any, ...]] = field(default_factory=list)


def _when(rng: random.Random, start: datetime, days: int) -> datetime:
    """A registration moment in Asia/Shanghai business hours, mostly weekdays 08:30–18:00."""
    while True:
        day = (start + timedelta(days=rng.randrange(days))).astimezone(SH).date()
        if day.weekday() >= 5 and rng.random() < 0.8:
            continue
        if rng.random() < 0.9:
            minute = rng.randrange(8 * 60 + 30, 18 * 60)
        else:
            minute = rng.randrange(18 * 60, 22 * 60)
        local = datetime(day.year, day.month, day.day, tzinfo=SH) + timedelta(
            minutes=minute, seconds=rng.randrange(60)
        )
        return local.astimezone(UTC)


def _ident(rng: random.Random, prefix: str, digits: int) -> str:
    return prefix + "".join(rng.choice("0123456789") for _ in range(digits))


class Generator:
    """Deterministic: the same (seed, n, months, now-day) gives the same rows."""

    def __init__(self, *, n: int, months: int, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.now = now
        self.days = max(1, months * 30)
        self.start = now - timedelta(days=self.days)
        self.staff = staff_accounts(self.rng)
        self.agents = [s for s in self.staff if s.role == "agent"]
        self.managers = [s for s in self.staff if s.role == "manager"]
        self.clerks = [s for s in self.staff if s.role == "clerk"]
        self.handlers: dict[str, list[Staff]] = {}
        for s in self.staff:
            if s.role == "handler" and s.department:
                self.handlers.setdefault(s.department, []).append(s)
        self.per_day: dict[date, int] = {}
        self.phones: list[tuple[str, str]] = []  # repeat customers

    def complaints(self) -> Iterator[Generated]:
        moments = sorted(_when(self.rng, self.start, self.days) for _ in range(self.n))
        for at in moments:
            if at > self.now:
                at = self.now - timedelta(minutes=1)
            yield self.one(at)

    def one(self, at: datetime) -> Generated:
        rng = self.rng
        cid = uuid.UUID(int=rng.getrandbits(128), version=4)
        local_day = at.astimezone(SH).date()
        number = self.per_day.get(local_day, 0) + 1
        self.per_day[local_day] = number
        reference = f"KS-{local_day:%Y%m%d}-{number:06d}"

        kind = _weighted(rng, [("complaint", 0.85), ("inquiry", 0.1), ("suggestion", 0.05)])
        category = _weighted(
            rng,
            [
                ("product_quality", 0.45),
                ("after_sales_service", 0.25),
                ("logistics", 0.15),
                ("price_marketing", 0.1),
                ("other", 0.05),
            ],
        )
        subcategory = rng.choice(SUBCATEGORIES[category])
        channel = _weighted(
            rng,
            [
                ("phone", 0.4),
                ("web", 0.2),
                ("app", 0.15),
                ("email", 0.08),
                ("social_media", 0.07),
                ("regulator", 0.05),
                ("visit", 0.03),
                ("letter", 0.02),
            ],
        )
        level = _weighted(rng, [(1, 0.75), (2, 0.2), (3, 0.05)])
        product_name, prefix, faults = rng.choice(PRODUCTS)
        fault = rng.choice(faults)
        amount = rng.choice([99, 199, 320, 500, 800, 1200, 2999, 3500])
        model = f"{prefix}-{rng.choice('ABCDEFGH')}{rng.randrange(10, 99)}"
        order_no = _ident(rng, "DD", 12)
        serial = _ident(rng, "SN", 10)

        if category == "product_quality":
            body = f"{rng.choice(OPENERS)}{product_name}（型号{model}）{fault}，"
        elif category == "after_sales_service":
            body = f"{product_name}{fault}报修后，{rng.choice(SERVICE_ISSUES)}，"
        elif category == "logistics":
            body = f"订单{order_no}的{product_name}{rng.choice(DELIVERY_ISSUES)}，"
        elif category == "price_marketing":
            body = f"购买{product_name}时{rng.choice(PRICE_ISSUES)}，"
        else:
            body = f"关于{product_name}的问题，{rng.choice(SERVICE_ISSUES)}，"
        want = rng.choice(WANTS).format(amount=amount)
        content = f"{body}{want}。{rng.choice(CLOSERS)}"

        if self.phones and rng.random() < 0.08:
            name, phone = rng.choice(self.phones)
        else:
            name = (
                rng.choice(SURNAMES)
                + rng.choice(GIVEN)
                + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
            )
            phone = (
                "+86"
                + rng.choice(["138", "139", "150", "186", "177"])
                + f"{rng.randrange(10**8):08d}"
            )
            if len(self.phones) < 50_000:
                self.phones.append((name, phone))
        customer = {
            "name": name,
            "phone": phone,
            "email": None,
            "address": f"{rng.choice(CITIES)}{rng.randrange(1, 999)}号",
            "customer_type": _weighted(
                rng, [("consumer", 0.9), ("dealer", 0.07), ("enterprise", 0.03)]
            ),
            "id_number": None,
        }
        purchase = (local_day - timedelta(days=rng.randrange(3, 400))).isoformat()
        product = {
            "model": model,
            "serial_number": serial,
            "order_number": order_no,
            "part_number": None,
            "quantity": 1,
            "purchase_date": purchase,
            "ship_date": None,
            "symptom": fault,
        }
        wish_type = (
            "refund"
            if "退款" in want
            else rng.choice(["replacement", "repair", "compensation", "apology"])
        )
        desired = {"types": [wish_type], "detail": want}
        channel_meta = {
            "call_id": _ident(rng, "CALL", 10) if channel == "phone" else None,
            "caller_number": None,
            "agent_id": None,
            "regulator": "12315" if channel == "regulator" else None,
            "regulator_case_number": _ident(rng, "12315-", 8) if channel == "regulator" else None,
            "source_url": None,
        }

        # How far it got (outcomes): open ones younger, closed ones older.
        age_days = (self.now - at).total_seconds() / 86400
        if age_days < 3:
            fate = _weighted(rng, [("registered", 0.3), ("assigned", 0.3), ("investigating", 0.4)])
        elif age_days < 20:
            fate = _weighted(
                rng,
                [
                    ("investigating", 0.25),
                    ("solution_proposed", 0.15),
                    ("awaiting_customer", 0.05),
                    ("resolved", 0.2),
                    ("closed", 0.3),
                    ("withdrawn", 0.03),
                    ("invalid", 0.02),
                ],
            )
        else:
            fate = _weighted(
                rng,
                [
                    ("closed", 0.86),
                    ("withdrawn", 0.04),
                    ("invalid", 0.04),
                    ("investigating", 0.03),
                    ("resolved", 0.03),
                ],
            )
        department = DEPARTMENT_OF[category]
        agent = rng.choice(self.agents)
        handler = rng.choice(self.handlers[department])
        events: list[tuple[Any, ...]] = []
        seq = 0
        clock = at

        def event(
            kind_: str, payload: dict[str, Any], actor: Staff | None, after_h: float
        ) -> datetime:
            nonlocal seq, clock
            seq += 1
            clock = min(clock + timedelta(hours=after_h), self.now)
            events.append(
                (
                    cid,
                    seq,
                    kind_,
                    "user" if actor else "system",
                    str(actor.id) if actor else None,
                    clock,
                    orjson.dumps(payload).decode(),
                )
            )
            return clock

        intake = {
            "channel": channel,
            "kind": kind,
            "category": category,
            "subcategory": subcategory,
            "cause_class": None,
            "customer": customer,
            "product": product,
            "content": content,
            "desired_resolution": desired,
            "attachments": [],
            "subject": None,
            "channel_meta": channel_meta,
            "occurred_at": None,
            "notify_customer": True,
        }
        event(
            "complaint.registered",
            {
                "reference": reference,
                "intake": intake,
                "level": level,
                "level_reasons": [],
                "repeat_of": None,
                "department": department,
            },
            agent,
            0,
        )

        assignee: uuid.UUID | None = None
        description = "已处理"
        investigation = root_cause = solution = None
        corrective: list[dict[str, Any]] = []
        satisfaction = satisfaction_source = None
        resolved_at = closed_at = last_contact = None
        review: dict[str, Any] | None = None
        followup: dict[str, Any] | None = None
        contact_count = 0
        status = fate
        order = [
            "registered",
            "assigned",
            "investigating",
            "awaiting_customer",
            "solution_proposed",
            "resolved",
            "closed",
        ]
        reach = order.index(fate) if fate in order else rng.choice([0, 1, 2])
        if reach >= 1:
            assignee = handler.id
            event(
                "complaint.assigned",
                {"assignee_id": str(handler.id), "department": department, "note": None},
                agent,
                rng.uniform(0.2, 6),
            )
            if rng.random() < 0.5:
                event(
                    "complaint.note_added",
                    {"text": rng.choice(NOTES).format(num=rng.randrange(10**9))},
                    handler,
                    rng.uniform(0.5, 20),
                )
        if reach >= 2:
            contact_count = 1
            last_contact = event(
                "complaint.contact_logged",
                {
                    "method": "phone",
                    "contacted_at": clock.isoformat(),
                    "outcome": "reached",
                    "summary": "已与客户电话沟通",
                },
                handler,
                rng.uniform(1, 24),
            )
        if reach >= 4:
            responsibility = _weighted(
                rng,
                [
                    ("company", 0.5),
                    ("customer", 0.15),
                    ("shared", 0.1),
                    ("third_party", 0.15),
                    ("undetermined", 0.1),
                ],
            )
            part = rng.choice(PARTS)
            findings = rng.choice(FINDINGS).format(fault=fault, part=part)
            recorded = event(
                "complaint.findings_recorded",
                {
                    "findings": findings,
                    "responsibility": responsibility,
                    "evidence": [],
                    "fault_department": department,
                },
                handler,
                rng.uniform(4, 72),
            )
            investigation = {
                "findings": findings,
                "responsibility": responsibility,
                "evidence": [],
                "fault_department": department,
                "recorded_at": recorded.isoformat(),
            }
            if responsibility == "company":
                root_cause = rng.choice(ROOT_CAUSES).format(part=part)
                event("complaint.root_cause_recorded", {"root_cause": root_cause}, handler, 2)
                action_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                action = {
                    "kind": rng.choice(["corrective", "preventive"]),
                    "description": rng.choice(ACTIONS).format(part=part),
                    "owner": handler.username,
                    "due_date": (clock.astimezone(SH).date() + timedelta(days=30)).isoformat(),
                }
                action_at = event(
                    "complaint.corrective_action_added",
                    {"action_id": str(action_id), **action},
                    handler,
                    2,
                )
                verified = rng.random() < 0.6 if fate == "closed" else None
                corrective.append(
                    {
                        "id": str(action_id),
                        **action,
                        "status": "done" if verified is not None else "open",
                        "note": None,
                        "verified": verified,
                        "verification_note": None,
                        "created_at": action_at.isoformat(),
                        "updated_at": action_at.isoformat(),
                    }
                )
            remedy = {"refund": "refund", "compensation": "compensation"}.get(wish_type, wish_type)
            remedy_amount = f"{amount}.00" if remedy in ("refund", "compensation") else None
            description = (
                f"{'退款' if remedy == 'refund' else '处理'}{remedy_amount or ''}元"
                if remedy_amount
                else "安排上门维修或换货"
            )
            proposed = event(
                "complaint.solution_proposed",
                {
                    "remedies": [{"type": remedy, "amount": remedy_amount, "description": None}],
                    "description": description,
                    "required_approval": None,
                },
                handler,
                rng.uniform(2, 48),
            )
            solution = {
                "remedies": [{"type": remedy, "amount": remedy_amount, "description": None}],
                "description": description,
                "proposed_at": proposed.isoformat(),
                "proposed_by": str(handler.id),
                "required_approval": None,
                "approvals": [],
                "customer_response": None,
                "customer_response_reason": None,
                "implemented_at": None,
                "implementation_note": None,
            }
        if reach >= 5:
            solution = {**(solution or {}), "customer_response": "agreed"}
            if rng.random() < 0.3:
                event(
                    "complaint.customer_reply_sent",
                    {"text": rng.choice(REPLIES).format(amount=amount)},
                    handler,
                    1,
                )
            resolved_at = event(
                "complaint.resolved",
                {"result": description if solution else "已处理"},
                handler,
                rng.uniform(2, 96),
            )
        if reach >= 6:
            if rng.random() < 0.12:  # 回访: three attempts on three working days, unreachable
                attempts = []
                for _ in range(3):
                    tried = event(
                        "complaint.followup_attempt_logged",
                        {
                            "method": "phone",
                            "attempted_at": clock.isoformat(),
                            "note": "无人接听",
                            "working_day": clock.astimezone(SH).date().isoformat(),
                        },
                        agent,
                        rng.uniform(20, 30),
                    )
                    attempts.append(
                        {
                            "attempted_at": tried.isoformat(),
                            "by": str(agent.id),
                            "method": "phone",
                            "note": "无人接听",
                            "working_day": tried.astimezone(SH).date().isoformat(),
                        }
                    )
                gave_up = event(
                    "complaint.followup_unreachable",
                    {"attempts": 3, "working_days": 3, "note": None},
                    agent,
                    1,
                )
                followup = {
                    "attempts": attempts,
                    "unreachable_at": gave_up.isoformat(),
                    "unreachable_by": str(agent.id),
                }
            else:
                satisfaction = _weighted(
                    rng, [(1, 0.35), (2, 0.35), (3, 0.15), (4, 0.1), (5, 0.05)]
                )
                satisfaction_source = rng.choice(["survey", "return_call"])
                event(
                    "complaint.satisfaction_recorded",
                    {
                        "score": satisfaction,
                        "source": satisfaction_source,
                        "comment": None,
                        "management_review": False,
                    },
                    agent,
                    rng.uniform(2, 72),
                )
            reviewer = rng.choice(self.managers)
            reviewed = event(
                "complaint.reviewed",
                {"role": "manager", "comment": None},
                reviewer,
                rng.uniform(1, 24),
            )
            review = {
                "reviewer_id": str(reviewer.id),
                "role": "manager",
                "at": reviewed.isoformat(),
                "comment": None,
            }
            closed_at = event(
                "complaint.closed", {"summary": None}, rng.choice(self.clerks), rng.uniform(1, 48)
            )
        if fate == "withdrawn":
            event("complaint.withdrawn", {"reason": "客户撤诉"}, agent, rng.uniform(2, 72))
        elif fate == "invalid":
            event(
                "complaint.marked_invalid",
                {"explanation": "经核实投诉不成立"},
                agent,
                rng.uniform(1, 24),
            )
            closed_at = None

        deadlines = self._deadlines(
            cid, at, level, reach, fate, handler.id, last_contact, resolved_at
        )
        updated_at = events[-1][5]
        row = {
            "id": cid,
            "reference": reference,
            "version": seq,
            "status": status,
            "kind": kind,
            "category": category,
            "subcategory": subcategory,
            "cause_class": "quality" if category == "product_quality" else "non_quality",
            "level": level,
            "channel": channel,
            "customer": customer,
            "product": product,
            "content": content,
            "desired_resolution": desired,
            "attachments": [],
            "subject": None,
            "channel_meta": channel_meta,
            "notify_customer": True,
            "department": department,
            "assignee_id": assignee,
            "repeat_of": None,
            "created_by_kind": "user",
            "created_by_id": str(agent.id),
            "created_at": at,
            "updated_at": updated_at,
            "level_reasons": [],
            "status_before_pause": "investigating" if fate == "awaiting_customer" else None,
            "paused_at": updated_at if fate == "awaiting_customer" else None,
            "last_contact_at": last_contact,
            "contact_count": contact_count,
            "investigation": investigation,
            "root_cause": root_cause,
            "solution": solution,
            "corrective_actions": corrective,
            "satisfaction": satisfaction,
            "satisfaction_source": satisfaction_source,
            "management_review": False,
            "survey_nonce": None,
            "regulator_reply": None,
            "resolved_at": resolved_at,
            "closed_at": closed_at,
            "resolved_by": str(handler.id) if resolved_at else None,
            "review": review,
            "followup": followup,
            "group_id": None,
        }
        record = tuple(
            (orjson.dumps(row[c]).decode() if row[c] is not None else None)
            if c in JSON_COLUMNS
            else row[c]
            for c in COLUMNS
        )
        return Generated(complaint=record, events=events, deadlines=deadlines)

    def _deadlines(
        self,
        cid: uuid.UUID,
        at: datetime,
        level: int,
        reach: int,
        fate: str,
        handler: uuid.UUID,
        contact: datetime | None,
        resolved: datetime | None,
    ) -> list[tuple[Any, ...]]:
        """acknowledgement (24 h), first contact (1 working day ≈ 24 h here), resolution
        (level 1: 10 days, 2: 7, 3: 3): met when done in time, breached when late, open else."""
        rng = self.rng
        rows = []
        plans = [
            ("acknowledgement", "hours", 24, at + timedelta(minutes=rng.randrange(1, 120))),
            ("first_contact", "working_days", 1, contact),
            ("resolution", "working_days", {1: 10, 2: 7, 3: 3}[level], resolved),
        ]
        for stage, unit, amount, done in plans:
            span = timedelta(hours=amount) if unit == "hours" else timedelta(days=amount * 1.4)
            due = at + span
            warn = at + span * 0.75
            if fate in ("withdrawn", "invalid") and done is None:
                status, met, breached, cancelled = "cancelled", None, None, due
            elif done is not None and done <= due:
                status, met, breached, cancelled = "met", done, None, None
            elif due < self.now:
                status, met, breached, cancelled = "breached", None, due, None
                if done is not None:
                    met = None
            else:
                status, met, breached, cancelled = (
                    ("warned" if warn < self.now else "pending"),
                    None,
                    None,
                    None,
                )
            rows.append(
                (
                    cid,
                    stage,
                    1,
                    self.policy[0],
                    self.policy[1],
                    1,
                    unit,
                    amount,
                    0.75,
                    at,
                    due,
                    warn,
                    False,
                    status,
                    None,
                    warn if status in ("warned", "breached") else None,
                    met,
                    breached,
                    handler if breached else None,
                    None,
                    cancelled,
                )
            )
        return rows

    policy: tuple[int, int] = (1, 1)


DEADLINE_COLUMNS = [
    "complaint_id",
    "stage",
    "cycle",
    "policy_id",
    "policy_version",
    "calendar_version",
    "unit",
    "amount",
    "warn_ratio",
    "started_at",
    "due_at",
    "warn_at",
    "provisional",
    "status",
    "paused_at",
    "warned_at",
    "met_at",
    "breached_at",
    "breached_assignee_id",
    "escalated_at",
    "cancelled_at",
]
EVENT_COLUMNS = ["complaint_id", "seq", "type", "actor_kind", "actor_id", "occurred_at", "payload"]


# --- the database ---------------------------------------------------------------------------


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused/unused"))


def _head_name(script: ScriptDirectory, revision: str) -> str:
    """`<revision>_<digest of the chain from base to it>`."""
    chain = ",".join(sorted(r.revision for r in script.iterate_revisions(revision, "base")))
    return f"{revision}_{hashlib.sha256(chain.encode()).hexdigest()[:6]}"


def schema_head() -> str:
    """The Alembic head of this checkout and a digest of its whole chain: part of the corpus
    database's name, so a branch with other migrations (or a later schema) never reuses a
    corpus of another schema."""
    script = _script()
    head = script.get_current_head()
    assert head is not None
    return _head_name(script, head)


def ancestor_names(n: int, seed: int) -> list[str]:
    """The corpus names of this chain's earlier revisions, newest first: a corpus seeded at one of
    them is copied and migrated forward (the migrations' own backfills fill what they add), so a
    branch that adds a migration reuses main's corpus instead of seeding a million rows again."""
    script = _script()
    head = script.get_current_head()
    assert head is not None
    return [
        f"kesu_corpus_{n}_{seed}_{_head_name(script, r.revision)}"
        for r in script.iterate_revisions(head, "base")
        if r.revision != head
    ]


def database_name(n: int, seed: int) -> str:
    return f"kesu_corpus_{n}_{seed}_{schema_head()}"


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(**test_servers._asyncpg_dsn(url))


async def _is_complete(url: str, n: int, seed: int) -> bool:
    try:
        conn = await _connect(url)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        found = await conn.fetchval(
            f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{MARKER_TABLE}'"
        )
        if not found:
            return False
        return bool(
            await conn.fetchval(
                f"SELECT count(*) FROM {MARKER_TABLE} WHERE n = $1 AND seed = $2", n, seed
            )
        )
    finally:
        await conn.close()


async def _fill(url: str, *, n: int, months: int, seed: int, progress: bool) -> None:
    conn = await _connect(url)
    try:
        policy = await conn.fetchrow(
            "SELECT policy_id, version FROM sla_policy_versions ORDER BY policy_id, version LIMIT 1"
        )
        calendar_version = await conn.fetchval("SELECT coalesce(max(version), 1) FROM calendars")
        # "now" at day precision, so reruns the same day generate the same rows.
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        gen = Generator(n=n, months=months, seed=seed, now=today)
        gen.policy = (policy["policy_id"], policy["version"]) if policy else (1, 1)
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        await conn.copy_records_to_table(
            "users",
            records=[
                (
                    s.id,
                    s.username,
                    s.username,
                    s.role,
                    s.department,
                    "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2g$bm90LWEtcmVhbC1oYXNo",
                    True,
                    0,
                    stamp,
                    stamp,
                )
                for s in gen.staff
            ],
            columns=[
                "id",
                "username",
                "display_name",
                "role",
                "department",
                "password_hash",
                "is_active",
                "token_version",
                "created_at",
                "updated_at",
            ],
        )
        # Secondary indexes are built once after the load (far faster than row by row, the
        # GIN search index above all); those behind constraints stay.
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename IN ('complaints', 'complaint_events', 'deadlines') "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        started = time.perf_counter()
        complaints: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        deadlines: list[tuple[Any, ...]] = []

        async def flush() -> None:
            await conn.copy_records_to_table("complaints", records=complaints, columns=COLUMNS)
            await conn.copy_records_to_table(
                "complaint_events", records=events, columns=EVENT_COLUMNS
            )
            rows = [(*d[:5], calendar_version, *d[6:]) for d in deadlines]
            await conn.copy_records_to_table("deadlines", records=rows, columns=DEADLINE_COLUMNS)
            complaints.clear()
            events.clear()
            deadlines.clear()

        for done, g in enumerate(gen.complaints(), start=1):
            complaints.append(g.complaint)
            events.extend(g.events)
            deadlines.extend(g.deadlines)
            if len(complaints) >= CHUNK:
                await flush()
                if progress:
                    rate = done / (time.perf_counter() - started)
                    print(
                        f"corpus: {done:,}/{n:,} complaints ({rate:,.0f}/s)",
                        file=sys.stderr,
                        flush=True,
                    )
        if complaints:
            await flush()
        if progress:
            print(f"corpus: {len(indexes)} indexes", file=sys.stderr, flush=True)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        if progress:
            print("corpus: VACUUM ANALYZE", file=sys.stderr, flush=True)
        # As a long-running database would be: hint bits set, visibility map built, statistics.
        await conn.execute("VACUUM ANALYZE")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} "
            "(n integer, seed integer, months integer, seeded_at timestamptz, "
            "seconds double precision)"
        )
        await conn.execute(
            f"INSERT INTO {MARKER_TABLE} VALUES ($1, $2, $3, now(), $4)",
            n,
            seed,
            months,
            time.perf_counter() - started,
        )
    finally:
        await conn.close()


async def _admin(admin_url: str, sql: str) -> None:
    conn = await _connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _copy_of_ancestor(admin_url: str, name: str, n: int, seed: int) -> bool:
    """Make `name` as a copy of the newest complete corpus of an earlier revision of this chain,
    migrated to head; False when there is none."""
    for ancestor in ancestor_names(n, seed):
        ancestor_url = str(test_servers.with_database(admin_url, ancestor))
        if not asyncio.run(_is_complete(ancestor_url, n, seed)):
            continue
        print(f"corpus: copying {ancestor} and migrating it to head", file=sys.stderr, flush=True)
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        # A template must have no other connections: wait for a benchmark still reading it.
        for attempt in range(60):
            try:
                asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{ancestor}"'))
                break
            except asyncpg.ObjectInUseError:
                if attempt == 59:
                    raise
                time.sleep(5)
        url = str(test_servers.with_database(admin_url, name))
        # The marker came along with the copy: take it away until the migrations are through.
        asyncio.run(_admin(url, f"ALTER TABLE {MARKER_TABLE} RENAME TO {MARKER_TABLE}_copying"))
        upgrade_head(url)
        asyncio.run(_admin(url, "VACUUM ANALYZE"))
        asyncio.run(_admin(url, f"ALTER TABLE {MARKER_TABLE}_copying RENAME TO {MARKER_TABLE}"))
        return True
    return False


def ensure_seeded(admin_url: str, n: int = 1_000_000, *, months: int = 12, seed: int = 2026) -> str:
    """The URL of a database holding the corpus of `n` complaints, seeded once (see the module's
    docstring); a missing or incomplete one is copied from an earlier revision's corpus and
    migrated, or else (re)made; a complete one is reused as it is."""
    name = database_name(n, seed)
    url = str(test_servers.with_database(admin_url, name))
    if asyncio.run(_is_complete(url, n, seed)):
        return url
    if _copy_of_ancestor(admin_url, name, n, seed):
        return url
    print(f"corpus: creating {name}", file=sys.stderr, flush=True)
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8'))
    upgrade_head(url)
    asyncio.run(_fill(url, n=n, months=months, seed=seed, progress=True))
    return url


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    started = time.perf_counter()
    with test_servers.servers() as found:
        ensure_seeded(found.admin_url, args.n, months=args.months, seed=args.seed)
        seconds = time.perf_counter() - started
    database = database_name(args.n, args.seed)
    print(json.dumps({"database": database, "complaints": args.n, "seconds": round(seconds, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
