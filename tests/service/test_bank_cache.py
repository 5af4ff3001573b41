"""Sync keeps bank questions with the bank version packages publishes in Redis: a kept question
really spares the call to packages, and a bank edit still scores the very next batch by its new
content — with Redis, without it, with it unreachable, flushed, or with a write left unpublished."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import redis

from devstack.stack import free_port
from services.packages.bank_versions import bank_version_keys
from services.packages.repository import PackagesRepository
from services.packages.wiring import SPEC as PACKAGES
from services.sync.settings import SyncSettings
from services.sync.wiring import SPEC as SYNC
from studysync.packages.v1 import packages_service_pb2 as ppb
from studysync.packages.v1 import packages_service_pb2_grpc as ppb_grpc
from studysync.packages.v1 import resources_pb2 as pres
from studysync.sync.v1 import sync_service_pb2_grpc as pb_grpc
from tests.conftest import REDIS_URL, ServerHandle, auth, serve_for_session, service_settings
from tests.helpers import (
    add_bank_questions,
    attempt_input,
    error_info,
    get_session,
    metric_total,
    metric_value,
    redis_answers,
    redis_server_command,
    scrape_metrics,
    sync_attempts,
    wait_until,
    wait_until_async,
)

BATCH_GET = "/studysync.packages.v1.PackagesService/BatchGetQuestions"


async def question_calls(packages: ServerHandle) -> float:
    """BatchGetQuestions calls the packages server has answered."""
    return metric_total(
        await scrape_metrics(packages.metrics_url), "studysync_rpc_requests_total", method=BATCH_GET
    )


async def correct_count(stub, metadata, question_id: str, option: int) -> int:
    """Answers `question_id` with `option` in a new session: 1 if that scored correct, else 0."""
    [result] = await sync_attempts(stub, metadata, attempt_input(question_id, option, str(uuid.uuid4())))
    assert result.status == "acked", result
    return (await get_session(stub, metadata, result.server_session_id)).correct_count


async def edit_correct_index(packages_stub, admin, question: pres.Question, index: int) -> None:
    question.correct_index = index
    await packages_stub.BatchCreateQuestions(
        ppb.BatchCreateQuestionsRequest(questions=[question]), metadata=admin
    )


@pytest.fixture
def admin(make_token):
    return auth(make_token("admin", roles=["admin"]))


@pytest.fixture
def learner(make_token):
    return auth(make_token(f"learner-{uuid.uuid4().hex[:10]}"))


async def test_an_edit_scores_the_very_next_batch_by_the_new_content(
    sync_stub, packages_stub, admin, learner, bank_questions
):
    """With the real Redis and with none (sync_server's two variants), on both databases."""
    question = bank_questions[0]
    assert await correct_count(sync_stub, learner, question.question_id, 1) == 1
    assert await correct_count(sync_stub, learner, question.question_id, 1) == 1  # kept, if Redis
    await edit_correct_index(packages_stub, admin, question, 2)
    assert await correct_count(sync_stub, learner, question.question_id, 1) == 0
    assert await correct_count(sync_stub, learner, question.question_id, 2) == 1
    await edit_correct_index(packages_stub, admin, question, 0)
    assert await correct_count(sync_stub, learner, question.question_id, 2) == 0


async def test_a_kept_question_spares_the_call_to_packages_only_with_redis(
    sync_server, sync_stub, packages_server, learner, bank_questions
):
    ids = [q.question_id for q in bank_questions]
    await sync_attempts(sync_stub, learner, *(attempt_input(i) for i in ids))
    before = await question_calls(packages_server)
    sync_before = await scrape_metrics(sync_server.metrics_url)
    for _ in range(3):
        results = await sync_attempts(sync_stub, learner, *(attempt_input(i) for i in ids))
        assert {r.status for r in results} == {"acked"}
    calls = await question_calls(packages_server) - before
    sync_after = await scrape_metrics(sync_server.metrics_url)
    cached = metric_value(sync_after, "studysync_sync_bank_questions_total", event="cached") - metric_value(
        sync_before, "studysync_sync_bank_questions_total", event="cached"
    )
    if sync_server.service.runtime.redis is not None:
        assert (calls, cached) == (0, 3 * len(ids))
    else:
        assert (calls, cached) == (3, 0)


async def test_a_write_not_yet_published_sends_sync_back_to_packages(
    sync_server, sync_stub, packages_server, learner, bank_questions
):
    """`writers` > 0 (a bank write begun, or committed and not yet published): nothing kept is
    used; once it is gone, kept questions are used again."""
    if sync_server.service.runtime.redis is None:
        pytest.skip("sync keeps bank questions only with Redis")
    question_id = bank_questions[1].question_id
    await sync_attempts(sync_stub, learner, attempt_input(question_id))
    writers = bank_version_keys(packages_server.service.runtime.settings.db_schema).writers
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.incr(writers)
        before = await question_calls(packages_server)
        await sync_attempts(sync_stub, learner, attempt_input(question_id))
        assert await question_calls(packages_server) == before + 1
        client.delete(writers)
        await sync_attempts(sync_stub, learner, attempt_input(question_id))
        await sync_attempts(sync_stub, learner, attempt_input(question_id))
        # what was fetched meanwhile is labelled with the same version: kept from now on
        assert await question_calls(packages_server) == before + 1
    finally:
        client.delete(writers)
        client.close()


# -- on a Redis of the test's own: unreachable, flushed


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    process = subprocess.Popen(redis_server_command(port, tmp_path), stdout=subprocess.DEVNULL)
    wait_until(lambda: redis_answers(port), within=30, what="the private Redis to answer")
    yield process, port
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait()


@pytest.fixture
async def private_pair(
    private_redis, backend, state, run_id
) -> AsyncIterator[tuple[ServerHandle, ServerHandle]]:
    """Packages and sync of their own, both on the private Redis."""
    _, port = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    suffix = uuid.uuid4().hex[:4]
    packages_settings = service_settings(PACKAGES, backend, state, f"{run_id}b{suffix}", redis_url=url)
    async for packages in serve_for_session(PACKAGES, packages_settings):
        sync_settings = service_settings(
            SYNC,
            backend,
            state,
            f"{run_id}c{suffix}",
            redis_url=url,
            options=SyncSettings(f"127.0.0.1:{packages.port}"),
        )
        async for sync in serve_for_session(SYNC, sync_settings):
            yield packages, sync


async def test_redis_flushed_falls_back_to_packages_until_the_repair_loop_restores_the_version(
    private_pair, private_redis, admin, learner
):
    packages, sync = private_pair
    _, port = private_redis
    stub = pb_grpc.SyncServiceStub(sync.channel)
    packages_stub = ppb_grpc.PackagesServiceStub(packages.channel)
    [question] = await add_bank_questions(packages_stub, admin, count=1)
    await sync_attempts(stub, learner, attempt_input(question.question_id))
    before = await question_calls(packages)
    await sync_attempts(stub, learner, attempt_input(question.question_id))
    assert await question_calls(packages) == before  # kept

    redis.Redis(port=port).flushall()
    await sync_attempts(stub, learner, attempt_input(question.question_id))
    assert await question_calls(packages) == before + 1  # no version in Redis: asked

    version = bank_version_keys(packages.service.runtime.settings.db_schema).version

    async def repaired() -> bool:
        return redis.Redis(port=port).get(version) is not None

    await wait_until_async(repaired, what="the repair loop to publish the bank version again")
    await sync_attempts(stub, learner, attempt_input(question.question_id))
    await sync_attempts(stub, learner, attempt_input(question.question_id))
    assert await question_calls(packages) == before + 1  # kept again
    metrics = await scrape_metrics(packages.metrics_url)
    assert metric_value(metrics, "studysync_packages_bank_version_total", event="repaired") >= 1
    # and an edit still takes effect at once
    await edit_correct_index(packages_stub, admin, question, 2)
    assert await correct_count(stub, learner, question.question_id, 2) == 1


async def test_a_bank_write_with_redis_unreachable_is_refused_and_writes_nothing(
    private_pair, private_redis, admin
):
    packages, _ = private_pair
    process, _ = private_redis
    stub = ppb_grpc.PackagesServiceStub(packages.channel)
    [question] = await add_bank_questions(stub, admin, count=1)
    runtime = packages.service.runtime
    bank = PackagesRepository(runtime.engine, runtime.sessions)
    version = await bank.bank_version()
    process.kill()
    process.wait()
    new = pres.Question(
        question_id=str(uuid.uuid4()), stem="New?", options=["a", "b"], correct_index=0, explanation=""
    )
    question.correct_index = 2
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.BatchCreateQuestions(
            ppb.BatchCreateQuestionsRequest(questions=[question, new]), metadata=admin
        )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(caught.value).reason == "BANK_VERSION_UNAVAILABLE"
    found = await stub.BatchGetQuestions(
        ppb.BatchGetQuestionsRequest(
            question_ids=ppb.QuestionIds(ids=[question.question_id, new.question_id])
        ),
        metadata=admin,
    )
    assert [(q.question_id, q.correct_index) for q in found.questions] == [(question.question_id, 1)]
    assert await bank.bank_version() == version


async def test_sync_with_its_redis_unreachable_asks_packages_and_scores_an_edit_at_once(
    private_redis, backend, state, run_id, packages_server, packages_stub, admin, learner, bank_questions
):
    """Sync's Redis down (then its breaker open); packages' Redis (the shared one) fine."""
    process, port = private_redis
    settings = service_settings(
        SYNC,
        backend,
        state,
        f"{run_id}u{uuid.uuid4().hex[:4]}",
        redis_url=f"redis://127.0.0.1:{port}/0",
        options=SyncSettings(f"127.0.0.1:{packages_server.port}"),
    )
    question = bank_questions[2]
    async for sync in serve_for_session(SYNC, settings):
        stub = pb_grpc.SyncServiceStub(sync.channel)
        assert await correct_count(stub, learner, question.question_id, 1) == 1
        process.kill()
        process.wait()
        before = await question_calls(packages_server)
        for _ in range(4):  # the breaker opens after a few failures: both paths are taken
            assert await correct_count(stub, learner, question.question_id, 1) == 1
        assert await question_calls(packages_server) == before + 4
        await edit_correct_index(packages_stub, admin, question, 0)
        assert await correct_count(stub, learner, question.question_id, 1) == 0
        assert await correct_count(stub, learner, question.question_id, 0) == 1
        metrics = await scrape_metrics(sync.metrics_url)
        assert metric_value(metrics, "studysync_sync_cache_breaker_open") == 1


async def test_concurrent_edits_all_take_effect(sync_stub, packages_stub, admin, learner, bank_questions):
    """Bank writes at once (each marks itself pending, commits, publishes): after all their
    responses, the last content is what scores."""
    question = bank_questions[3]
    await correct_count(sync_stub, learner, question.question_id, 1)

    async def edit(index: int) -> None:
        copy = pres.Question()
        copy.CopyFrom(question)
        copy.correct_index = index
        await packages_stub.BatchCreateQuestions(
            ppb.BatchCreateQuestionsRequest(questions=[copy]), metadata=admin
        )

    await asyncio.gather(*(edit(i % 3) for i in range(6)))
    await edit(2)
    assert await correct_count(sync_stub, learner, question.question_id, 2) == 1
    assert await correct_count(sync_stub, learner, question.question_id, 1) == 0
