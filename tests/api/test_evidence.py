"""Evidence uploads (证据附件, SPEC §1): streamed, typed by their bytes, hashed, recorded by an
event, downloadable by those who may read the complaint (audited), nothing half-stored — on
the filesystem and on a real S3-compatible server (SeaweedFS)."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest

from shared.application.evidence_orphans import remove_orphans
from tests.conftest import make_settings
from tests.support.evidence import PDF, Stack, open_stack, png
from tests.support.factories import complaint_body
from tests.support.s3 import seaweed_s3
from tests.support.servers import Servers

LIMIT = 300_000  # a small upload limit, so the oversized case stays cheap


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
async def fs(own_url: str, test_servers: Servers, files_dir: Path) -> AsyncIterator[Stack]:
    settings = make_settings(
        own_url, test_servers.redis_url, files_dir=files_dir, upload_max_bytes=LIMIT
    )
    async for stack in open_stack(settings):
        yield stack


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with seaweed_s3(tmp_path_factory.mktemp("seaweed")) as url:
        yield url


@pytest.fixture(scope="module")
async def s3(own_url: str, test_servers: Servers, s3_url: str) -> AsyncIterator[Stack]:
    settings = make_settings(
        own_url,
        test_servers.redis_url,
        s3_endpoint_url=s3_url,
        s3_bucket="kesu-evidence",
        s3_access_key_id="any",
        s3_secret_access_key="any-secret",
        upload_max_bytes=LIMIT,
    )
    async for stack in open_stack(settings):
        yield stack


def _stored_files(files_dir: Path) -> list[Path]:
    return (
        [p for p in (files_dir / "evidence").rglob("*") if p.is_file()]
        if (files_dir / "evidence").exists()
        else []
    )


async def _upload(
    stack: Stack,
    complaint_id: str,
    headers: dict[str, str],
    content: bytes,
    name: str = "发票照片.png",
    claimed: str = "image/png",
) -> httpx.Response:
    return await stack.client.post(
        f"/api/v1/complaints/{complaint_id}/attachments",
        files={"file": (name, content, claimed)},
        headers=headers,
    )


async def test_staff_upload_is_hashed_recorded_listed_and_downloaded_with_audit(
    fs: Stack, files_dir: Path
) -> None:
    complaint = await fs.register(fs.agent.headers)
    image = png()
    answer = await _upload(fs, complaint["id"], fs.agent.headers, image, claimed="text/plain")
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    # The type comes from the bytes, not the claimed text/plain.
    assert stored["media_type"] == "image/png"
    assert stored["sha256"] == hashlib.sha256(image).hexdigest()
    assert stored["size_bytes"] == len(image)
    assert stored["file_name"] == "发票照片.png"

    events = (
        await fs.client.get(
            f"/api/v1/complaints/{complaint['id']}/events", headers=fs.agent.headers
        )
    ).json()["items"]
    attached = [e for e in events if e["type"] == "complaint.evidence_attached"]
    assert len(attached) == 1
    assert attached[0]["payload"]["sha256"] == stored["sha256"]

    listed = (
        await fs.client.get(
            f"/api/v1/complaints/{complaint['id']}/attachments", headers=fs.agent.headers
        )
    ).json()["items"]
    assert [f["id"] for f in listed] == [stored["id"]]

    got = await fs.client.get(
        f"/api/v1/complaints/{complaint['id']}/attachments/{stored['id']}",
        headers=fs.auditor.headers,
    )
    assert got.status_code == 200
    assert got.content == image
    assert got.headers["content-type"] == "image/png"
    assert "filename*=UTF-8''%E5%8F%91%E7%A5%A8" in got.headers["content-disposition"]
    audited = await fs.rows(
        "SELECT actor_id, details FROM audit_events WHERE action = 'evidence.download' "
        "AND target_id = :t",
        t=complaint["id"],
    )
    assert [(a["actor_id"], a["details"]["attachment_id"]) for a in audited] == [
        (fs.auditor.id, stored["id"])
    ]
    assert len(_stored_files(files_dir)) >= 1


async def test_a_pdf_and_an_office_document_are_taken(fs: Stack) -> None:
    complaint = await fs.register(fs.integration.headers)
    pdf = await _upload(fs, complaint["id"], fs.integration.headers, PDF, "检测报告.pdf", "x/y")
    assert pdf.status_code == 201, pdf.text
    assert pdf.json()["media_type"] == "application/pdf"


async def _nothing_stored(stack: Stack, complaint_id: str, files_dir: Path | None) -> None:
    rows = await stack.rows(
        "SELECT count(*) AS n FROM evidence_files WHERE complaint_id = :c", c=complaint_id
    )
    assert rows[0]["n"] == 0
    events = await stack.rows(
        "SELECT count(*) AS n FROM complaint_events WHERE complaint_id = :c "
        "AND type = 'complaint.evidence_attached'",
        c=complaint_id,
    )
    assert events[0]["n"] == 0
    if files_dir is not None:
        assert not (files_dir / "evidence" / complaint_id).exists() or not any(
            (files_dir / "evidence" / complaint_id).iterdir()
        )


@pytest.mark.parametrize(
    ("content", "name", "status", "says"),
    [
        (b"just some text pretending to be a photo", "photo.jpg", 422, "not taken"),
        (b"MZ\x90\x00" + b"\x00" * 200, "setup.pdf", 422, "not taken"),
        (b"", "empty.png", 422, "empty"),
        (png(), "../../etc/passwd.png", 422, "path separators"),
        (png(), "C:\\evil\\x.png", 422, "path separators"),
        (png() + b"\x00" * (LIMIT + 10), "big.png", 413, "exceeds"),
    ],
)
async def test_bad_uploads_get_a_problem_and_store_nothing(
    fs: Stack, files_dir: Path, content: bytes, name: str, status: int, says: str
) -> None:
    complaint = await fs.register(fs.agent.headers)
    answer = await _upload(fs, complaint["id"], fs.agent.headers, content, name)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.text
    await _nothing_stored(fs, complaint["id"], files_dir)
    incoming = files_dir / ".incoming"
    assert list(incoming.iterdir()) == []  # the temporary file is gone too


async def test_a_truncated_multipart_body_is_refused(fs: Stack, files_dir: Path) -> None:
    complaint = await fs.register(fs.agent.headers)
    boundary = "kesu-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    ).encode() + png()  # no closing boundary: the client died mid-upload
    answer = await fs.client.post(
        f"/api/v1/complaints/{complaint['id']}/attachments",
        content=body,
        headers={**fs.agent.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 422, answer.text
    assert "truncated" in answer.text
    await _nothing_stored(fs, complaint["id"], files_dir)


async def test_not_multipart_is_415_and_unknown_complaint_is_404(fs: Stack) -> None:
    complaint = await fs.register(fs.agent.headers)
    answer = await fs.client.post(
        f"/api/v1/complaints/{complaint['id']}/attachments",
        content=png(),
        headers={**fs.agent.headers, "Content-Type": "image/png"},
    )
    assert answer.status_code == 415
    unknown = await _upload(fs, str(uuid.uuid4()), fs.agent.headers, png())
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")


async def test_who_may_upload(fs: Stack) -> None:
    mine = await fs.register(fs.integration.headers)
    # An auditor reads everything but changes nothing.
    refused = await _upload(fs, mine["id"], fs.auditor.headers, png())
    assert refused.status_code == 403
    # Another integration does not even see the complaint.
    hidden = await _upload(fs, mine["id"], fs.other_integration.headers, png())
    assert hidden.status_code == 404
    await _nothing_stored(fs, mine["id"], None)


async def test_the_file_count_limit(own_url: str, test_servers: Servers, files_dir: Path) -> None:
    settings = make_settings(
        own_url, test_servers.redis_url, files_dir=files_dir, upload_max_files=2
    )
    async for stack in open_stack(settings):
        complaint = await stack.register(stack.agent.headers)
        for _ in range(2):
            ok = await _upload(stack, complaint["id"], stack.agent.headers, png())
            assert ok.status_code == 201
        third = await _upload(stack, complaint["id"], stack.agent.headers, png())
        assert third.status_code == 409
        assert "at most 2" in third.text


async def test_a_customer_uploads_with_reference_and_phone(fs: Stack) -> None:
    body = complaint_body()
    complaint = await fs.register(fs.agent.headers, **body)
    phone = body["customer"]["phone"]
    wrong = await fs.client.post(
        "/api/v1/public/attachments",
        data={"reference": complaint["reference"], "phone": "13900000000"},
        files={"file": ("收据.png", png(), "image/png")},
    )
    assert wrong.status_code == 404
    answer = await fs.client.post(
        "/api/v1/public/attachments",
        data={"reference": complaint["reference"], "phone": phone},
        files={"file": ("收据.png", png(), "image/png")},
    )
    assert answer.status_code == 201, answer.text
    listed = (
        await fs.client.get(
            f"/api/v1/complaints/{complaint['id']}/attachments", headers=fs.agent.headers
        )
    ).json()["items"]
    assert [(f["file_name"], f["uploaded_by_kind"]) for f in listed] == [("收据.png", "customer")]


async def test_evidence_on_a_real_s3_server(s3: Stack) -> None:
    complaint = await s3.register(s3.agent.headers)
    image = png(16, 16)
    answer = await _upload(s3, complaint["id"], s3.agent.headers, image)
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    bucket = boto3.client(
        "s3",
        endpoint_url=s3.settings.s3_endpoint_url,
        aws_access_key_id="any",
        aws_secret_access_key="any-secret",
        region_name="us-east-1",
    )
    key = f"evidence/{complaint['id']}/{stored['id']}"
    assert bucket.get_object(Bucket="kesu-evidence", Key=key)["Body"].read() == image
    storage = s3.app.state.collab.require_storage()
    assert key in [k async for k, _ in storage.listed("evidence")]
    assert await remove_orphans(s3.app.state.collab, now=datetime.now(UTC)) == 0
    got = await s3.client.get(
        f"/api/v1/complaints/{complaint['id']}/attachments/{stored['id']}",
        headers=s3.agent.headers,
    )
    assert got.content == image
    # A refused upload leaves no object behind.
    before = bucket.list_objects_v2(Bucket="kesu-evidence").get("KeyCount", 0)
    bad = await _upload(s3, complaint["id"], s3.agent.headers, b"plain text", "a.png")
    assert bad.status_code == 422
    assert bucket.list_objects_v2(Bucket="kesu-evidence").get("KeyCount", 0) == before


async def test_an_object_no_row_names_is_removed_once_an_hour_old(
    fs: Stack, files_dir: Path
) -> None:
    """A process killed between storing an upload and writing its event leaves an object no
    row names: housekeeping removes it (an upload still in flight is younger than an hour)."""
    complaint = await fs.register(fs.agent.headers)
    kept = await _upload(fs, complaint["id"], fs.agent.headers, png())
    assert kept.status_code == 201
    old_orphan = files_dir / "evidence" / complaint["id"] / str(uuid.uuid4())
    young_orphan = files_dir / "evidence" / complaint["id"] / str(uuid.uuid4())
    for orphan in (old_orphan, young_orphan):
        orphan.write_bytes(png())
    two_hours_ago = time.time() - 7200
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    stored = files_dir / "evidence" / complaint["id"] / kept.json()["id"]
    os.utime(stored, (two_hours_ago, two_hours_ago))  # old, but its row names it

    removed = await remove_orphans(fs.app.state.collab, now=datetime.now(UTC))
    assert removed == 1
    assert not old_orphan.exists()
    assert young_orphan.exists()
    assert stored.exists()


async def test_an_unwritable_store_starts_the_api_and_answers_503(
    own_url: str, test_servers: Servers, tmp_path: Path
) -> None:
    """A read-only container without a files volume: everything else works, uploads get a 503
    problem and nothing is recorded."""
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_bytes(b"")
    settings = make_settings(own_url, test_servers.redis_url, files_dir=not_a_directory)
    async for stack in open_stack(settings):
        complaint = await stack.register(stack.agent.headers)
        answer = await _upload(stack, complaint["id"], stack.agent.headers, png())
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        await _nothing_stored(stack, complaint["id"], None)
