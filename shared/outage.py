"""Outage episodes of a dependency (PostgreSQL, Redis): one log line when one starts, one when
it ends, however many requests meet it in between.

During an outage every request that needs the dependency fails the same way; a log line (and a
traceback) per request buries the one fact ops need: since when, and whether it is over.
"""

from __future__ import annotations

import logging
import time


class Outage:
    """`failed()` on each failure, `recovered()` on each success: logs the first failure of an
    episode (a warning) and the first success after it (with how long it lasted and how many
    failures it saw)."""

    def __init__(self, what: str, logger: logging.Logger, *, consequence: str) -> None:
        self.what = what
        self._log = logger
        self._consequence = consequence
        self._since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> bool:
        """Count a failure; True when it starts an episode."""
        self._failures += 1
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning(
                "%s unreachable (%s); %s until it is back",
                self.what,
                type(exc).__name__,
                self._consequence,
            )
            return True
        return False

    def recovered(self) -> None:
        if self._since is None:
            return
        lasted = time.monotonic() - self._since
        self._log.warning(
            "%s reachable again after %.1f s (%d failures seen meanwhile)",
            self.what,
            lasted,
            self._failures,
        )
        self._since, self._failures = None, 0
