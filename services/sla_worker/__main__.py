"""`python -m services.sla_worker`: run one SLA worker until SIGINT/SIGTERM.

`python -m services.sla_worker check` exits 0 when a live worker process of this host (in a
container: this container) recorded its health in arq's last interval, 1 otherwise: the
container health check. Replicas elsewhere do not make this one healthy.

A Redis outage longer than the connection's retries can still surface from inside arq (a lost
connection in its job polling is not caught there): the worker then starts again after a pause
instead of exiting, so `make run` and single-host deployments keep sweeping once Redis is back.
PostgreSQL holds everything owed, so nothing is lost across the restart.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from types import FrameType

from arq.worker import run_worker
from redis.exceptions import RedisError

from services.sla_worker.logs import protect_handlers, quiet_routine_jobs, worker_logger
from services.sla_worker.worker import check_health, worker_settings
from shared.config import get_settings

log = worker_logger("kesu.worker")
RESTART_PAUSE_SECONDS = (1, 2, 5, 10)


def main(argv: list[str]) -> int:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    protect_handlers()  # arq's and shared code's records too, not only the worker's loggers
    quiet_routine_jobs()  # an idle worker is quiet at INFO
    if argv == ["check"]:
        return asyncio.run(check_health(settings))
    if argv:
        print("usage: python -m services.sla_worker [check]", file=sys.stderr)
        return 2
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt  # interrupts a pause between restarts

    failures = 0
    while not stopping:
        try:
            run_worker(worker_settings(settings))  # a fresh ctx for each start
            return 0  # stopped by a signal, gracefully
        except (RedisError, OSError) as exc:
            pause = RESTART_PAUSE_SECONDS[min(failures, len(RESTART_PAUSE_SECONDS) - 1)]
            failures += 1
            log.warning("worker lost Redis (%s); starting again in %ss", type(exc).__name__, pause)
            previous = (signal.signal(signal.SIGTERM, stop), signal.signal(signal.SIGINT, stop))
            try:
                time.sleep(pause)
            except KeyboardInterrupt:
                return 0
            finally:
                signal.signal(signal.SIGTERM, previous[0])
                signal.signal(signal.SIGINT, previous[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
