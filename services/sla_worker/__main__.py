"""`python -m services.sla_worker`: run one SLA worker until SIGINT/SIGTERM.

`python -m services.sla_worker check` exits 0 when a worker of this deployment has reported
healthy in the last minute (arq's health-check key), 1 otherwise: the container health check.
"""

from __future__ import annotations

import logging
import sys

from arq.worker import check_health, run_worker

from services.sla_worker.worker import WorkerSettings
from shared.config import get_settings


def main(argv: list[str]) -> int:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(name)s %(message)s")
    if argv == ["check"]:
        return check_health(WorkerSettings)  # type: ignore[arg-type]
    if argv:
        print("usage: python -m services.sla_worker [check]", file=sys.stderr)
        return 2
    run_worker(WorkerSettings)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
