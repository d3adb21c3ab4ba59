"""What a delivery run works with, built once per worker process (`on_startup`).

Tests build their own `DeliveryRuntime` (short timeouts, a loopback allow list) and call the run
(`services.sla_worker.delivery.run.run_deliveries`) directly; the worker builds it from
`Settings`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from services.sla_worker.delivery.ratecap import SendCaps
from services.sla_worker.delivery.sink import LocalSink
from services.sla_worker.delivery.sms import HttpSmsGateway, SmsGateway
from services.sla_worker.delivery.webhooks import new_webhook_client
from services.sla_worker.logs import worker_logger
from shared.config import Settings
from shared.db.engine import Database
from shared.db.outbox import Lease
from shared.domain.templates import MessageChannel

log = worker_logger("kesu.worker.deliveries")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    starttls: bool | None
    use_tls: bool
    username: str | None
    password: str | None = field(repr=False)
    timeout: float


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Tunables of the delivery job (see the `KESU_*` settings of the same names)."""

    webhook_allow: tuple[str, ...] = ()
    webhook_timeout: float = 15.0
    smtp: SmtpConfig | None = None
    batch_size: int = 50
    lease_seconds: float = 60.0
    concurrency: int = 16
    run_seconds: float = 10.0
    company_name: str = "本公司"
    service_phone: str = ""
    console_url: str = ""
    # While Redis (the send caps) is away, messages wait this long instead of going uncapped.
    caps_unavailable_delay: float = 5.0

    def lease_for_batch(self) -> float:
        """The lease must outlast the whole batch, not one send: with `concurrency` sends at a
        time the last rows of a batch start a few timeouts late. An expired lease is not
        wrong (the row is sent again, same id) but wasteful, so it is sized generously."""
        slowest = max(self.webhook_timeout, self.smtp.timeout if self.smtp else 0.0)
        waves = -(-self.batch_size // max(1, self.concurrency))
        return max(self.lease_seconds, waves * slowest * 1.5)


@dataclass
class DeliveryRuntime:
    db: Database
    http: httpx.AsyncClient
    config: DeliveryConfig
    worker_id: str
    sms: SmsGateway | None = None
    caps: SendCaps | None = None
    # The embedded mode's local sink: takes the messages of channels with no gateway.
    sink: LocalSink | None = None
    clock: Callable[[], datetime] = utc_now
    # For the heartbeat and ops: what this process did since it started.
    totals: Counter[str] = field(default_factory=Counter)
    last_run_at: datetime | None = None
    _owned: list[httpx.AsyncClient] = field(default_factory=list)

    def lease(self) -> Lease:
        """The terms of a claim made now: one batch, leased for as long as it may take."""
        now = self.clock()
        until = now + timedelta(seconds=self.config.lease_for_batch())
        return Lease(now=now, until=until, worker=self.worker_id, limit=self.config.batch_size)

    def configured_channels(self) -> frozenset[MessageChannel]:
        """The message channels this worker has a gateway for. A message for another channel
        waits as `not_configured` (`message_deliveries.deliver_messages`) until a worker starts
        with its gateway (`message_deliveries.resume_waiting`). In the embedded mode the local
        sink serves every channel without a gateway (`message_deliveries._send`)."""
        if self.sink is not None:
            return frozenset(MessageChannel)
        channels = set()
        if self.sms is not None:
            channels.add(MessageChannel.SMS)
        if self.config.smtp is not None:
            channels.add(MessageChannel.EMAIL)
        return frozenset(channels)

    async def aclose(self) -> None:
        if self.caps is not None:
            await self.caps.aclose()
        for client in self._owned:
            await client.aclose()


def caps_key_secret(settings: Settings) -> bytes:
    """The key of the recipient digests in Redis. Every worker must use the same one, so it
    comes from configuration: KESU_NOTIFY_KEY_SECRET, else the JWT secret, else (with a warning)
    the database URL, which Redis does not hold either."""
    if settings.notify_key_secret is not None:
        secret = settings.notify_key_secret.get_secret_value()
    elif settings.jwt_secret is not None:
        secret = "caps:" + settings.jwt_secret.get_secret_value()
    else:
        log.warning("KESU_NOTIFY_KEY_SECRET is not set; send-cap keys derive from DATABASE_URL")
        secret = "caps:" + settings.require_database_url()
    return hashlib.blake2b(secret.encode("utf-8"), digest_size=32).digest()


def config_from_settings(settings: Settings) -> DeliveryConfig:
    smtp = None
    if settings.smtp_host and settings.smtp_sender:
        smtp = SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_use_tls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout_seconds,
        )
    return DeliveryConfig(
        webhook_allow=tuple(settings.webhook_allow_list()),
        webhook_timeout=settings.webhook_timeout_seconds,
        smtp=smtp,
        batch_size=settings.outbox_batch_size,
        lease_seconds=settings.outbox_lease_seconds,
        concurrency=settings.delivery_concurrency,
        run_seconds=settings.delivery_run_seconds,
        company_name=settings.company_name,
        service_phone=settings.service_phone,
        console_url=settings.console_url,
    )


def runtime_from_settings(settings: Settings, db: Database, worker_id: str) -> DeliveryRuntime:
    http = new_webhook_client()
    owned = [http]
    sms: SmsGateway | None = None
    if settings.sms_url and settings.sms_token:
        sms_client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        owned.append(sms_client)
        sms = HttpSmsGateway(
            client=sms_client,
            url=settings.sms_url,
            token=settings.sms_token.get_secret_value(),
            sign_name=settings.sms_sign,
            timeout=settings.sms_timeout_seconds,
        )
    caps = SendCaps(
        settings.require_redis_url(),
        key_secret=caps_key_secret(settings),
        per_recipient=settings.notify_cap_per_recipient,
        global_cap=settings.notify_cap_global,
        key_prefix=f"{settings.redis_prefix}:ratecap",
    )
    return DeliveryRuntime(
        db=db,
        http=http,
        config=config_from_settings(settings),
        worker_id=worker_id,
        sms=sms,
        caps=caps,
        sink=LocalSink(settings.local_sink_dir) if settings.local_sink_dir else None,
        _owned=owned,
    )
