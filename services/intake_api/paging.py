"""The one shape of every list: `{items, next_cursor}` and, when asked (`count=true`), `total`.

A cursor is opaque to clients (base64 of JSON): pass `next_cursor` back as `cursor` for the
next page; it is null on the last page."""

from __future__ import annotations

import base64
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.domain.errors import FieldError, InvalidInput

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page"
    )
    total: int | None = Field(
        default=None, description="How many match, over all pages: only with `count=true`"
    )


class PageQuery(BaseModel):
    """The paging part of a list's query."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)
    count: bool = Field(default=False, description="Also count the matches (`total`)")


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor names: 422 for anything `encode_cursor` did not write."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidInput([FieldError(("query", "cursor"), "invalid cursor: pass next_cursor")])
    return data
