"""Email delivery over SMTP (邮件通知) with aiosmtplib.

Subjects are RFC 2047 encoded and bodies sent as UTF-8 in base64, which every relay carries
intact without needing 8BITMIME or SMTPUTF8. Classification follows SMTP semantics: a 5xx on
the recipient or on the message content is permanent (`failed`), anything else (4xx, network,
authentication, TLS) may succeed later (`retry`) once the relay or the configuration recovers.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from services.sla_worker.delivery.outcome import DeliveryOutcome, describe

DEFAULT_TIMEOUT = 15.0


# A file to attach: (file name, content, media type). Names may be Chinese (RFC 2231).
Attachment = tuple[str, bytes, str]


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The MIME message; raises ValueError on header injection (a line break in a header)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2].strip("<> ") or None
    # A stable Message-ID per outbox message lets mail clients fold a re-sent duplicate.
    message["Message-ID"] = f"<{message_id}@{domain}>" if message_id and domain else make_msgid()
    # RFC 3834: out-of-office robots must not answer notifications (no reply loops).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8", cte="base64")
    for filename, content, media_type in attachments:
        maintype, _, subtype = media_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


async def send_email(
    *,
    host: str,
    port: int,
    sender: str,
    to: str,
    subject: str,
    body: str,
    starttls: bool | None = None,
    use_tls: bool = False,
    username: str | None = None,
    password: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - aiosmtplib applies it per command
    message_id: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    attachments: Sequence[Attachment] = (),
) -> DeliveryOutcome:
    """Send one message. `starttls`: True requires STARTTLS, None uses it when offered, False
    never; `use_tls` is implicit TLS (port 465). Credentials are never sent in clear text:
    with a username, STARTTLS becomes required unless `use_tls`, and `starttls=False` fails."""
    if username is not None and not use_tls:
        if starttls is False:
            return DeliveryOutcome.failed("refusing to send SMTP credentials without TLS")
        starttls = True
    try:
        message = build_message(
            sender=sender,
            to=to,
            subject=subject,
            body=body,
            message_id=message_id,
            attachments=attachments,
        )
    except (ValueError, TypeError) as exc:
        return DeliveryOutcome.failed(f"cannot build the message: {describe(exc)}")
    try:
        await aiosmtplib.send(
            message,
            hostname=host,
            port=port,
            start_tls=starttls,
            use_tls=use_tls,
            username=username,
            password=password,
            timeout=timeout,
            tls_context=tls_context,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if exc.recipients and all(500 <= r.code < 600 for r in exc.recipients):
            return DeliveryOutcome.failed(f"recipient refused: {replies}")
        return DeliveryOutcome.retry(f"recipient deferred: {replies}")
    except aiosmtplib.SMTPDataError as exc:
        if 500 <= exc.code < 600:
            return DeliveryOutcome.failed(f"message refused: {exc.code} {exc.message}")
        return DeliveryOutcome.retry(f"message deferred: {exc.code} {exc.message}")
    except aiosmtplib.SMTPAuthenticationError as exc:
        # Only the server's code: its text may echo what we sent.
        return DeliveryOutcome.retry(f"SMTP authentication failed ({exc.code})")
    except (aiosmtplib.SMTPException, OSError) as exc:
        return DeliveryOutcome.retry(f"SMTP error: {describe(exc)}")
    return DeliveryOutcome.delivered()
