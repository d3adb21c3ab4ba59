"""Request dependencies: the database, the clock, the caller, the complaint in the path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from shared.config import Settings
from shared.db.engine import Database
from shared.domain.errors import NotFound


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_now() -> datetime:
    """The request's clock (overridden in tests); the domain itself never reads the clock."""
    return datetime.now(UTC)


def require_json(request: Request) -> None:
    """JSON endpoints refuse other media types with 415 instead of failing to parse them."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if not has_body:
        return
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, detail="Send the body as application/json (UTF-8).")


def complaint_id_path(complaint_id: str) -> uuid.UUID:
    """A malformed id names no complaint: 404, like an unknown one."""
    try:
        return uuid.UUID(complaint_id)
    except ValueError:
        raise NotFound("no such complaint") from None


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
ComplaintIdDep = Annotated[uuid.UUID, Depends(complaint_id_path)]
