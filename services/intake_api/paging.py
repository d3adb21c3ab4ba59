"""The one shape of every list: `{items, next_cursor}` and, when asked (`count=true`), `total`.

A cursor is opaque to clients (base64 of JSON): pass `next_cursor` back as `cursor` for the
next page; it is null on the last page."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Annotated, Any, Generic, Self, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.domain.errors import FieldError, InvalidInput

T = TypeVar("T")
CURSOR_DOC = "The previous page's `next_cursor`; none for the first page"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page"
    )
    total: int | None = Field(
        default=None, description="How many match, over all pages: only with `count=true`"
    )

    @classmethod
    def of_all(cls, items: Sequence[T], query: PageQuery) -> Self:
        """A page of a list read whole: configuration of a few dozen rows (departments,
        calendars, rule sets …), paged by position so every list answers the same shape."""
        start = 0
        if query.cursor is not None:
            start = decode_cursor(query.cursor).get("o", -1)
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise InvalidInput([FieldError(("query", "cursor"), INVALID_CURSOR)])
        end = start + query.limit
        return cls(
            items=list(items[start:end]),
            next_cursor=encode_cursor({"o": end}) if end < len(items) else None,
            total=len(items) if query.count else None,
        )


class PageQuery(BaseModel):
    """The paging part of a list's query."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(default=None, max_length=200, description=CURSOR_DOC)
    limit: int = Field(default=50, ge=1, le=200)
    count: bool = Field(default=False, description="Also count the matches (`total`)")


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


INVALID_CURSOR = "invalid cursor: pass the next_cursor of the previous page"


def int_cursor(query: PageQuery, key: str) -> int | None:
    """The row id a keyset cursor names (e.g. the last id of a page read newest first)."""
    if query.cursor is None:
        return None
    value = decode_cursor(query.cursor).get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise InvalidInput([FieldError(("query", "cursor"), INVALID_CURSOR)])
    return value


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor names: 422 for anything `encode_cursor` did not write."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidInput([FieldError(("query", "cursor"), INVALID_CURSOR)])
    return data


async def page_query(
    cursor: Annotated[str | None, Query(max_length=200, description=CURSOR_DOC)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    count: Annotated[bool, Query(description="Also count the matches (`total`)")] = False,
) -> PageQuery:
    """The paging parameters of a list whose other parameters are not a query model."""
    return PageQuery(cursor=cursor, limit=limit, count=count)


# The paging of a list: `cursor`, `limit`, `count`.
PagingDep = Annotated[PageQuery, Depends(page_query)]
