"""The lifecycle in the docs page (`/docs`, `/redoc`): the transition table drawn as a Markdown
table and as Mermaid source, both generated from `shared.domain.lifecycle`, so the docs can
never disagree with what the API enforces."""

from __future__ import annotations

from shared.domain.enums import Status
from shared.domain.lifecycle import (
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Relative,
    allowed_actions,
    mermaid_state_diagram,
)


def _target(action: Action) -> str:
    target = TRANSITIONS[action].target
    if target is Relative.SAME:
        return "·"
    if target is Relative.PREVIOUS:
        return "(back to where it paused)"
    return str(target)


def lifecycle_markdown() -> str:
    lines = [
        "### The complaint lifecycle (处理流程)",
        "",
        "Each action is `POST /api/v1/complaints/{id}/<action>` with `If-Match`. An action not",
        "allowed in the current status gets **409** with `allowed_actions`. `·` = the status",
        "stays.",
        "",
        "| status | actions → next status |",
        "|---|---|",
    ]
    for status in Status:
        moves = ", ".join(
            f"`{a.value.replace('_', '-')}` → {_target(a)}" for a in sorted(allowed_actions(status))
        )
        lines.append(f"| **{status.value}** {STATUS_LABELS[status]} | {moves} |")
    lines += [
        "",
        "State diagram (Mermaid source; paste into any Mermaid viewer):",
        "",
        "```mermaid",
        mermaid_state_diagram(include_in_place=False).rstrip(),
        "```",
    ]
    return "\n".join(lines)
