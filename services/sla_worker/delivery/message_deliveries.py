"""Messages to one person (短信 / 邮件): claim, plan, cap, send, settle."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError

from services.sla_worker.delivery.batch import run_batch
from services.sla_worker.delivery.email import Attachment, send_email
from services.sla_worker.delivery.message_plan import (
    Fail,
    Plan,
    Send,
    Skip,
    effective_templates,
    plan_message,
    scrub,
)
from services.sla_worker.delivery.outcome import DeliveryOutcome, settlement_for
from services.sla_worker.delivery.runtime import DeliveryRuntime
from services.sla_worker.logs import stack_of, worker_logger
from shared.db import notifications as notification_repo
from shared.db import outbox as repo
from shared.db import report_schedule
from shared.domain.templates import MessageChannel
from shared.reports.xlsx import XLSX_MEDIA_TYPE

log = worker_logger("kesu.worker.deliveries")
# Seconds an outcome may wait to be recorded with others (Settler).
SETTLE_AFTER = 0.25


async def deliver_messages(runtime: DeliveryRuntime) -> list[str]:
    """One batch of due messages; returns a label per message (delivered, retry, dead,
    not_configured, …). Messages for a channel this worker has no gateway for are set aside
    at once, together, in one statement: they wait as `not_configured`, unclaimed, instead of
    coming back on the retry schedule.

    No more are claimed than the global send cap has room for now: when it is full the due
    messages wait, unclaimed and unwritten, for a run that finds room (every 2 s), rather than
    being claimed and deferred one batch after another."""
    room = await _global_room(runtime)
    if room == 0:
        return []
    lease = runtime.lease()
    if room is not None and room < lease.limit:
        lease = replace(lease, limit=room)
    token = lease.token
    async with runtime.db.connect() as conn:
        rows = await repo.claim_messages(conn, lease)
        if not rows:
            return []
        templates = effective_templates(await notification_repo.current_templates(conn))
        plans = {row["id"]: plan_message(row, templates, runtime.config) for row in rows}
        configured = runtime.configured_channels()
        waiting = [
            (row_id, plan.channel.value)
            for row_id, plan in plans.items()
            if isinstance(plan, Send) and plan.channel not in configured
        ]
        if waiting:
            await repo.wait_for_gateways(conn, waiting, token=token, now=runtime.clock())
    set_aside = {row_id for row_id, _ in waiting}
    settler = Settler(runtime)

    async def handle(row: dict[str, Any]) -> str:
        return await _deliver_one(runtime, row, token, plans[row["id"]], settler)

    sending = [row for row in rows if row["id"] not in set_aside]
    sends = sum(isinstance(plans[row["id"]], Send) for row in sending)
    settler.reserved = await _reserve(runtime, sends)
    try:
        labels = await run_batch(
            runtime.db,
            "outbox",
            sending,
            token,
            concurrency=runtime.config.concurrency,
            handle=handle,
            in_order_of=recipient_of,
        )
    finally:
        # The outcomes not yet recorded — all of them when the batch was cancelled (SIGTERM):
        # shielded, so they reach the database rather than being sent again after the lease.
        await asyncio.shield(settler.flush())
    labels = [
        "error" if row["id"] in settler.unrecorded else label
        for row, label in zip(sending, labels, strict=True)
    ]
    return labels + ["not_configured"] * len(set_aside)


class Settler:
    """The outcomes of a batch's sends, recorded together (`shared.db.outbox.settle_many`):
    when the batch ends, or as soon as the oldest one waiting is `SETTLE_AFTER` seconds old (a
    slow gateway), so a crash loses at most that much of outcomes — those rows are sent again
    after their lease, as for a crash mid-send (at least once). One statement for a batch of
    acknowledgements instead of one per message. A recipient's next message is sent only after
    the earlier one's outcome is known here (`batch.run_batch`), and the next claim comes after
    the flush."""

    def __init__(self, runtime: DeliveryRuntime) -> None:
        self._runtime = runtime
        self._waiting: list[repo.Outcome] = []
        self._oldest = 0.0
        self.unrecorded: set[int] = set()  # rows whose outcome could not be recorded
        self.reserved = 0  # global send-cap slots the batch took at once (SendCaps.reserve)

    async def add(self, outcome: repo.Outcome) -> None:
        if not self._waiting:
            self._oldest = time.monotonic()
        self._waiting.append(outcome)
        if time.monotonic() - self._oldest >= SETTLE_AFTER:
            await self.flush()

    async def flush(self) -> None:
        """Record the outcomes waiting. If that fails (the database away), their rows stay
        leased and come back after the lease (`unrecorded`, logged): never an exception."""
        outcomes, self._waiting = self._waiting, []
        if not outcomes:
            return
        try:
            async with self._runtime.db.connect() as conn:
                applied = await repo.settle_many(conn, "outbox", outcomes)
        except Exception as exc:
            self.unrecorded.update(o.row_id for o in outcomes)
            log.error(
                "the outcomes of %d messages were not recorded (%s); they are sent again "
                "after their lease:\n%s",
                len(outcomes),
                type(exc).__name__,
                stack_of(exc),
            )
            return
        for outcome in outcomes:
            if outcome.row_id not in applied:
                log.info("outbox %s: lease lost before its outcome was recorded", outcome.row_id)


def recipient_of(row: dict[str, Any]) -> tuple[object, ...]:
    """Whose messages in one batch go one after the other: the customer of one complaint (the
    claim, `shared.db.outbox.claim_messages`, keeps their order across batches too), or one
    staff member about one complaint."""
    if row["complaint_id"] is None:
        return ("row", row["id"])
    return (row["complaint_id"], row["audience"], row["recipient_user_id"])


async def resume_waiting(runtime: DeliveryRuntime) -> int:
    """At start-up: the messages waiting for a gateway this worker has become pending again
    (due at once); returns how many."""
    channels = sorted(channel.value for channel in runtime.configured_channels())
    async with runtime.db.connect() as conn:
        resumed = await repo.resume_not_configured(conn, channels, now=runtime.clock())
    if resumed:
        log.info("%d messages waiting for a %s gateway are due again", resumed, "/".join(channels))
    return resumed


async def _deliver_one(
    runtime: DeliveryRuntime,
    row: dict[str, Any],
    token: uuid.UUID,
    plan: Plan,
    settler: Settler,
) -> str:
    if isinstance(plan, Skip | Fail):
        status = "skipped" if isinstance(plan, Skip) else "dead"
        outcome = repo.Settlement(status, error=plan.reason, counted=False)
        attempt = repo.Attempt(
            attempted_at=runtime.clock(),
            channel=row["channel"] or "message",
            outcome="skipped" if status == "skipped" else "failed",
            status_code=None,
            error=plan.reason,
            duration_ms=0,
            worker=runtime.worker_id,
        )
        await _settle(runtime, settler, row, token, outcome, attempt)
        return status
    reserved = settler.reserved > 0
    settler.reserved -= reserved
    wait = await _cap_wait(runtime, plan.address, reserved=reserved)
    if wait is not None:
        # Capped (or Redis away): not an attempt, just later.
        deferred = repo.Settlement(
            "pending",
            next_attempt_at=runtime.clock() + wait,
            error="send cap: deferred",
            counted=False,
        )
        await _settle(runtime, settler, row, token, deferred, None)
        return "deferred"
    started = time.monotonic()
    result = await _send(runtime, plan, str(row["message_id"]), await _attachments(runtime, row))
    now = runtime.clock()
    error = scrub(result.error, plan.address)
    settlement = settlement_for(result, attempts_before=row["attempts"], now=now)
    if settlement.error is not None:
        settlement = repo.Settlement(
            settlement.status,
            settlement.next_attempt_at,
            scrub(settlement.error, plan.address),
            settlement.status_code,
            settlement.counted,
        )
    attempt = repo.Attempt(
        attempted_at=now,
        channel=plan.channel.value,
        outcome=result.status.value,
        status_code=result.http_status,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
        worker=runtime.worker_id,
    )
    await _settle(runtime, settler, row, token, settlement, attempt)
    return "retry" if settlement.status == "pending" else settlement.status


async def _global_room(runtime: DeliveryRuntime) -> int | None:
    """The global send cap's free slots now; None: no caps, or Redis away (each send then
    asks for its own slot, and is deferred while Redis is away)."""
    if runtime.caps is None:
        return None
    try:
        return await runtime.caps.room()
    except (RedisError, OSError):
        return None


async def _reserve(runtime: DeliveryRuntime, sends: int) -> int:
    """The batch's global send-cap slots, taken at once: how many (0 when they do not all fit
    or Redis is away; each send then asks for its own)."""
    if runtime.caps is None:
        return 0
    try:
        return sends if await runtime.caps.reserve(sends) else 0
    except (RedisError, OSError):
        return 0


async def _cap_wait(
    runtime: DeliveryRuntime, address: str, *, reserved: bool = False
) -> timedelta | None:
    if runtime.caps is None:
        return None
    try:
        return await runtime.caps.acquire(address, reserved=reserved)
    except (RedisError, OSError) as exc:
        # Hold messages while Redis restarts rather than send them uncapped.
        log.warning("send caps unavailable (%s); deferring", type(exc).__name__)
        return timedelta(seconds=runtime.config.caps_unavailable_delay)


async def _attachments(runtime: DeliveryRuntime, row: dict[str, Any]) -> list[Attachment]:
    """The files a message carries: a scheduled report's workbook and chart page (定期报表),
    read from its kept run when the message is sent."""
    run_id = (row["payload"] or {}).get("report_run_id")
    if run_id is None:
        return []
    async with runtime.db.connect() as conn:
        files = await report_schedule.run_files(conn, int(run_id))
    if files is None:
        return []
    stem = files["file_stem"]
    return [
        (f"{stem}.xlsx", bytes(files["xlsx"]), XLSX_MEDIA_TYPE),
        (f"{stem}.html", bytes(files["html"]), "text/html"),
    ]


async def _send(
    runtime: DeliveryRuntime, plan: Send, message_id: str, attachments: Sequence[Attachment] = ()
) -> DeliveryOutcome:
    # Only channels in `runtime.configured_channels()` come here: a gateway's, or the embedded
    # mode's local sink for a channel with none.
    smtp = runtime.config.smtp
    gateway_missing = runtime.sms is None if plan.channel is MessageChannel.SMS else smtp is None
    if gateway_missing and runtime.sink is not None:
        return await runtime.sink.send(
            channel=plan.channel.value,
            to=plan.address,
            subject=plan.subject if plan.channel is MessageChannel.EMAIL else None,
            text=plan.body,
            message_id=message_id,
            attachments=attachments,
        )
    if plan.channel is MessageChannel.SMS:
        if runtime.sms is None:
            return DeliveryOutcome.retry(repo.not_configured_error(plan.channel.value))
        return await runtime.sms.send(to=plan.address, text=plan.body, message_id=message_id)
    if smtp is None:
        return DeliveryOutcome.retry(repo.not_configured_error(plan.channel.value))
    return await send_email(
        host=smtp.host,
        port=smtp.port,
        sender=smtp.sender,
        to=plan.address,
        subject=plan.subject,
        body=plan.body,
        starttls=smtp.starttls,
        use_tls=smtp.use_tls,
        username=smtp.username,
        password=smtp.password,
        timeout=smtp.timeout,
        message_id=message_id,
        attachments=attachments,
    )


async def _settle(
    runtime: DeliveryRuntime,
    settler: Settler,
    row: dict[str, Any],
    token: uuid.UUID,
    settlement: repo.Settlement,
    attempt: repo.Attempt | None,
) -> None:
    await settler.add(
        repo.Outcome(
            row_id=row["id"],
            outbox_id=row["id"],
            token=token,
            attempts_before=row["attempts"],
            settlement=settlement,
            attempt=attempt,
            now=runtime.clock(),
        )
    )
