"""Configuration from the environment, shared by the API, the worker and the tools.

`DATABASE_URL`, `REDIS_URL` and `PORT` keep their conventional names; everything else is `KESU_*`.
When `DATABASE_URL` / `REDIS_URL` are unset, `make run` and the tests start embedded servers and
set them for their children (see `services/devstack`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The settings that configure each message channel's gateway (短信网关, SMTP). A message for a
# channel a worker has no gateway for waits as `not_configured` until a worker starts with it.
GATEWAY_SETTINGS: dict[str, str] = {
    "sms": "KESU_SMS_URL, KESU_SMS_TOKEN",
    "email": "KESU_SMTP_HOST, KESU_SMTP_SENDER",
}


class Settings(BaseSettings):
    # An empty variable is an unset one: compose passes `${KESU_SMTP_HOST:-}` and the like.
    model_config = SettingsConfigDict(
        env_prefix="KESU_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "KESU_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "KESU_REDIS_URL")
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "KESU_PORT"))
    data_dir: Path = Path(".data")

    # Redis names: several deployments (or test runs) may share one Redis.
    queue_name: str = "kesu:queue"
    redis_prefix: str = "kesu"

    # The API's pool: connections stay open once opened. Overflow connections would be opened
    # and closed under load (a PostgreSQL process start and authentication each): none.
    db_pool_size: int = 30
    db_max_overflow: int = 0

    # Intake limits.
    max_body_bytes: int = 1024 * 1024
    idempotency_ttl_hours: int = 48
    max_page_size: int = 200
    default_page_size: int = 50

    log_level: str = "INFO"
    # Where customers open links we send them (the survey page): by default the service's own
    # customer pages (H5, `/h5/`); a company with its own front-end names it here.
    public_base_url: str | None = None

    # Sign-in. The JWT secret signs access tokens (`make run` keeps one in .data/).
    jwt_secret: SecretStr | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    cheap_password_hashing: bool = False  # test suites only: argon2 at minimum cost

    # Rate limits (`limits` notation). Integration keys carry their own per-minute limit.
    user_rate_limit: str = "600/minute"
    login_rate_limit: str = "10/minute"  # per client address and username
    # Failed sign-ins per client address, whatever the username (password spraying). Successful
    # ones are not counted: a call centre signing in behind one NAT address is never held up.
    login_failure_ip_limit: str = "60/minute"
    # Failed authentications per client address (no, bad or revoked credentials on a protected
    # endpoint). Each is audited; past this the address gets 429, and no more audit rows.
    unauthenticated_ip_limit: str = "120/minute"
    public_lookup_ip_limit: str = "20/minute"
    # Searches of the complaint list by contact data (a customer's phone number), per principal.
    contact_search_limit: str = "60/minute"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated addresses
    # and CIDRs (e.g. "10.0.0.0/8,172.17.0.1"). Empty: the socket's peer is the client.
    trusted_proxies: str = ""
    # Seconds a client has to send a request's headers (slowloris): the server closes slower
    # connections (services/intake_api/server.py).
    header_timeout_seconds: float = 10.0

    # The first admin, created at start-up when no admin exists yet (compose deployments).
    admin_username: str | None = None
    admin_password: SecretStr | None = None

    # --- Notifications (通知投递, SLA worker) ---
    # Webhook SSRF allow list (放行名单): comma-separated CIDRs and/or exact host names that may
    # be private, e.g. "10.20.0.0/16,hooks.intranet.example". Empty: public addresses only.
    webhook_allow: str = ""
    webhook_timeout_seconds: float = 15.0
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str | None = None  # e.g. "客服中心 <service@example.com>"
    smtp_starttls: bool | None = None  # True: required; None: when offered; False: never
    smtp_use_tls: bool = False  # implicit TLS (port 465)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 15.0
    sms_url: str | None = None  # the HTTP SMS gateway (短信网关) adapter's endpoint
    sms_token: SecretStr | None = None
    sms_sign: str | None = None  # 短信签名, e.g. 【某公司】, when the gateway wants it per request
    sms_timeout_seconds: float = 15.0
    # The embedded mode's local sink (set by `make run`, never in a deployment): customers' SMS
    # and mail for a channel with no gateway are written to DIR/messages.jsonl instead, and
    # listed at /dev/sink.
    local_sink_dir: Path | None = None
    notify_cap_per_recipient: str = "10/hour"
    notify_cap_global: str = "600/minute"
    # Keys the recipient digests of the send caps in Redis; falls back to the JWT secret.
    notify_key_secret: SecretStr | None = None
    # Values of the template placeholders that are the same for every message.
    company_name: str = "本公司"
    service_phone: str = ""
    console_url: str = ""  # staff console base URL; case_url = console_url + /complaints/{id}
    # The delivery job: how many rows one claim takes, how long its lease runs (longer than
    # the slowest attempt), how many sends run at once, how long one run keeps claiming.
    outbox_batch_size: int = 50
    outbox_lease_seconds: float = 60.0
    delivery_concurrency: int = 16
    delivery_run_seconds: float = 10.0

    # --- Evidence (证据附件) and the yearly case file (案宗) ---
    # Uploads: per file and per complaint; the body limit of the upload endpoints is the file
    # limit plus `upload_overhead_bytes` for the multipart envelope.
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_max_files: int = 20
    upload_overhead_bytes: int = 64 * 1024
    public_upload_ip_limit: str = "10/minute"  # customers' uploads per client address
    # Object storage: the filesystem under `data_dir/files` unless an S3-compatible endpoint
    # is configured (any S3 API: AWS, MinIO, SeaweedFS, OSS/COS in S3 mode).
    s3_endpoint_url: str | None = None
    s3_bucket: str = "kesu"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    files_dir: Path | None = None  # default: data_dir / "files"

    def public_base(self) -> str:
        """`KESU_PUBLIC_BASE_URL`, else the API's own customer pages on its host and port."""
        if self.public_base_url:
            return self.public_base_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}/h5"

    def trusted_proxy_list(self) -> list[str]:
        return [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]

    def webhook_allow_list(self) -> list[str]:
        return [entry.strip() for entry in self.webhook_allow.split(",") if entry.strip()]

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (make run / make test set it for you)")
        return self.database_url

    def require_jwt_secret(self) -> str:
        if self.jwt_secret is None or len(self.jwt_secret.get_secret_value()) < 32:
            raise RuntimeError("KESU_JWT_SECRET must be set to at least 32 random characters")
        return self.jwt_secret.get_secret_value()

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set (make run / make test set it for you)")
        return self.redis_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
