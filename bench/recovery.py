"""`make run` under faults: the time to healthy after a SIGKILL of each of its processes.

    .venv/bin/python bench/recovery.py            # or: make bench
    .venv/bin/python bench/recovery.py --rounds 3

Starts `python -m services.devstack run` on embedded servers in a temporary data directory
(never the servers named by DATABASE_URL / REDIS_URL), then, one after another while an
integration registers complaints back to back (each Idempotency-Key retried until a 2xx answer),
SIGKILLs the SLA worker, the API, the embedded PostgreSQL's postmaster and the embedded Redis.

Time to healthy = from the kill until /readyz is ready again and, after the last moment
anything was seen broken, a registration was acknowledged and a worker wrote its heartbeat and
finished a deadline sweep (tests/support/stack.py). `lost`: acknowledged registrations missing
from GET /api/v1/complaints; `duplicated`: complaints listed beyond one per acknowledged key.
With `--rounds` > 1 the figures are medians (lost and duplicated: totals). Prints a table, then
as its LAST line one JSON object. Figures are never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import statistics
import tempfile

from tests.support.stack import TARGETS, DevStack, Recovery, kill_under_load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="kills of each part")
    args = parser.parse_args()
    results: dict[str, list[Recovery]] = {target: [] for target in TARGETS}
    with tempfile.TemporaryDirectory(prefix="kesu-recovery-") as tmp:
        stack = DevStack(Path(tmp) / "data")
        stack.start()
        try:
            for _ in range(args.rounds):
                for target in TARGETS:
                    recovery = kill_under_load(stack, target)
                    results[target].append(recovery)
                    print(
                        f"{target:<9} healthy in {recovery.seconds:5.2f} s   "
                        f"acknowledged {recovery.acknowledged:4d}   listed {recovery.listed:4d}   "
                        f"lost {recovery.lost}   duplicated {recovery.duplicated}   "
                        f"failed attempts {recovery.failed_attempts}",
                        flush=True,
                    )
        finally:
            stack.stop()
    every = [r for rs in results.values() for r in rs]
    figures: dict[str, float | int] = {
        f"recovery_s_{target}": round(statistics.median(r.seconds for r in rs), 2)
        for target, rs in results.items()
    }
    figures["acknowledged"] = sum(r.acknowledged for r in every)
    figures["lost"] = sum(r.lost for r in every)
    figures["duplicated"] = sum(r.duplicated for r in every)
    figures["refused"] = sum(len(r.refused) for r in every)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
