"""Object storage for evidence files (证据附件) and the yearly case files (案宗).

A small interface with two implementations: the filesystem under the data directory (what
`make run` uses) and any S3-compatible store (`KESU_S3_*`: AWS S3, MinIO, SeaweedFS, …).
Objects are written whole from a local file (the upload was streamed to a temporary file
first, hashed and checked on the way) and read back as a stream of chunks, never whole.

Keys are ours (`evidence/<complaint id>/<attachment id>`, `archives/<year>/…`), never a
client's file name, so no key can climb out of the storage root.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread

from shared.config import Settings

CHUNK = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectMissing(Exception):
    """No object under this key."""


class StorageUnavailable(Exception):
    """The store cannot be written or reached (a read-only directory, an S3 outage): the API
    answers 503, nothing is recorded."""


log = logging.getLogger("kesu.storage")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    """Where files are kept. Every method takes one of our keys (`check_key`)."""

    name: str

    async def prepare(self) -> None:
        """Make the place ready (the directory, the bucket); called when a process starts."""

    async def put_file(self, key: str, path: Path, media_type: str) -> None:
        """Store the local file under `key` (replacing any object there)."""

    def chunks(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, chunk by chunk (raises `ObjectMissing`)."""

    async def get_file(self, key: str, path: Path) -> None:
        """Copy the object to a local file (raises `ObjectMissing`)."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is no error."""

    def listed(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        """The keys under `prefix` with the time each object was last written."""


class FileStorage:
    """Objects as files under `root`, each written to a temporary name and renamed into place
    (a reader never sees half a file)."""

    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root

    async def prepare(self) -> None:
        """Nothing at start-up: directories are made when the first file is written, so a
        read-only container without a files volume starts (its uploads answer 503)."""

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put_file(self, key: str, path: Path, media_type: str) -> None:
        target = self._path(key)

        def copy() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            try:
                shutil.copyfile(path, partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(copy)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        async with handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    async def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        try:
            await anyio.to_thread.run_sync(shutil.copyfile, source, path)
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).is_file()

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)

    async def listed(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        base = self.root / check_key(prefix)

        def walk() -> list[tuple[str, datetime]]:
            if not base.is_dir():
                return []
            return [
                (
                    path.relative_to(self.root).as_posix(),
                    datetime.fromtimestamp(path.stat().st_mtime, UTC),
                )
                for path in sorted(base.rglob("*"))
                if path.is_file() and not path.name.startswith(".")
            ]

        for item in await anyio.to_thread.run_sync(walk):
            yield item


class S3Storage:
    """Objects in a bucket of an S3-compatible store (boto3, run in worker threads)."""

    name = "s3"

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
    ) -> None:
        import boto3  # only processes configured for S3 pay for importing it
        from botocore.config import Config

        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    async def prepare(self) -> None:
        def create() -> None:
            from botocore.exceptions import ClientError

            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self.client.create_bucket(Bucket=self.bucket)

        try:
            await anyio.to_thread.run_sync(create)
        except Exception as exc:
            log.warning("S3 bucket %s not reachable at start-up: %s", self.bucket, exc)

    async def put_file(self, key: str, path: Path, media_type: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.client.upload_file(
                str(path), self.bucket, check_key(key), ExtraArgs={"ContentType": media_type}
            )
        )

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "404", "NotFound")

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = await anyio.to_thread.run_sync(
                lambda: self.client.get_object(Bucket=self.bucket, Key=check_key(key))
            )
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(key) from None
            raise
        body = answer["Body"]
        try:
            while chunk := await anyio.to_thread.run_sync(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def get_file(self, key: str, path: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            await anyio.to_thread.run_sync(
                lambda: self.client.download_file(self.bucket, check_key(key), str(path))
            )
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(key) from None
            raise

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await anyio.to_thread.run_sync(
                lambda: self.client.head_object(Bucket=self.bucket, Key=check_key(key))
            )
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        )

    async def listed(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        def page(token: str | None) -> dict[str, Any]:
            args = {"Bucket": self.bucket, "Prefix": check_key(prefix) + "/"}
            if token:
                args["ContinuationToken"] = token
            answer: dict[str, Any] = self.client.list_objects_v2(**args)
            return answer

        token: str | None = None
        while True:
            answer = await anyio.to_thread.run_sync(page, token)
            for item in answer.get("Contents", []):
                yield item["Key"], item["LastModified"]
            token = answer.get("NextContinuationToken")
            if not token:
                return


def build_storage(settings: Settings) -> Storage:
    """S3 when `KESU_S3_ENDPOINT_URL` is set, else files under `KESU_FILES_DIR` (default
    `<data dir>/files`)."""
    if settings.s3_endpoint_url:
        secret = settings.s3_secret_access_key
        return S3Storage(
            endpoint_url=settings.s3_endpoint_url,
            bucket=settings.s3_bucket,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.s3_region,
        )
    return FileStorage(settings.files_dir or settings.data_dir / "files")


def staging_dir(settings: Settings) -> Path:
    """Where uploads are streamed before they are stored (local disk, never memory): inside
    the files directory (a hidden folder no key can name) or, with S3, the temporary folder."""
    if settings.s3_endpoint_url:
        path = Path(tempfile.gettempdir()) / "kesu-incoming"
    else:
        path = (settings.files_dir or settings.data_dir / "files") / ".incoming"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageUnavailable(f"uploads cannot be staged in {path}") from exc
    return path
