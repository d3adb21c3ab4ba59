"""Email delivery against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.sla_worker.delivery import DeliveryStatus, send_email

SENDER = "客服部 <service@kesu.example>"
SUBJECT = "您的投诉已受理（受理号：KS-20261120-0007）"
BODY = (
    "您好！感谢您联系示例公司。您反映的问题我们已记录下来并正式受理，受理号为 KS-20261120-0007 。\n"
    "我们会尽快与您联系并跟进处理，请您放心。\n"
    "非常抱歉给您带来不便。"
)


class Inbox:
    """aiosmtpd handler: keeps accepted messages, refuses some recipients like real relays."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(r.startswith("spam@") for r in envelope.rcpt_tos):
            return "554 5.7.1 message rejected"
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def _send(controller: Controller, to: str, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": controller.port,
        "sender": SENDER,
        "to": to,
        "subject": SUBJECT,
        "body": BODY,
        "starttls": None,
        "timeout": 5.0,
        "message_id": "msg_42",
    }
    return await send_email(**{**arguments, **overrides})


def _parse(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    parsed = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_chinese_subject_and_body_arrive_intact(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    outcome = await _send(controller, "王先生 <customer@example.com>")
    assert outcome.status is DeliveryStatus.DELIVERED
    envelope = inbox.envelopes[-1]
    assert envelope.mail_from == "service@kesu.example"
    assert envelope.rcpt_tos == ["customer@example.com"]
    message = _parse(envelope)
    assert message["Subject"] == SUBJECT
    # MIME text ends its last line with a newline; everything else is byte for byte.
    assert message.get_content() == BODY + "\n"
    assert message.get_content_charset() == "utf-8"
    assert message["To"] == "王先生 <customer@example.com>"
    assert message["Message-ID"] == "<msg_42@kesu.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    # The wire form is pure ASCII, so no relay can mangle it.
    assert envelope.content.isascii()  # type: ignore[union-attr]


async def test_long_subject_survives_header_folding(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    subject = (
        "【时限预警】"
        + "受理号 KS-20261120-0007「首次联系客户」环节将于 2026年11月20日 18:00 到期" * 2
    )
    outcome = await _send(controller, "agent@kesu.example", subject=subject)
    assert outcome.status is DeliveryStatus.DELIVERED
    assert _parse(inbox.envelopes[-1])["Subject"] == subject


async def test_refused_recipient_is_permanent(smtp: tuple[Controller, Inbox]) -> None:
    controller, _ = smtp
    outcome = await _send(controller, "nobody@example.com")
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.error is not None
    assert "550" in outcome.error


async def test_deferred_recipient_is_retried(smtp: tuple[Controller, Inbox]) -> None:
    controller, _ = smtp
    outcome = await _send(controller, "busy@example.com")
    assert outcome.status is DeliveryStatus.RETRY
    assert outcome.error is not None
    assert "450" in outcome.error


async def test_rejected_content_is_permanent(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    before = len(inbox.envelopes)
    outcome = await _send(controller, "spam@example.com")
    assert outcome.status is DeliveryStatus.FAILED
    assert outcome.error is not None
    assert "554" in outcome.error
    assert len(inbox.envelopes) == before


async def test_required_starttls_is_not_downgraded(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    before = len(inbox.envelopes)
    outcome = await _send(controller, "customer@example.com", starttls=True)
    assert outcome.status is DeliveryStatus.RETRY
    assert len(inbox.envelopes) == before


async def test_credentials_never_travel_in_clear(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    before = len(inbox.envelopes)
    outcome = await _send(
        controller,
        "customer@example.com",
        starttls=False,
        username="kesu",
        password="s3cret-password",
    )
    assert outcome.status is DeliveryStatus.FAILED
    assert "s3cret-password" not in (outcome.error or "")
    # With STARTTLS left to negotiation, credentials make it required: this server has none.
    outcome = await _send(
        controller, "customer@example.com", username="kesu", password="s3cret-password"
    )
    assert outcome.status is DeliveryStatus.RETRY
    assert "s3cret-password" not in (outcome.error or "")
    assert len(inbox.envelopes) == before


async def test_header_injection_is_refused(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    before = len(inbox.envelopes)
    outcome = await _send(controller, "customer@example.com", subject="受理\nBcc: x@evil.example")
    assert outcome.status is DeliveryStatus.FAILED
    assert len(inbox.envelopes) == before


async def test_unreachable_server_is_retried() -> None:
    outcome = await send_email(
        host="127.0.0.1",
        port=_free_port(),
        sender=SENDER,
        to="customer@example.com",
        subject=SUBJECT,
        body=BODY,
        timeout=2.0,
    )
    assert outcome.status is DeliveryStatus.RETRY
