"""Notification delivery for the SLA worker (通知投递): the run the delivery job starts, and the
transports it sends through.

- `run`: one delivery run (fan out, claim, send, settle, repeat within a time budget), over
  `message_deliveries` (messages to people: `message_plan` decides what to send) and
  `webhook_deliveries`, each sending a claimed `batch`; `runtime` is what a run works with.
- The transports (`webhooks`, `email`, `sms`, with the send caps in `ratecap`) each make one
  attempt and report a `DeliveryOutcome`; `outcome.settlement_for` decides what happens next
  (`shared.domain.retry.next_attempt_at`, dead-lettering, …).
"""

from services.sla_worker.delivery.email import send_email
from services.sla_worker.delivery.outcome import DeliveryOutcome, DeliveryStatus
from services.sla_worker.delivery.ratecap import SendCaps
from services.sla_worker.delivery.sms import HttpSmsGateway, SmsGateway
from services.sla_worker.delivery.webhooks import deliver_webhook, new_webhook_client

__all__ = [
    "DeliveryOutcome",
    "DeliveryStatus",
    "HttpSmsGateway",
    "SendCaps",
    "SmsGateway",
    "deliver_webhook",
    "new_webhook_client",
    "send_email",
]
