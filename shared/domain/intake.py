"""What a complaint is registered with (受理登记): SPEC §1 and seeds 000, 002, 003.

These models are the request body of `POST /complaints` and the payload of the
`complaint.registered` event. They forbid unknown fields, so a client can never set server-owned
fields (status, level, reference, assignee, timestamps) through them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    StrictInt,
    model_validator,
)

from shared.domain.enums import Category, CauseClass, Channel, CustomerType, DesiredResolution, Kind
from shared.domain.errors import FieldError, InvalidInput
from shared.domain.values import (
    Code,
    ComplaintText,
    Email,
    Identifier,
    IsoDate,
    IsoDateTime,
    LongText,
    MediumText,
    Name,
    PhoneNumber,
    ShortText,
)

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Customer(BaseModel):
    """The person or company complaining. At least one way to reach them is required."""

    model_config = _STRICT

    name: Name = Field(description="Name (客户名称)", examples=["张伟"])
    phone: PhoneNumber | None = Field(
        default=None,
        description="Phone number; Chinese numbers without +86 are accepted. Stored as E.164.",
        examples=["13812345678"],
    )
    email: Email | None = Field(default=None, max_length=254)
    address: MediumText | None = None
    customer_type: CustomerType = CustomerType.CONSUMER
    id_number: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{6,32}$")] | None = Field(
        default=None, description="Identity document or business licence number (证件号码)"
    )

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.phone or self.email or self.address):
            raise ValueError("give at least one of phone, email or address (联系方式)")
        return self


class Product(BaseModel):
    """The product or order concerned (产品信息)."""

    model_config = _STRICT

    model: ShortText | None = Field(default=None, description="Model (型号)")
    serial_number: Identifier | None = Field(default=None, description="Serial number (序列号)")
    order_number: Identifier | None = Field(default=None, description="Order number (订单号)")
    part_number: Identifier | None = Field(default=None, description="Part number (料号)")
    batch_number: Identifier | None = Field(
        default=None, description="Production batch (生产批次): group complaints are found by it"
    )
    quantity: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    purchase_date: IsoDate | None = Field(default=None, description="Date of purchase (购买日期)")
    ship_date: IsoDate | None = Field(default=None, description="Date shipped (发货日期)")
    symptom: LongText | None = Field(default=None, description="Symptom (故障现象)")


class Wish(BaseModel):
    """What the customer wants (客户诉求)."""

    model_config = _STRICT

    types: list[DesiredResolution] = Field(min_length=1, max_length=7)
    detail: LongText | None = None


class Attachment(BaseModel):
    """Evidence (photos, video, transaction records) held in the company's file store."""

    model_config = _STRICT

    name: MediumText
    url: HttpUrl = Field(max_length=2000)
    media_type: Annotated[str, Field(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=100)] | None = None
    size_bytes: StrictInt | None = Field(default=None, ge=0, le=10 * 1024**3)


class ComplaintSubject(BaseModel):
    """The staff member or shop complained about (被投诉对象); a named staff member must recuse."""

    model_config = _STRICT

    staff_user_id: uuid.UUID | None = Field(
        default=None, description="Kesu user id of the staff member complained about, if known"
    )
    staff_name: Name | None = None
    shop: MediumText | None = Field(default=None, description="Shop or outlet (门店)")


class ChannelMeta(BaseModel):
    """Where the complaint came from, as the channel knows it."""

    model_config = _STRICT

    call_id: Identifier | None = Field(
        default=None, description="Telephony call id; de-duplicates retried posts like a key"
    )
    caller_number: PhoneNumber | None = None
    agent_id: Identifier | None = Field(default=None, description="Call-centre agent (坐席) id")
    regulator: ShortText | None = Field(default=None, examples=["12315"])
    regulator_case_number: Identifier | None = Field(
        default=None, description="The regulator's own case number (工单号)"
    )
    source_url: HttpUrl | None = Field(default=None, max_length=2000)


class ComplaintIntake(BaseModel):
    """A complaint, inquiry or suggestion as registered at intake (受理)."""

    model_config = _STRICT

    channel: Channel
    kind: Kind = Kind.COMPLAINT
    category: Category = Category.OTHER
    subcategory: Code | None = None
    cause_class: CauseClass | None = None
    customer: Customer
    product: Product | None = None
    content: ComplaintText = Field(description="The complaint in the customer's words (投诉内容)")
    desired_resolution: Wish | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    subject: ComplaintSubject | None = None
    channel_meta: ChannelMeta = Field(default_factory=ChannelMeta)
    occurred_at: IsoDateTime | None = Field(
        default=None, description="When the problem happened, if the customer says"
    )
    notify_customer: StrictBool = Field(
        default=True,
        description="Send the acknowledgement with the reference number (受理号) to the customer",
    )
    customer_count: StrictInt = Field(
        default=1,
        ge=1,
        le=1_000_000,
        description="How many customers this complaint speaks for: 3 or more is a group "
        "complaint (集体投诉, level 3)",
    )

    @model_validator(mode="after")
    def _channel_rules(self) -> ComplaintIntake:
        if self.channel is Channel.REGULATOR and not self.channel_meta.regulator_case_number:
            raise ValueError("a regulator complaint needs channel_meta.regulator_case_number")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at needs a time zone offset (e.g. +08:00)")
        return self


def check_intake(intake: ComplaintIntake, *, now: datetime, today: date) -> None:
    """Rules that need the clock: nothing may have happened in the future.

    `today` is the Asia/Shanghai date of `now`. A day of slack is allowed on dates because the
    customer's own calendar may be ahead of ours (time zones).
    """
    errors: list[FieldError] = []
    latest = today + timedelta(days=1)
    product = intake.product
    if product is not None:
        for name in ("purchase_date", "ship_date"):
            value = getattr(product, name)
            if value is not None and value > latest:
                errors.append(
                    FieldError(("body", "product", name), f"{name} {value} is in the future")
                )
        if product.purchase_date and product.purchase_date < date(1990, 1, 1):
            errors.append(
                FieldError(("body", "product", "purchase_date"), "purchase_date is too old")
            )
    if intake.occurred_at is not None and intake.occurred_at > now + timedelta(minutes=10):
        errors.append(FieldError(("body", "occurred_at"), "occurred_at is in the future"))
    if errors:
        raise InvalidInput(errors)
