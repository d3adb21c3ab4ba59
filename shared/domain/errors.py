"""Domain exceptions. They carry their meaning; the API maps each to an RFC 9457 problem.

Every kind of refusal has a stable `code` (kebab-case, part of the API: a console switches on
it) and the problem `type` `/problems/<code>`; the API adds the status and the words in English
or Chinese (services/intake_api/problem_catalog.py). A subclass names a more specific refusal
of its parent's kind (a `TierTooLow` is a `Forbidden`), so a handler of the parent still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DomainError(Exception):
    """Base class: `title` is a short English summary, `detail` a sentence for people, `code`
    the stable name of the kind of refusal."""

    title = "Domain rule violated"
    code = "domain-rule"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    title = "Not found"
    code = "not-found"


class Conflict(DomainError):
    """The request is fine but the record's current state refuses it (409)."""

    title = "Conflict"
    code = "conflict"


class StateConflict(Conflict):
    """A rule of the action refuses it in the complaint's current state (not its status): the
    customer has not agreed yet, the solution is implemented already, level 3 cannot go higher
    … Acting again once the state changes may succeed."""

    title = "Not possible in the complaint's current state"
    code = "state-conflict"


class AwaitingApproval(StateConflict):
    """The solution needs its approval (审批) before this action."""

    title = "Awaiting approval"
    code = "awaiting-approval"


class ClosureRequirements(StateConflict):
    """结案 refused: what closing requires is missing (四不放过: root cause, corrective
    actions verified, the survey, the regulator's reply)."""

    title = "Closure requirements not met"
    code = "closure-requirements"


class PreconditionFailed(DomainError):
    """The client's If-Match no longer names the current version (someone acted first)."""

    title = "Precondition failed"
    code = "stale-version"


class PreconditionRequired(DomainError):
    title = "Precondition required"
    code = "if-match-required"


class Forbidden(DomainError):
    title = "Forbidden"
    code = "forbidden"


class WrongRole(Forbidden):
    """The caller's role never takes this action."""

    title = "Not for your role"
    code = "wrong-role"


class TierTooLow(Forbidden):
    """The caller's tier (一级/二级/三级受理人) is below what the complaint's level or the
    solution's amount needs."""

    title = "Tier too low"
    code = "tier-too-low"


class FourEyes(Forbidden):
    """A solution is approved by someone other than its proposer (四眼原则)."""

    title = "Approval by someone else"
    code = "four-eyes"


@dataclass(frozen=True)
class FieldError:
    """One invalid input field, located like pydantic locates them (e.g. body.product.quantity)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a rule needing context (today's date, other rows)."""

    title = "Invalid input"
    code = "validation"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(e.msg for e in errors) or "invalid input")
        self.errors = tuple(errors)


class Recusal(InvalidInput):
    """The staff member a complaint is about cannot be given it (回避)."""

    title = "Recusal"
    code = "recusal"


class Unauthenticated(DomainError):
    """No credentials, or credentials that authenticate no one (401)."""

    title = "Unauthorized"
    code = "unauthenticated"


class NotVisible(NotFound):
    """The record exists but the caller may not see it: answered exactly like NotFound (404),
    and recorded in the audit log as a denied request."""


class RateLimited(DomainError):
    title = "Too Many Requests"
    code = "rate-limited"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
