"""Receiving one multipart/form-data upload as a stream (never whole in memory).

The file part is written to a temporary file in the staging directory as it arrives, hashed
(SHA-256) and counted on the way; its first bytes are kept for the type check. Past the size
limit, on a truncated body or a dropped connection the temporary file is removed and nothing
is stored. Small text fields (reference, phone) are collected up to a few hundred bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from shared.domain.errors import FieldError, InvalidInput

HEAD_BYTES = 8192  # what the type check reads (filetype looks at no more)
MAX_FIELD_BYTES = 512
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([^']*)'[^']*'([^;\s]+)", re.IGNORECASE)
# The name as sent: python-multipart cuts Windows paths (C:\x\y.png → y.png), and a name with
# a path separator must be refused, not silently cut.
_FILENAME = re.compile(rb'(?:^|;)\s*filename\s*=\s*(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)


def _bad(message: str, loc: str = "body") -> InvalidInput:
    return InvalidInput([FieldError((loc,), message)])


@dataclass
class ReceivedFile:
    path: Path
    raw_name: str | None
    size: int = 0
    head: bytes = b""
    sha256: str = ""


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None


class _Receiver:
    def __init__(self, staging: Path, max_bytes: int) -> None:
        self.staging = staging
        self.max_bytes = max_bytes
        self.form = ReceivedForm()
        self.done = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._field_name: str | None = None
        self._field_value = bytearray()
        self._handle: IO[bytes] | None = None
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._in_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.part_begin,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._field_name = None
        self._field_value = bytearray()
        self._in_file = False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_name: str | None = None
        star = _FILENAME_STAR.search(disposition.decode("latin-1"))
        if star:
            raw_name = urllib.parse.unquote(star.group(2), encoding=star.group(1) or "utf-8")
        elif plain := _FILENAME.search(disposition):
            raw_name = (plain.group(1) or plain.group(2) or b"").decode("utf-8", "replace")
        if raw_name is not None or name == "file":
            if self.form.file is not None:
                raise _bad("send one file per request")
            fd, path = tempfile.mkstemp(dir=self.staging, prefix="upload-")
            self._handle = os.fdopen(fd, "wb")
            self.form.file = ReceivedFile(path=Path(path), raw_name=raw_name)
            self._in_file = True
        else:
            self._field_name = name

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._in_file:
            received = self.form.file
            assert received is not None
            assert self._handle is not None
            received.size += len(chunk)
            if received.size > self.max_bytes:
                raise HTTPException(
                    413, detail=f"The file exceeds {self.max_bytes} bytes (the upload limit)."
                )
            if len(self._head) < HEAD_BYTES:
                self._head += chunk[: HEAD_BYTES - len(self._head)]
            self._hash.update(chunk)
            self._handle.write(chunk)
        else:
            self._field_value += chunk
            if len(self._field_value) > MAX_FIELD_BYTES:
                raise _bad(f"the field {self._field_name!r} is too long")

    def part_end(self) -> None:
        if self._in_file:
            assert self._handle is not None
            assert self.form.file is not None
            self._handle.close()
            self._handle = None
            self.form.file.head = bytes(self._head)
            self.form.file.sha256 = self._hash.hexdigest()
            self._in_file = False
        elif self._field_name:
            try:
                self.form.fields[self._field_name] = self._field_value.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad(f"the field {self._field_name!r} is not UTF-8") from None

    def end(self) -> None:
        self.done = True

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self.form.file is not None:
            self.form.file.path.unlink(missing_ok=True)


@asynccontextmanager
async def received_upload(
    request: Request, *, staging: Path, max_bytes: int
) -> AsyncIterator[ReceivedForm]:
    """The request's multipart form, its file in a temporary file that is removed when the
    block ends (the caller has stored a copy by then, or failed)."""
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise HTTPException(415, detail="Send the file as multipart/form-data (field `file`).")
    receiver = _Receiver(staging, max_bytes)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    try:
        try:
            async for chunk in request.stream():
                if chunk:
                    parser.write(chunk)
        except ClientDisconnect:
            raise _bad("the upload was interrupted") from None
        except (InvalidInput, HTTPException):
            raise
        except Exception as exc:  # python-multipart's MultipartParseError and kin
            raise _bad(f"malformed multipart body: {exc}") from None
        if not receiver.done:
            raise _bad("the multipart body is truncated (no closing boundary)")
        yield receiver.form
    finally:
        receiver.discard()
