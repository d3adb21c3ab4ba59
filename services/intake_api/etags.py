"""ETags and If-Match for versioned resources (complaints, SLA policies, rule sets): the ETag is
the version in quotes (`"7"`), and If-Match names the version a change was computed from."""

from __future__ import annotations

from shared.domain.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def _version(value: str) -> int | None:
    tag = value.strip().removeprefix("W/").strip('"')
    return int(tag) if tag.isdigit() else None


def optional_version(value: str | None, what: str) -> int | None:
    """The version If-Match names; None when absent or `*` (no check); 412 when unusable."""
    if value is None or value.strip() == "*":
        return None
    version = _version(value)
    if version is None:
        raise PreconditionFailed(f'If-Match must be the {what}\'s ETag, e.g. "3"')
    return version


def required_version(value: str | None, what: str) -> int:
    """The version If-Match names (`"7"` or `W/"7"`); 428 when absent or unusable."""
    if not value:
        raise PreconditionRequired(
            f"Send If-Match with the ETag of the {what} you acted on (GET it first)."
        )
    version = _version(value)
    if version is None:
        raise PreconditionRequired(f'If-Match must be the {what}\'s ETag, e.g. "3".')
    return version
