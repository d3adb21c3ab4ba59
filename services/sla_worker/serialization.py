"""arq job (de)serialisation with msgpack, never pickle: jobs carry only ids and plain values."""

from __future__ import annotations

from typing import Any

import msgpack


def serialize(value: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(value, datetime=True)
    return packed


def deserialize(value: bytes) -> dict[str, Any]:
    data: dict[str, Any] = msgpack.unpackb(value, timestamp=3)
    return data
