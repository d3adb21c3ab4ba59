"""One bootstrap for both services: the collaborators a process builds once, at start-up.

The API builds them in its lifespan, the SLA worker in arq's `on_startup`; tools (the CLIs,
benchmarks, tests) call the same function. Settings are read here, when the process starts,
never at import.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from shared.config import Settings
from shared.db.calendars import CalendarCache, calendar_cache
from shared.db.engine import Database
from shared.db.notifications import WebhookInterestCache, webhook_interest_cache
from shared.db.rule_sets import RulesCache, rules_cache
from shared.db.sla import PolicyCache, policy_cache
from shared.storage import Storage, build_storage

__all__ = ["Caches", "Collaborators", "SurveyUrl", "build", "build_storage"]

# A survey link for (complaint id, invitation nonce): the API signs them with its secret.
SurveyUrl = Callable[[uuid.UUID, str], str]


@dataclass(frozen=True)
class Caches:
    """The process caches of what changes rarely: the business calendar, the SLA policies, the
    rule sets and what the webhook subscriptions want. Each re-reads when its version in the
    database changes."""

    calendars: CalendarCache = calendar_cache
    policies: PolicyCache = policy_cache
    rules: RulesCache = rules_cache
    webhooks: WebhookInterestCache = webhook_interest_cache


@dataclass(frozen=True)
class Collaborators:
    """What a process works with. `survey_url` is None in processes that send no survey
    invitations of their own making (the worker only delivers what the API queued)."""

    db: Database
    settings: Settings | None = None  # None only in tests that drive one part directly
    caches: Caches = field(default_factory=Caches)
    survey_url: SurveyUrl | None = None
    # The API's Redis (rate limits, ops status); the worker uses the connection arq gives it.
    redis: aioredis.Redis | None = None
    # Evidence files and case-file archives (shared.storage); None without settings.
    storage: Storage | None = None

    def require_settings(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("these collaborators were built without settings")
        return self.settings

    def require_storage(self) -> Storage:
        if self.storage is None:
            raise RuntimeError("these collaborators were built without storage")
        return self.storage

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose(close_connection_pool=True)
        await self.db.dispose()


def build(
    settings: Settings,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    survey_url: SurveyUrl | None = None,
    with_redis: bool = False,
) -> Collaborators:
    """The collaborators of one process. The pool is sized by the caller's role (the API
    serves many requests at once, a worker a few batches) unless the settings say otherwise;
    `with_redis` opens a Redis connection pool of the process's own."""
    db = Database(
        settings.require_database_url(),
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
    )
    redis = (
        aioredis.Redis(
            connection_pool=aioredis.ConnectionPool.from_url(settings.require_redis_url())
        )
        if with_redis
        else None
    )
    return Collaborators(
        db=db,
        settings=settings,
        survey_url=survey_url,
        redis=redis,
        storage=build_storage(settings),
    )
