"""`POST /api/v1/complaints/{id}/<action>`: one endpoint per lifecycle action, each with its own
typed body, generated from the domain's command table. Every action needs `If-Match`.

(No `from __future__ import annotations` here: the endpoints' annotations name each command
type from the loop, so they must be evaluated when the endpoint is made.)
"""

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Response

from services.intake_api.complaints.actions import act
from services.intake_api.complaints.schemas import ComplaintOut, json_response
from services.intake_api.deps import (
    AuditDep,
    CollabDep,
    ComplaintIdDep,
    CurrentPrincipal,
    require_json,
)
from services.intake_api.etags import etag
from services.intake_api.examples import ACTION_EXAMPLES
from services.intake_api.problems import responses
from shared.domain.handling import COMMANDS, Command
from shared.domain.lifecycle import Action

router = APIRouter(
    prefix="/api/v1/complaints", tags=["handling"], dependencies=[Depends(require_json)]
)

IF_MATCH_DOC = "The complaint's ETag (from GET); a stale one gets 412, none gets 428."
# The same order for every action: what the request is, then who asks, then the state, then the
# rules of this action. A client can rely on it (a 409 means the body and the role were fine).
ERRORS_DOC = """
**Errors**, in the order they are checked (RFC 9457 problem documents):

1. **401** not signed in; **415** not JSON;
2. **422** a malformed body (`/problems/validation`: a missing field, a wrong type, an unknown
   field);
3. **428** no `If-Match`; **404** a complaint you may not see; **412** a stale `If-Match`;
4. **403** a role that may never take this action, or a tier below the complaint's level;
5. **409** an action the complaint's current status does not allow
   (`/problems/invalid-transition`, with `allowed_actions`), or a rule of this action refusing
   it in the complaint's current state (`awaiting-approval`, `closure-requirements` such as
   四不放过, `state-conflict`);
6. **422** a rule refusing this body (`recusal`, an assignee outside the level's tier,
   forbidden phrases …).

What the caller may do now is the complaint's `allowed_actions`: the same checks, dry-run.
"""


def _endpoint(action: Action, command_type: type[Command]) -> Callable[..., Awaitable[Any]]:
    async def endpoint(
        collab: CollabDep,
        audit: AuditDep,
        principal: CurrentPrincipal,
        complaint_id: ComplaintIdDep,
        command: Annotated[
            command_type,  # type: ignore[valid-type]
            Body(
                openapi_examples={
                    action.value: {
                        "summary": (command_type.__doc__ or action.value).split("\n")[0][:60],
                        "value": ACTION_EXAMPLES[action.value],
                    }
                }
            ),
        ],
        if_match: Annotated[str | None, Header(max_length=64, description=IF_MATCH_DOC)] = None,
    ) -> Response:
        out = await act(
            collab,
            principal,
            complaint_id,
            action,
            command,
            if_match=if_match,
            audit=audit,
            present=lambda row, viewer, state: ComplaintOut.from_row(
                row, viewer=viewer, state=state
            ),
        )
        return json_response(out, 200, {"ETag": etag(out.version)})

    # The operationId (`triageComplaint`, `startInvestigationComplaint` …): app.operation_id.
    endpoint.__name__ = f"{action.value}_complaint"
    return endpoint


def summary(action: Action, command_type: type[Command]) -> str:
    """A whole sentence: the action, then the first sentence of the command's docstring."""
    words = action.value.replace("_", " ").capitalize()
    doc = " ".join((command_type.__doc__ or "").split())
    first = re.split(r"(?<=[.。])\s", doc, maxsplit=1)[0].rstrip(".。")
    return f"{words}: {first}." if first else f"{words} (`{action.slug}`) on a complaint."


for _action, _command in COMMANDS.items():
    router.add_api_route(
        f"/{{complaint_id}}/{_action.slug}",
        _endpoint(_action, _command),
        methods=["POST"],
        summary=summary(_action, _command),
        description=(_command.__doc__ or "").strip() + "\n" + ERRORS_DOC,
        response_model=ComplaintOut,
        responses=responses(401, 403, 404, 409, 412, 415, 422, 428, 429),
    )
