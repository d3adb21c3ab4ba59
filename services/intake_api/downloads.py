"""Headers of file answers (evidence, the printed form, the 台帐 export)."""

from __future__ import annotations

import re
import urllib.parse

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(file_name: str, *, inline: bool = False) -> str:
    """RFC 6266: a Chinese name as `filename*` (UTF-8, percent-encoded) with an ASCII
    fallback for old clients."""
    fallback = _UNSAFE_ASCII.sub("_", file_name).strip("_") or "download"
    encoded = urllib.parse.quote(file_name, safe="")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def file_headers(file_name: str, *, inline: bool = False) -> dict[str, str]:
    return {
        "Content-Disposition": content_disposition(file_name, inline=inline),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
