"""Sync when its dependencies misbehave: Redis flushed, stopped mid-run; packages unreachable."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import redis

from devstack.stack import free_port
from services.sync.settings import SyncSettings
from services.sync.wiring import SPEC as SYNC
from studysync.sync.v1 import sync_service_pb2 as pb
from studysync.sync.v1 import sync_service_pb2_grpc as pb_grpc
from tests.conftest import ServerHandle, auth, serve_for_session, service_settings
from tests.helpers import error_info, metric_value, redis_server_command, scrape_metrics
from tests.service.test_sync import attempt, bank, session, sync  # noqa: F401 (bank is a fixture)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """A Redis server of this test's own, so the test can flush and stop it."""
    port = free_port()
    process = subprocess.Popen(
        # DEBUG SLEEP makes it slow on purpose.
        redis_server_command(port, tmp_path, "--enable-debug-command", "yes"),
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield process, port
    process.kill()
    process.wait()


@pytest.fixture
async def sync_on_private_redis(
    private_redis, backend, packages_server, state, run_id
) -> AsyncIterator[ServerHandle]:
    _, port = private_redis
    settings = service_settings(
        SYNC,
        backend,
        state,
        f"{run_id}p{uuid.uuid4().hex[:4]}",
        redis_url=f"redis://127.0.0.1:{port}/0",
        options=SyncSettings(f"127.0.0.1:{packages_server.port}"),
    )
    async for handle in serve_for_session(SYNC, settings):
        yield handle


async def test_redis_flushed_then_stopped_never_duplicates_a_session_or_a_score(
    sync_on_private_redis,
    private_redis,
    make_token,
    bank,  # noqa: F811
):
    process, port = private_redis
    stub = pb_grpc.SyncServiceStub(sync_on_private_redis.channel)
    metadata = auth(make_token(f"learner-{uuid.uuid4().hex[:8]}"))
    offline = str(uuid.uuid4())
    batch = [attempt(q.question_id, 1, offline) for q in bank[:2]]
    first = await sync(stub, metadata, *batch)
    assert [r.status for r in first] == ["acked", "acked"]
    assert redis.Redis(port=port).dbsize() > 0  # cached after commit

    redis.Redis(port=port).flushall()  # flushed between retries
    after_flush = await sync(stub, metadata, *batch)
    assert [r.status for r in after_flush] == ["duplicate", "duplicate"]
    assert [r.server_attempt_id for r in after_flush] == [r.server_attempt_id for r in first]

    process.kill()  # Redis stopped mid-run
    process.wait()
    after_stop = await sync(stub, metadata, *batch, attempt(bank[2].question_id, 1, offline))
    assert [r.status for r in after_stop] == ["duplicate", "duplicate", "acked"]
    assert {r.server_session_id for r in after_stop} == {first[0].server_session_id}  # same session
    view = await session(stub, metadata, first[0].server_session_id)
    assert (view.answered_count, view.correct_count) == (3, 3)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(sync_on_private_redis.metrics_url)).text
    assert metric_value(metrics, "studysync_sync_cache_total", event="fail_open") >= 1


async def test_packages_unreachable_is_unavailable_and_nothing_is_rejected(
    backend, state, run_id, make_token
):
    settings = service_settings(
        SYNC, backend, state, f"{run_id}d", options=SyncSettings(f"127.0.0.1:{free_port()}")
    )
    async for handle in serve_for_session(SYNC, settings):
        stub = pb_grpc.SyncServiceStub(handle.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await sync(stub, auth(make_token("learner")), attempt(str(uuid.uuid4())))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(caught.value).reason == "PACKAGES_UNAVAILABLE"


async def test_a_slow_redis_fails_open_quickly(sync_on_private_redis, private_redis, make_token, bank):  # noqa: F811
    """Redis answering slower than the 0.25 s timeout costs a little latency, never an error."""
    import threading

    _, port = private_redis
    stub = pb_grpc.SyncServiceStub(sync_on_private_redis.channel)
    metadata = auth(make_token(f"learner-{uuid.uuid4().hex[:8]}"))
    blocker = threading.Thread(target=lambda: redis.Redis(port=port).execute_command("DEBUG", "SLEEP", "3"))
    blocker.start()
    await asyncio.sleep(0.2)  # Redis is now stuck for ~3 s
    started = time.monotonic()
    [result] = await sync(stub, metadata, attempt(bank[0].question_id))
    elapsed = time.monotonic() - started
    blocker.join()
    assert result.status == "acked"
    assert elapsed < 2.5, elapsed
    metrics = await scrape_metrics(sync_on_private_redis.metrics_url)
    assert metric_value(metrics, "studysync_sync_cache_total", event="fail_open") >= 1


async def test_an_unreadable_cache_entry_is_a_miss_not_an_error(
    sync_on_private_redis,
    private_redis,
    make_token,
    bank,  # noqa: F811
):
    _, port = private_redis
    stub = pb_grpc.SyncServiceStub(sync_on_private_redis.channel)
    metadata = auth(make_token(f"learner-{uuid.uuid4().hex[:8]}"))
    sent = attempt(bank[0].question_id)
    [acked] = await sync(stub, metadata, sent)
    client = redis.Redis(port=port)
    cached = list(client.scan_iter("*:idem:*"))
    assert cached
    for name in cached:
        client.set(name, "not a cached result")
    [again] = await sync(stub, metadata, sent)
    assert (again.status, again.server_attempt_id) == ("duplicate", acked.server_attempt_id)


async def test_database_connections_killed_mid_run_fail_retryably_and_store_each_attempt_once(
    backend,
    sync_server,
    packages_server,
    sync_stub,
    make_token,
    bank,  # noqa: F811
):
    """Sync stores on the asyncpg driver and packages reads the bank on it: a terminated backend on
    either side is UNAVAILABLE (never INTERNAL), the broken connection leaves the pool, and the
    client's retry stores each attempt once."""
    if backend != "postgres":
        pytest.skip("terminates PostgreSQL backends")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.conftest import POSTGRES_URL

    metadata = auth(make_token(f"killed-{uuid.uuid4().hex[:8]}"))
    offline = str(uuid.uuid4())
    warm_up = [attempt(q.question_id, 1, offline) for q in bank[:2]]
    assert {r.status for r in await sync(sync_stub, metadata, *warm_up)} == {
        "acked"
    }  # pools hold connections
    names = [f"studysync/{h.service.runtime.settings.db_schema}" for h in (sync_server, packages_server)]
    admin = create_async_engine(POSTGRES_URL)
    async with admin.connect() as conn:
        killed = await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ANY(:names)"
            ),
            {"names": names},
        )
        assert len(killed.all()) >= 2
    await admin.dispose()
    batch = [attempt(q.question_id, 0, offline) for q in bank]
    outcomes = []
    for _ in range(5):  # a client retries a 503; every attempt is idempotent
        try:
            results = await sync(sync_stub, metadata, *batch)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            outcomes.append("unavailable")
            continue
        outcomes.append({r.status for r in results})
        break
    assert outcomes[-1] <= {"acked", "duplicate"}, outcomes
    again = await sync(sync_stub, metadata, *batch)
    assert {r.status for r in again} == {"duplicate"}
    view = await session(sync_stub, metadata, again[0].server_session_id)
    assert view.answered_count == len(bank)


async def test_requests_cancelled_mid_store_leave_the_service_healthy(
    sync_stub,
    make_token,
    bank,  # noqa: F811
):
    """Clients that give up (deadline) while their batch is being stored: the connection they held is
    in an unknown state and must not be handed on; later batches work and nothing is half-stored."""
    metadata = auth(make_token(f"impatient-{uuid.uuid4().hex[:8]}"))
    offline = str(uuid.uuid4())
    batches = [[attempt(q.question_id, 1, offline) for q in bank] for _ in range(12)]
    for n, batch in enumerate(batches):
        try:
            await sync_stub.BatchSyncAttempts(
                pb.BatchSyncAttemptsRequest(attempts=batch), metadata=metadata, timeout=0.002 * (n % 4 + 1)
            )
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
    for batch in batches:  # the retries: each attempt is stored once, whole
        results = await sync(sync_stub, metadata, *batch)
        assert {r.status for r in results} <= {"acked", "duplicate"}
    view = await session(sync_stub, metadata, results[0].server_session_id)
    assert (view.answered_count, view.correct_count) == (len(bank), len(bank))
    receipts = await sync_stub.BatchGetAttemptReceipts(
        pb.BatchGetAttemptReceiptsRequest(
            idempotency_keys=[a.idempotency_key for b in batches for a in b][:100]
        ),
        metadata=metadata,
    )
    assert all(r.found for r in receipts.receipts)
