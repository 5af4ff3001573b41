"""Sync when its dependencies misbehave: Redis flushed, stopped mid-run; packages unreachable."""

from __future__ import annotations

import asyncio
import signal
import subprocess
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
from tests.helpers import (
    attempt_input,
    cancel_mid_write,
    error_info,
    get_session,
    metric_value,
    redis_answers,
    redis_server_command,
    scrape_metrics,
    sync_attempts,
    wait_until,
    wait_until_async,
)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """A Redis server of this test's own, so the test can flush, freeze and stop it."""
    port = free_port()
    process = subprocess.Popen(redis_server_command(port, tmp_path), stdout=subprocess.DEVNULL)
    wait_until(lambda: redis_answers(port), within=30, what="the private Redis to answer")
    yield process, port
    process.send_signal(signal.SIGCONT)  # a frozen server must be able to die
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
    bank_questions,
):
    process, port = private_redis
    stub = pb_grpc.SyncServiceStub(sync_on_private_redis.channel)
    metadata = auth(make_token(f"learner-{uuid.uuid4().hex[:8]}"))
    offline = str(uuid.uuid4())
    batch = [attempt_input(q.question_id, 1, offline) for q in bank_questions[:2]]
    first = await sync_attempts(stub, metadata, *batch)
    assert [r.status for r in first] == ["acked", "acked"]
    assert redis.Redis(port=port).dbsize() > 0  # cached after commit

    redis.Redis(port=port).flushall()  # flushed between retries
    after_flush = await sync_attempts(stub, metadata, *batch)
    assert [r.status for r in after_flush] == ["duplicate", "duplicate"]
    assert [r.server_attempt_id for r in after_flush] == [r.server_attempt_id for r in first]

    process.kill()  # Redis stopped mid-run
    process.wait()
    after_stop = await sync_attempts(
        stub, metadata, *batch, attempt_input(bank_questions[2].question_id, 1, offline)
    )
    assert [r.status for r in after_stop] == ["duplicate", "duplicate", "acked"]
    assert {r.server_session_id for r in after_stop} == {first[0].server_session_id}  # same session
    view = await get_session(stub, metadata, first[0].server_session_id)
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
            await sync_attempts(stub, auth(make_token("learner")), attempt_input(str(uuid.uuid4())))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(caught.value).reason == "PACKAGES_UNAVAILABLE"


async def test_a_redis_that_answers_nothing_fails_open(
    sync_on_private_redis, private_redis, make_token, bank_questions
):
    """Redis slower than the cache's timeout costs a little latency, never an error: the batch is
    acked while Redis is still frozen (it accepts connections and answers nothing)."""
    process, _ = private_redis
    stub = pb_grpc.SyncServiceStub(sync_on_private_redis.channel)
    metadata = auth(make_token(f"learner-{uuid.uuid4().hex[:8]}"))
    process.send_signal(signal.SIGSTOP)
    try:
        async with asyncio.timeout(60):  # generous: any wait for this Redis would be forever
            [result] = await sync_attempts(stub, metadata, attempt_input(bank_questions[0].question_id))
    finally:
        process.send_signal(signal.SIGCONT)
    assert result.status == "acked"
    metrics = await scrape_metrics(sync_on_private_redis.metrics_url)
    assert metric_value(metrics, "studysync_sync_cache_total", event="fail_open") >= 1


async def test_an_unreadable_cache_entry_is_a_miss_not_an_error(
    sync_on_private_redis,
    private_redis,
    make_token,
    bank_questions,
):
    _, port = private_redis
    stub = pb_grpc.SyncServiceStub(sync_on_private_redis.channel)
    learner = f"learner-{uuid.uuid4().hex[:8]}"
    metadata = auth(make_token(learner))
    sent = attempt_input(bank_questions[0].question_id)
    [acked] = await sync_attempts(stub, metadata, sent)
    client = redis.Redis(port=port)
    [entries] = client.scan_iter(f"sync:*:{{{learner}}}")  # the learner's hash
    cached = [field for field in client.hkeys(entries) if field.startswith(b"i:")]
    assert cached
    client.hset(entries, mapping=dict.fromkeys(cached, "not a cached result"))
    [again] = await sync_attempts(stub, metadata, sent)
    assert (again.status, again.server_attempt_id) == ("duplicate", acked.server_attempt_id)


async def test_database_connections_killed_mid_run_fail_retryably_and_store_each_attempt_once(
    backend,
    sync_server,
    packages_server,
    sync_stub,
    make_token,
    bank_questions,
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
    warm_up = [attempt_input(q.question_id, 1, offline) for q in bank_questions[:2]]
    assert {r.status for r in await sync_attempts(sync_stub, metadata, *warm_up)} == {
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
    batch = [attempt_input(q.question_id, 0, offline) for q in bank_questions]
    outcomes = []
    for _ in range(5):  # a client retries a 503; every attempt is idempotent
        try:
            results = await sync_attempts(sync_stub, metadata, *batch)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            outcomes.append("unavailable")
            continue
        outcomes.append({r.status for r in results})
        break
    assert outcomes[-1] <= {"acked", "duplicate"}, outcomes
    again = await sync_attempts(sync_stub, metadata, *batch)
    assert {r.status for r in again} == {"duplicate"}
    view = await get_session(sync_stub, metadata, again[0].server_session_id)
    assert view.answered_count == len(bank_questions)


async def test_a_batch_cancelled_mid_store_is_stored_whole_and_the_service_stays_healthy(
    sync_server, sync_stub, make_token, bank_questions, hold_next_write
):
    """A client that gives up (a deadline, a dropped connection) while its batch is being stored: the
    store runs to its end and hands its connection back usable; the retry finds every attempt stored
    once, and later batches work."""
    metadata = auth(make_token(f"impatient-{uuid.uuid4().hex[:8]}"))
    offline = str(uuid.uuid4())
    batch = [attempt_input(q.question_id, 1, offline) for q in bank_questions]
    store = hold_next_write(sync_server)
    call = sync_stub.BatchSyncAttempts(pb.BatchSyncAttemptsRequest(attempts=batch), metadata=metadata)
    await cancel_mid_write(
        call, store, sync_server.metrics_url, "/studysync.sync.v1.SyncService/BatchSyncAttempts"
    )
    store.release()

    async def stored() -> bool:
        request = pb.BatchGetAttemptReceiptsRequest(idempotency_keys=[a.idempotency_key for a in batch])
        return all(
            r.found for r in (await sync_stub.BatchGetAttemptReceipts(request, metadata=metadata)).receipts
        )

    await wait_until_async(stored, what="the cancelled batch's store to finish")
    retried = await sync_attempts(sync_stub, metadata, *batch)
    assert [r.status for r in retried] == ["duplicate"] * len(batch)
    view = await get_session(sync_stub, metadata, retried[0].server_session_id)
    assert (view.answered_count, view.correct_count) == (len(batch), len(batch))
    [later] = await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[0].question_id, 2))
    assert later.status == "acked"
