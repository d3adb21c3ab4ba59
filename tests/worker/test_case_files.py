"""The yearly case file (案宗, seed 003 「按年度建立案宗」, seed 000 「定期归档和备份」): every case
closed in the year with its full event history, its 《投诉处理单》 and its evidence files, a
SHA-256 manifest, the same bytes when built again, and a verify that catches any change."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.sla_worker.jobs.case_files import build_case_files
from shared.application.case_files import build_year, verify_file
from shared.domain.reference import local_date
from tests.conftest import Staff, make_settings
from tests.support.evidence import Stack, open_stack, png
from tests.support.flow import Flow, drive_to
from tests.support.principals import create_user
from tests.support.servers import Servers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("case-files")


@pytest.fixture(scope="module")
async def stack(own_url: str, test_servers: Servers, files_dir: Path) -> AsyncIterator[Stack]:
    async for s in open_stack(make_settings(own_url, test_servers.redis_url, files_dir=files_dir)):
        yield s


async def _closed_case(stack: Stack, team: Staff, *, evidence: bytes | None) -> Flow:
    created = await stack.register(team.agent.headers)
    flow = Flow(stack.client, created)
    if evidence is not None:
        uploaded = await stack.client.post(
            f"/api/v1/complaints/{flow.id}/attachments",
            files={"file": ("现场照片.png", evidence, "image/png")},
            headers=team.agent.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        await flow.refresh(team.agent.headers)
    return await drive_to(flow, "closed", team)


@pytest.fixture(scope="module")
async def closed(stack: Stack) -> tuple[list[Flow], bytes]:
    team = Staff()
    team.handler_quality = await create_user(
        stack.client, stack.admin, role="handler", department="quality"
    )
    team.manager = await create_user(stack.client, stack.admin, role="manager")
    team.clerk = await create_user(stack.client, stack.admin, role="clerk")
    # The 回访 is recorded by an agent who did not handle the case.
    team.agent = await create_user(stack.client, stack.admin, role="agent", department="service")
    image = png(32, 32)
    flows = [
        await _closed_case(stack, team, evidence=image),
        await _closed_case(stack, team, evidence=None),
    ]
    # An open case is not archived.
    await stack.register(team.agent.headers)
    return flows, image


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        out = {}
        for m in tar.getmembers():
            handle = tar.extractfile(m)
            assert handle is not None
            out[m.name] = handle.read()
        return out


async def test_a_year_of_closed_cases_is_archived_with_a_manifest_seed_003(
    stack: Stack, closed: tuple[list[Flow], bytes], files_dir: Path
) -> None:
    """Seed 003 「按年度建立案宗」: each closed case's events, form and evidence, checksummed."""
    flows, image = closed
    year = local_date(datetime.now(UTC)).year
    built = await build_year(stack.app.state.collab, year)
    assert [(b.period, b.cases) for b in built] == [(str(year), 2)]
    archive = files_dir / built[0].key
    members = _members(archive)
    for flow in flows:
        reference = flow.complaint["reference"]
        events = (
            await stack.client.get(
                f"/api/v1/complaints/{flow.id}/events",
                params={"limit": 200},
                headers=stack.admin,
            )
        ).json()["items"]
        lines = members[f"{reference}/events.jsonl"].decode().splitlines()
        assert [json.loads(line)["type"] for line in lines] == [e["type"] for e in events]
        assert members[f"{reference}/form.pdf"].startswith(b"%PDF")
    first = flows[0].complaint["reference"]
    assert members[f"{first}/evidence/01-现场照片.png"] == image
    manifest = json.loads(members["MANIFEST.json"])
    assert manifest["cases"] == [f.complaint["reference"] for f in flows]
    for entry in manifest["files"]:
        assert hashlib.sha256(members[entry["path"]]).hexdigest() == entry["sha256"]
    # `sha256sum -c` reads the sums file as it is.
    extracted = files_dir / "extracted"
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(extracted, filter="data")
    assert _sha256sum_check(extracted) == 0

    # Built again: byte for byte the same archive.
    again = await build_case_files({"collab": stack.app.state.collab}, year)
    assert again[0]["sha256"] == built[0].sha256
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == built[0].sha256


def _sha256sum_check(folder: Path) -> int:
    return subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder).returncode


def _tampered(source: Path, target: Path, victim: str) -> None:
    with tarfile.open(source, "r:gz") as tar, tarfile.open(target, "w:gz") as out:
        for m in tar.getmembers():
            handle = tar.extractfile(m)
            assert handle is not None
            data = handle.read()
            if m.name.endswith(victim):
                data = data.replace(b"complaint", b"c0mplaint", 1) + b"\n"
                m.size = len(data)
            out.addfile(m, io.BytesIO(data))


def _verify_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.sla_worker.case_files", "verify", "--file", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


async def test_verify_accepts_the_archive_and_catches_a_change(
    stack: Stack, closed: tuple[list[Flow], bytes], files_dir: Path
) -> None:
    year = local_date(datetime.now(UTC)).year
    built = await build_year(stack.app.state.collab, year)
    archive = files_dir / built[0].key
    assert verify_file(archive).ok
    assert _verify_cli(archive).returncode == 0

    changed = files_dir / "changed.tar.gz"
    _tampered(archive, changed, "events.jsonl")
    result = verify_file(changed)
    assert not result.ok
    assert any("events.jsonl" in p for p in result.problems)
    cli = _verify_cli(changed)
    assert cli.returncode == 1
    assert "does not match" in cli.stdout


async def test_a_large_year_is_split_by_month(
    stack: Stack, closed: tuple[list[Flow], bytes]
) -> None:
    year = local_date(datetime.now(UTC)).year
    built = await build_year(stack.app.state.collab, year, month_threshold=1)
    assert [b.period for b in built] == [f"{year}-{m:02d}" for m in range(1, 13)]
    month = local_date(datetime.now(UTC)).month
    assert sum(b.cases for b in built) == 2
    assert built[month - 1].cases == 2
