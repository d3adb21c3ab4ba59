"""Worker logs without personal data (个人信息不入日志); the masking is `shared.log_masking`'s.

The worker handles customers' phone numbers and email addresses at send time, and what fails
there can carry them: a relay's reply echoes the address, a library error names the number.
Every record of the worker's own loggers (`worker_logger`) and, in the worker process, every
record that reaches a handler (`protect_handlers`, for arq's and shared code's loggers) has its
message, exception text and stack masked before any handler formats it.

Masking by pattern cannot recognise a name or a message text, so code that may hold those (the
send path) logs an exception's type and stack, never its message (`stack_of`).
"""

from __future__ import annotations

import logging
import traceback

from shared.log_masking import MASK, RedactPersonalData, mask

__all__ = ["MASK", "mask", "protect_handlers", "quiet_routine_jobs", "stack_of", "worker_logger"]

_FILTER = RedactPersonalData()


def worker_logger(name: str) -> logging.Logger:
    """The logger `name` with masking attached (once: loggers are process-wide)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def protect_handlers(logger: logging.Logger | None = None) -> None:
    """Mask whatever reaches the handlers of `logger` (the root logger: every record of the
    process that propagates, arq's included)."""
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


class RoutineJobsAtDebug(logging.Filter):
    """arq logs each job's start (→) and end (←) at INFO, and its health record every 20 s: with
    the sweep and the delivery cron every 2 s, four lines every 2 s from an idle worker; httpx
    logs each request it sends (a line per webhook or SMS). Those records become DEBUG (shown
    with KESU_LOG_LEVEL=DEBUG); what a run did is logged by the job itself when it did
    something (`deliveries: …`, `sweep: …`). Failures, retries and cancellations keep arq's
    level."""

    _ROUTINE = ("%6.2fs → ", "%6.2fs ← ", "recording health: ", "HTTP Request: ")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith(self._ROUTINE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_ROUTINE_FILTER = RoutineJobsAtDebug()


def quiet_routine_jobs() -> None:
    """Demote arq's per-job lines and httpx's per-request lines to DEBUG (`RoutineJobsAtDebug`),
    once per process."""
    for name in ("arq.worker", "httpx"):
        logger = logging.getLogger(name)
        if _ROUTINE_FILTER not in logger.filters:
            logger.addFilter(_ROUTINE_FILTER)


def stack_of(exc: BaseException) -> str:
    """Where `exc` was raised (files, lines, code), without its message."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip("\n")
