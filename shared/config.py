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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KESU_", extra="ignore", frozen=True)

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

    db_pool_size: int = 20
    db_max_overflow: int = 10

    # Intake limits.
    max_body_bytes: int = 1024 * 1024
    idempotency_ttl_hours: int = 48
    max_page_size: int = 200
    default_page_size: int = 50

    log_level: str = "INFO"
    # Where customers open links we send them (survey pages of the company's front-end).
    public_base_url: str = "http://127.0.0.1:8000"

    # Sign-in. The JWT secret signs access tokens (`make run` keeps one in .data/).
    jwt_secret: SecretStr | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    cheap_password_hashing: bool = False  # test suites only: argon2 at minimum cost

    # Rate limits (`limits` notation). Integration keys carry their own per-minute limit.
    user_rate_limit: str = "600/minute"
    login_rate_limit: str = "10/minute"
    public_lookup_ip_limit: str = "20/minute"
    public_lookup_reference_limit: str = "10/hour"

    # The first admin, created at start-up when no admin exists yet (compose deployments).
    admin_username: str | None = None
    admin_password: SecretStr | None = None

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
