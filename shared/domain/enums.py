"""The vocabulary of Kesu (客诉): the closed sets of values the API, worker and database share.

Values are stable API and database strings; never rename one without a migration.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Channel(StrEnum):
    """How the complaint reached us (受理渠道)."""

    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    APP = "app"
    LETTER = "letter"
    VISIT = "visit"
    SOCIAL_MEDIA = "social_media"
    SMS = "sms"
    FAX = "fax"
    REGULATOR = "regulator"  # 12315 / 市场监管 forwarded cases, with the regulator's case number
    INTERNAL = "internal"


class Kind(StrEnum):
    COMPLAINT = "complaint"  # 投诉
    INQUIRY = "inquiry"  # 咨询
    SUGGESTION = "suggestion"  # 建议


class Category(StrEnum):
    """Seed 000's complaint categories (投诉分类)."""

    PRODUCT_QUALITY = "product_quality"
    AFTER_SALES_SERVICE = "after_sales_service"
    LOGISTICS = "logistics"
    PRICE_MARKETING = "price_marketing"
    OTHER = "other"


class CauseClass(StrEnum):
    QUALITY = "quality"  # 质量类
    NON_QUALITY = "non_quality"  # 非质量类 (human / service)
    OTHER = "other"


class CustomerType(StrEnum):
    CONSUMER = "consumer"  # 消费者
    DEALER = "dealer"  # 加盟商
    ENTERPRISE = "enterprise"  # 企业客户


class DesiredResolution(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    COMPENSATION = "compensation"
    APOLOGY = "apology"
    EXPLANATION = "explanation"
    OTHER = "other"


class Level(IntEnum):
    """Seed 002's three complaint levels, each handled by its tier (一级/二级/三级受理人)."""

    ORDINARY = 1  # 普通投诉
    SERIOUS = 2  # 较严重投诉
    VERY_SERIOUS = 3  # 非常严重投诉


class Status(StrEnum):
    REGISTERED = "registered"
    ASSIGNED = "assigned"
    INVESTIGATING = "investigating"
    AWAITING_CUSTOMER = "awaiting_customer"
    SOLUTION_PROPOSED = "solution_proposed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    INVALID = "invalid"
    WITHDRAWN = "withdrawn"  # 撤诉
    REOPENED = "reopened"


class Responsibility(StrEnum):
    """Responsibility determination (责任判定), seeds 000 and 004."""

    COMPANY = "company"
    CUSTOMER = "customer"
    SHARED = "shared"
    THIRD_PARTY = "third_party"
    UNDETERMINED = "undetermined"


class RemedyType(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    RETURN = "return"
    COMPENSATION = "compensation"
    APOLOGY = "apology"
    EXPLANATION = "explanation"


class ContactMethod(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    VISIT = "visit"
    OTHER = "other"


class Satisfaction(IntEnum):
    """Seed 002's satisfaction scale (满意度): 1 best, 5 worst."""

    VERY_SATISFIED = 1  # 非常满意
    SATISFIED = 2  # 满意
    ACCEPTABLE = 3  # 可理解/接受
    DISSATISFIED = 4  # 不满意
    VERY_DISSATISFIED = 5  # 很不满意


class Role(StrEnum):
    AGENT = "agent"  # tier 1, 一级受理人
    MANAGER = "manager"  # tier 2, 二级受理人
    DIRECTOR = "director"  # tier 3, 三级受理人
    HANDLER = "handler"  # member of a responsible department
    AUDITOR = "auditor"  # read-only
    ADMIN = "admin"
    # 事务文员 (seed 002 §3.2): archives (存档) reviewed cases, keeps the records, records return
    # calls (回访) and produces the weekly report.
    CLERK = "clerk"


class DurationUnit(StrEnum):
    """How an SLA duration is counted (SPEC §4)."""

    HOURS = "hours"  # calendar hours, "24小时内"
    BUSINESS_HOURS = "business_hours"  # hours of working time
    WORKING_DAYS = "working_days"  # "N个工作日": ends at close of business of the Nth working day


class Stage(StrEnum):
    """The SLA stages a complaint's deadlines are planned for (SPEC §4)."""

    ACKNOWLEDGEMENT = "acknowledgement"
    FIRST_CONTACT = "first_contact"
    INVESTIGATION = "investigation"
    RESULT_TO_CUSTOMER = "result_to_customer"
    RESOLUTION = "resolution"
    PROGRESS_UPDATE = "progress_update"
    REGULATOR_REPLY = "regulator_reply"


class DeadlineStatus(StrEnum):
    PENDING = "pending"
    WARNED = "warned"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


# Open: still owed (the clock may be paused). Every other status is final.
OPEN_DEADLINE_STATUSES = frozenset({DeadlineStatus.PENDING, DeadlineStatus.WARNED})


class OutboxStatus(StrEnum):
    """Where a notification owed (通知发件箱) stands. `pending`: the worker claims it when due;
    `not_configured`: a message for a channel (SMS, email) no gateway is configured for, which
    waits, unclaimed, until a worker starts with that gateway; the others are final."""

    PENDING = "pending"
    NOT_CONFIGURED = "not_configured"
    DELIVERED = "delivered"
    DISPATCHED = "dispatched"  # a webhook event fanned out to its subscriptions
    SKIPPED = "skipped"
    DEAD = "dead"  # 死信: ops may replay it
