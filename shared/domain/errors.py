"""Domain exceptions. They carry their meaning; the API maps each to an RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DomainError(Exception):
    """Base class: `title` is a short English summary, `detail` a sentence for people."""

    title = "Domain rule violated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    title = "Conflict"


class PreconditionFailed(DomainError):
    """The client's If-Match no longer names the current version (someone acted first)."""

    title = "Precondition failed"


class PreconditionRequired(DomainError):
    title = "Precondition required"


class Forbidden(DomainError):
    title = "Forbidden"


@dataclass(frozen=True)
class FieldError:
    """One invalid input field, located like pydantic locates them (e.g. body.product.quantity)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a rule needing context (today's date, other rows)."""

    title = "Invalid input"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(e.msg for e in errors) or "invalid input")
        self.errors = tuple(errors)


class Unauthenticated(DomainError):
    """No credentials, or credentials that authenticate no one (401)."""

    title = "Unauthorized"


class NotVisible(NotFound):
    """The record exists but the caller may not see it: answered exactly like NotFound (404),
    and recorded in the audit log as a denied request."""


class RateLimited(DomainError):
    title = "Too Many Requests"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
