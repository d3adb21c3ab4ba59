"""The yearly case file (案宗, seed 003 「按年度建立案宗」; seed 000 「定期归档和备份」).

For a year (Asia/Shanghai), every complaint closed in it goes into one archive — a `.tar.gz`
per year, or per month when the year holds more than `month_threshold` cases — written to the
object storage (shared.storage) under `case-files/<year>/`. Each case is a folder named by its
受理号:

    KS-20260314-000042/events.jsonl     the full event history, one JSON object a line
    KS-20260314-000042/form.pdf         its 《投诉处理单》 (contact data in clear: the record)
    KS-20260314-000042/evidence/01-<file name>   each evidence file, as uploaded
    MANIFEST.json, SHA256SUMS           each file's SHA-256 and size (`sha256sum -c SHA256SUMS`)

Re-running gives the same bytes: cases and files in a fixed order, every tar header with the
same owner, mode and time (the end of the period), gzip without a time or name, the PDF without
a creation time (reportlab's invariant mode), JSON with sorted keys. `verify` reads an archive
back and checks every file against the manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from shared.application.bootstrap import Collaborators
from shared.application.forms import print_form
from shared.db import complaints as repo
from shared.db import evidence as evidence_repo
from shared.db.engine import json_default
from shared.documents.labels import SHANGHAI
from shared.storage import Storage

PREFIX = "case-files"
MANIFEST = "MANIFEST.json"
SUMS = "SHA256SUMS"
MONTH_THRESHOLD = 10_000  # cases in a year above which the year is split by month
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Period:
    year: int
    month: int | None = None  # None: the whole year

    @property
    def label(self) -> str:
        return f"{self.year}" if self.month is None else f"{self.year}-{self.month:02d}"

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC of the period's Asia/Shanghai days."""
        if self.month is None:
            start, end = date(self.year, 1, 1), date(self.year + 1, 1, 1)
        else:
            start = date(self.year, self.month, 1)
            end = date(self.year + (self.month == 12), self.month % 12 + 1, 1)
        return _local_midnight(start), _local_midnight(end)

    @property
    def key(self) -> str:
        return f"{PREFIX}/{self.year}/kesu-case-files-{self.label}.tar.gz"


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


@dataclass
class Built:
    key: str
    period: str
    cases: int
    files: int
    bytes: int
    sha256: str


@dataclass
class Verified:
    ok: bool
    files: int = 0
    problems: list[str] = field(default_factory=list)


def _json_line(value: Any) -> bytes:
    return orjson.dumps(value, default=json_default, option=orjson.OPT_SORT_KEYS) + b"\n"


def _safe(name: str) -> str:
    """A stored file name as a path part (names were cleaned at upload; no separators)."""
    cleaned = unicodedata.normalize("NFC", name).replace("/", "_").replace("\\", "_")
    return cleaned.strip(". ") or "file"


class _Writer:
    """A deterministic tar.gz: fixed headers, members in the order added, the manifest last."""

    def __init__(self, out: IO[bytes], mtime: int) -> None:
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6)
        self.tar = tarfile.open(fileobj=self.gz, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.mtime = mtime
        self.entries: list[dict[str, Any]] = []

    def _info(self, path: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(path)
        info.size = size
        info.mtime = self.mtime
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def add_bytes(self, path: str, data: bytes, *, listed: bool = True) -> None:
        self.tar.addfile(self._info(path, len(data)), io.BytesIO(data))
        if listed:
            self.entries.append(
                {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            )

    def add_file(self, path: str, source: Path) -> str:
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        size = source.stat().st_size
        with source.open("rb") as handle:
            self.tar.addfile(self._info(path, size), handle)
        self.entries.append({"path": path, "size": size, "sha256": digest.hexdigest()})
        return digest.hexdigest()

    def close(self, period: Period, cases: list[str]) -> None:
        manifest = {
            "archive": "kesu-case-files",
            "period": period.label,
            "cases": cases,
            "files": self.entries,
        }
        self.add_bytes(
            MANIFEST,
            orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
            listed=False,
        )
        sums = "".join(f"{e['sha256']}  {e['path']}\n" for e in self.entries)
        self.add_bytes(SUMS, sums.encode(), listed=False)
        self.tar.close()
        self.gz.close()


def periods_for(year: int, cases: int, *, month_threshold: int = MONTH_THRESHOLD) -> list[Period]:
    if cases > month_threshold:
        return [Period(year, m) for m in range(1, 13)]
    return [Period(year)]


async def build_year(
    collab: Collaborators, year: int, *, month_threshold: int = MONTH_THRESHOLD
) -> list[Built]:
    """Build (or build again, byte for byte the same) the year's case files in storage."""
    year_period = Period(year)
    async with collab.db.connect() as conn:
        closed = await repo.closed_between(conn, *year_period.bounds())
    return [
        await build_period(collab, period)
        for period in periods_for(year, len(closed), month_threshold=month_threshold)
    ]


async def build_period(collab: Collaborators, period: Period) -> Built:
    storage = collab.require_storage()
    settings = collab.require_settings()
    since, until = period.bounds()
    with tempfile.TemporaryDirectory(prefix="kesu-case-files-") as tmp:
        target = Path(tmp) / "archive.tar.gz"
        cases: list[str] = []
        with target.open("wb") as out:
            writer = _Writer(out, mtime=int(until.timestamp()))
            async with collab.db.connect() as conn:
                closed = await repo.closed_between(conn, since, until)
                for case in closed:
                    row = await repo.get_row(conn, case["id"])
                    assert row is not None
                    await _add_case(conn, writer, storage, row, Path(tmp), settings.company_name)
                    cases.append(row["reference"])
            writer.close(period, cases)
        await storage.put_file(period.key, target, "application/gzip")
        data_hash = hashlib.sha256()
        with target.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                data_hash.update(chunk)
        return Built(
            key=period.key,
            period=period.label,
            cases=len(cases),
            files=len(writer.entries),
            bytes=target.stat().st_size,
            sha256=data_hash.hexdigest(),
        )


async def _add_case(
    conn: Any,
    writer: _Writer,
    storage: Storage,
    row: dict[str, Any],
    tmp: Path,
    company_name: str,
) -> None:
    folder = row["reference"]
    events = await repo.event_rows(conn, row["id"])
    writer.add_bytes(
        f"{folder}/events.jsonl",
        b"".join(_json_line({k: v for k, v in e.items() if k != "id"}) for e in events),
    )
    pdf = await print_form(
        conn, row, contact_visible=True, company_name=company_name, printed_at=None
    )
    writer.add_bytes(f"{folder}/form.pdf", pdf)
    for number, f in enumerate(await evidence_repo.list_for_complaint(conn, row["id"]), 1):
        local = tmp / "evidence"
        await storage.get_file(f["storage_key"], local)
        digest = writer.add_file(f"{folder}/evidence/{number:02d}-{_safe(f['file_name'])}", local)
        local.unlink()
        if digest != f["sha256"]:
            raise ValueError(
                f"evidence {f['id']} of {folder} does not match its SHA-256 in the database"
            )


def verify_file(path: Path) -> Verified:
    """Every file of the archive against its manifest: present, same size, same SHA-256; and
    nothing in the archive that the manifest does not list."""
    result = Verified(ok=True)
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            if MANIFEST not in members:
                return Verified(ok=False, problems=[f"no {MANIFEST} in the archive"])
            manifest_file = tar.extractfile(members[MANIFEST])
            assert manifest_file is not None
            manifest = json.loads(manifest_file.read())
            listed = {e["path"]: e for e in manifest["files"]}
            for name in sorted(set(members) - set(listed) - {MANIFEST, SUMS}):
                result.problems.append(f"{name}: in the archive but not in the manifest")
            for name, entry in listed.items():
                member = members.get(name)
                if member is None:
                    result.problems.append(f"{name}: listed in the manifest but missing")
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                digest = hashlib.sha256()
                for chunk in _chunks(handle):
                    digest.update(chunk)
                if member.size != entry["size"] or digest.hexdigest() != entry["sha256"]:
                    result.problems.append(f"{name}: checksum or size does not match")
                result.files += 1
    except (tarfile.TarError, OSError, EOFError, ValueError, KeyError) as exc:
        return Verified(ok=False, problems=[f"unreadable archive: {exc}"])
    result.ok = not result.problems
    return result


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk


async def verify_key(storage: Storage, key: str) -> Verified:
    with tempfile.TemporaryDirectory(prefix="kesu-case-files-") as tmp:
        local = Path(tmp) / "archive.tar.gz"
        await storage.get_file(key, local)
        return verify_file(local)
