"""What showing a complaint costs now that `allowed_actions` is what the caller may do: every
command's checks dry-run (`shared.domain.handling.available_actions`) on the complaint's state,
for each complaint of an answer (a list page holds up to 200).

    .venv/bin/python bench/presenting.py             # or: make bench
    .venv/bin/python bench/presenting.py --rounds 2000

Pure Python, one core, no database: the example complaint of the OpenAPI document (a phone
complaint with a solution proposed, services/intake_api/response_examples.py), seen by its
handler, a manager and an auditor. Reported, in microseconds per complaint:
- `state_us`: the projection row validated into the domain's state (`state_from_row`);
- `available_actions_us`: the dry run of every command's checks on that state;
- `present_us`: the whole `ComplaintOut.from_row` (state, dry run, masking, names, the model);
- `serialise_us`: `model_dump_json` of the answer, for scale.
Prints a table, then as its LAST line one JSON object with the figures. Never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.intake_api import response_examples as examples
from services.intake_api.complaints.schemas import ComplaintOut, Viewer
from shared.db.complaints import row_from_state, state_from_row
from shared.domain.enums import Role
from shared.domain.handling import Context, available_actions
from shared.domain.rules import Rules


def _per_call_us(fn: Callable[[], Any], rounds: int) -> float:
    """Median over 5 runs of `rounds` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return round(statistics.median(runs), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    _, state = examples._history()
    row = row_from_state(state)
    figures: dict[str, Any] = {"rounds": args.rounds}
    readers = {
        "handler": examples._staff(examples.HANDLER_ID, Role.HANDLER, "quality"),
        "manager": examples._staff(examples.MANAGER_ID, Role.MANAGER, None),
        "auditor": examples._staff(examples.AGENT_ID, Role.AUDITOR, None),
    }
    rules = Rules()
    print(f"{'reader':10} {'state µs':>10} {'actions µs':>11} {'present µs':>11} {'json µs':>9}")
    for name, principal in readers.items():
        viewer = Viewer(principal=principal, rules=rules, now=state.updated_at, names={})
        ctx = Context(principal=principal, now=state.updated_at, rules=rules)
        out = ComplaintOut.from_row(row, viewer=viewer)
        figures[name] = {
            "state_us": _per_call_us(partial(state_from_row, row), args.rounds),
            "available_actions_us": _per_call_us(
                partial(available_actions, state, ctx), args.rounds
            ),
            "present_us": _per_call_us(
                partial(ComplaintOut.from_row, row, viewer=viewer), args.rounds
            ),
            "serialise_us": _per_call_us(out.model_dump_json, args.rounds),
            "allowed_actions": len(out.allowed_actions),
        }
        f = figures[name]
        print(
            f"{name:10} {f['state_us']:>10} {f['available_actions_us']:>11} "
            f"{f['present_us']:>11} {f['serialise_us']:>9}"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
