"""`python -m services.sla_worker`: run one SLA worker until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

from arq.worker import run_worker

from services.sla_worker.worker import WorkerSettings
from shared.config import get_settings


def main() -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(name)s %(message)s")
    run_worker(WorkerSettings)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
