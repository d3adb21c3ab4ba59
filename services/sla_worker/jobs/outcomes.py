"""From a transport's `DeliveryOutcome` to the row's next state (`Settlement`)."""

from __future__ import annotations

from datetime import datetime

from services.sla_worker.delivery import DeliveryOutcome, DeliveryStatus
from shared.db.outbox import Settlement
from shared.domain.retry import MAX_ATTEMPTS, next_attempt_at


def settlement_for(outcome: DeliveryOutcome, *, attempts_before: int, now: datetime) -> Settlement:
    """Delivered; retried on the back-off schedule (Retry-After honoured within bounds); or
    dead-lettered (死信) when the schedule is spent or the failure is permanent (410 Gone, a
    refused SSRF target, a rejected address or message)."""
    code = outcome.http_status
    if outcome.status is DeliveryStatus.DELIVERED:
        return Settlement("delivered", status_code=code)
    if outcome.status is DeliveryStatus.RETRY:
        when = next_attempt_at(attempts_before + 1, now, outcome.retry_after)
        if when is None:
            error = f"gave up after {MAX_ATTEMPTS} attempts; last: {outcome.error}"
            return Settlement("dead", error=error, status_code=code)
        return Settlement("pending", next_attempt_at=when, error=outcome.error, status_code=code)
    return Settlement("dead", error=outcome.error, status_code=code)
