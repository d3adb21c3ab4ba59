"""Notification transports for the SLA worker (通知投递): webhooks, email, SMS, send caps.

Each transport makes one attempt and reports a `DeliveryOutcome`; the outbox job decides what
happens next (`shared.domain.retry.next_attempt_at`, disabling a gone subscription, …).
"""

from services.sla_worker.delivery.email import send_email
from services.sla_worker.delivery.outcome import DeliveryOutcome, DeliveryStatus
from services.sla_worker.delivery.ratecap import SendCaps
from services.sla_worker.delivery.sms import HttpSmsGateway, SmsGateway
from services.sla_worker.delivery.webhooks import (
    deliver_webhook,
    new_webhook_client,
    new_webhook_secret,
)

__all__ = [
    "DeliveryOutcome",
    "DeliveryStatus",
    "HttpSmsGateway",
    "SendCaps",
    "SmsGateway",
    "deliver_webhook",
    "new_webhook_client",
    "new_webhook_secret",
    "send_email",
]
