"""Evidence files (证据附件: photos, receipts, videos, documents) given with a complaint.

Who may add them, which kinds of file are taken (decided from the file's own bytes by the
caller, never from the client's Content-Type), and what a stored name may look like.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from types import MappingProxyType

from shared.domain.access import Principal, Scope
from shared.domain.complaint import ActorKind, ComplaintState
from shared.domain.enums import Role, Status
from shared.domain.errors import Conflict, FieldError, Forbidden, InvalidInput

# The media types taken, by what the file's bytes are, with the extension a download gets.
ALLOWED_MEDIA_TYPES: MappingProxyType[str, str] = MappingProxyType(
    {
        "image/jpeg": "jpg",
        "image/png": "png",
        "image/gif": "gif",
        "image/webp": "webp",
        "image/heic": "heic",
        "image/bmp": "bmp",
        "image/tiff": "tif",
        "application/pdf": "pdf",
        "video/mp4": "mp4",
        "video/quicktime": "mov",
        "application/msword": "doc",
        "application/vnd.ms-excel": "xls",
        "application/vnd.ms-powerpoint": "ppt",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    }
)

# Staff who work complaints may add evidence to those they may read (auditors and admins not).
EVIDENCE_ROLES = frozenset({Role.AGENT, Role.HANDLER, Role.MANAGER, Role.DIRECTOR})
# A closed case is archived as it stands (案宗): no evidence is added after it.
NO_EVIDENCE_STATUSES = frozenset({Status.CLOSED})

MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class EvidenceLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_files: int = 20


def check_may_attach(principal: Principal | None, state: ComplaintState) -> None:
    """Staff of the working roles (the complaint is already known to be visible to them), an
    integration with `complaints:create` on what it created, or the customer (principal None,
    proven by reference and phone). Not on a closed complaint."""
    if principal is not None:
        if principal.kind is ActorKind.INTEGRATION:
            own = state.created_by_kind == ActorKind.INTEGRATION and (
                state.created_by_id == principal.id
            )
            if Scope.COMPLAINTS_CREATE not in principal.scopes or not own:
                raise Forbidden("An integration may add evidence only to what it registered.")
        elif principal.role not in EVIDENCE_ROLES:
            raise Forbidden("Your role may not add evidence.")
    if state.status in NO_EVIDENCE_STATUSES:
        raise Conflict("The complaint is closed: no evidence can be added.")


def check_count(stored: int, limits: EvidenceLimits) -> None:
    if stored >= limits.max_files:
        raise Conflict(f"A complaint takes at most {limits.max_files} evidence files.")


def file_error(message: str) -> InvalidInput:
    return InvalidInput([FieldError(("body", "file"), message)])


def clean_file_name(raw: str | None) -> str:
    """The name shown and given back on download: NFC, no control characters, no path.

    A name with a path separator is refused rather than cut (a client sending `../x` or
    `C:\\x` is either broken or probing)."""
    if raw is None or not raw.strip():
        raise file_error("the file part needs a file name")
    if "/" in raw or "\\" in raw or "\x00" in raw:
        raise file_error("the file name may not contain path separators")
    name = unicodedata.normalize("NFC", raw)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if not name:
        raise file_error("the file name is empty once cleaned")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME_CHARS - len(ext) - 1] + dot + ext) if dot else name[:200]
    return name


def check_media_type(detected: str | None) -> str:
    """The media type from the file's bytes, if it is one we take."""
    if detected is None or detected not in ALLOWED_MEDIA_TYPES:
        allowed = "images, PDF, MP4/MOV video, Word/Excel/PowerPoint documents"
        raise InvalidInput(
            [
                FieldError(
                    ("body", "file"),
                    f"this kind of file is not taken ({detected or 'unknown'}); allowed: {allowed}",
                )
            ]
        )
    return detected
