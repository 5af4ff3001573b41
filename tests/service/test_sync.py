"""The sync service over real gRPC, calling the real packages service; SQLite and PostgreSQL, with
the real Redis and with none."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import struct_pb2

from studysync.packages.v1 import packages_service_pb2 as ppb
from studysync.packages.v1 import resources_pb2 as pres
from studysync.sync.v1 import resources_pb2 as res
from studysync.sync.v1 import sync_service_pb2 as pb
from tests.conftest import auth
from tests.helpers import attempt_input, error_info, get_session, metric_value, scrape_metrics, sync_attempts


@pytest.fixture
def user() -> str:
    return f"learner-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def metadata(make_token, user):
    return auth(make_token(user))


async def test_seed_flow_acked_then_duplicate_with_the_same_ids(sync_stub, metadata, bank_questions):
    offline = str(uuid.uuid4())
    first = attempt_input(bank_questions[0].question_id, 2, offline)
    [acked] = await sync_attempts(sync_stub, metadata, first)
    assert acked.status == "acked" and acked.client_attempt_id == first.client_attempt_id
    assert not acked.HasField("error_code")
    [again] = await sync_attempts(sync_stub, metadata, first)  # the response was lost; the client retries
    assert again.status == "duplicate"
    assert (again.server_attempt_id, again.server_session_id) == (
        acked.server_attempt_id,
        acked.server_session_id,
    )
    view = await get_session(sync_stub, metadata, acked.server_session_id)
    assert (view.status, view.mode, view.offline_session_id) == (res.ACTIVE, res.TUTOR, offline)
    assert (view.year_id, view.block_id, view.theme_id) == (2, bank_questions[0].block_id, 7)
    assert (view.answered_count, view.correct_count) == (1, 0)


async def test_hash_mismatch_and_key_reuse_are_rejected(sync_stub, metadata, bank_questions):
    bad = attempt_input(bank_questions[0].question_id, payload_hash="0" * 64)
    [rejected] = await sync_attempts(sync_stub, metadata, bad)
    assert (rejected.status, rejected.error_code) == ("rejected", "PAYLOAD_HASH_MISMATCH")
    assert not rejected.HasField("server_attempt_id")
    key = str(uuid.uuid4())
    await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[0].question_id, 1, key=key))
    [reused] = await sync_attempts(
        sync_stub, metadata, attempt_input(bank_questions[0].question_id, 2, key=key)
    )
    assert (reused.status, reused.error_code) == ("rejected", "IDEMPOTENCY_KEY_REUSED")


async def test_idempotency_is_per_user(sync_stub, make_token, bank_questions):
    shared = attempt_input(bank_questions[0].question_id, 1)
    [mine] = await sync_attempts(sync_stub, auth(make_token("user-a")), shared)
    [theirs] = await sync_attempts(sync_stub, auth(make_token("user-b")), shared)
    assert mine.status == theirs.status == "acked"
    assert mine.server_attempt_id != theirs.server_attempt_id


async def test_permanent_problems_are_rejected_with_a_reason(sync_stub, metadata, bank_questions):
    results = await sync_attempts(
        sync_stub,
        metadata,
        attempt_input(str(uuid.uuid4())),
        attempt_input(bank_questions[0].question_id, 3),
        attempt_input(bank_questions[0].question_id, session_id=str(uuid.uuid4())),
        attempt_input(bank_questions[0].question_id, client_attempt_id="not-a-uuid"),
        attempt_input(bank_questions[1].question_id),
    )
    assert [r.error_code for r in results[:4]] == [
        "QUESTION_NOT_FOUND",
        "INVALID_OPTION_INDEX",
        "SESSION_NOT_FOUND",
        "INVALID_FIELD",
    ]
    assert results[3].error_message.startswith("client_attempt_id")
    assert results[4].status == "acked"


async def test_attempts_into_an_existing_server_session(sync_stub, metadata, bank_questions):
    [first] = await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[0].question_id))
    [second] = await sync_attempts(
        sync_stub, metadata, attempt_input(bank_questions[1].question_id, session_id=first.server_session_id)
    )
    assert second.status == "acked" and second.server_session_id == first.server_session_id
    view = await get_session(sync_stub, metadata, first.server_session_id)
    assert (view.answered_count, view.correct_count) == (2, 2)


@pytest.mark.parametrize("count", [0, 101])
async def test_batch_size_limits_are_invalid_argument(sync_stub, metadata, bank_questions, count):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sync_attempts(
            sync_stub, metadata, *(attempt_input(bank_questions[0].question_id) for _ in range(count))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == "attempts"


async def test_a_hundred_attempts_are_accepted(sync_stub, metadata, bank_questions):
    offline = str(uuid.uuid4())
    results = await sync_attempts(
        sync_stub,
        metadata,
        *(
            attempt_input(
                bank_questions[n % 4].question_id,
                n % 3,
                offline,
                f"2026-01-28T10:{n // 60:02d}:{n % 60:02d}Z",
            )
            for n in range(100)
        ),
    )
    assert [r.status for r in results] == ["acked"] * 100
    assert len({r.server_session_id for r in results}) == 1


async def test_concurrent_identical_batches_store_once_and_score_once(sync_stub, make_token, bank_questions):
    for trial in range(20):
        metadata = auth(make_token(f"racer-{uuid.uuid4().hex[:8]}"))
        offline = str(uuid.uuid4())
        batch = [attempt_input(q.question_id, 1, offline) for q in bank_questions]
        outcomes = await asyncio.gather(*(sync_attempts(sync_stub, metadata, *batch) for _ in range(8)))
        for n in range(len(batch)):
            assert sorted(o[n].status for o in outcomes) == ["acked"] + ["duplicate"] * 7, trial
            assert len({o[n].server_attempt_id for o in outcomes}) == 1
        sessions = {o[0].server_session_id for o in outcomes}
        assert len(sessions) == 1
        view = await get_session(sync_stub, metadata, sessions.pop())
        assert (view.answered_count, view.correct_count) == (4, 4)


async def test_a_changed_answer_counts_once_with_the_latest_answered_at(sync_stub, metadata, bank_questions):
    offline = str(uuid.uuid4())
    question = bank_questions[0].question_id
    late_wrong = attempt_input(question, 2, offline, "2026-01-28T10:05:00Z")
    early_right = attempt_input(question, 1, offline, "2026-01-28T10:01:00+00:00")
    [late] = await sync_attempts(sync_stub, metadata, late_wrong)  # arrives first, answered later
    await sync_attempts(sync_stub, metadata, early_right)
    view = await get_session(sync_stub, metadata, late.server_session_id)
    assert (view.answered_count, view.correct_count) == (1, 0)
    assert view.answers[0].server_attempt_id == late.server_attempt_id
    assert view.answers[0].answered_at == "2026-01-28T10:05:00Z"  # kept exactly as sent
    fixed = attempt_input(question, 1, offline, "2026-01-28T10:09:00Z")
    await sync_attempts(sync_stub, metadata, fixed)
    view = await get_session(sync_stub, metadata, late.server_session_id)
    assert (view.answered_count, view.correct_count) == (1, 1)


async def test_package_pinned_scoring_uses_the_snapshot_after_the_bank_changes(
    sync_stub, packages_stub, make_token, metadata, bank_questions
):
    admin = auth(make_token("admin", roles=["admin"]))
    scope = struct_pb2.Struct()
    scope.update({"block_id": bank_questions[0].block_id})
    package = (
        await packages_stub.GenerateTestPackage(
            ppb.GenerateTestPackageRequest(scope=pres.BLOCK, scope_data=scope), metadata=admin
        )
    ).package
    edited = bank_questions[0]
    edited.correct_index = 2  # the bank now says option 2; the learner saw a package where 1 was right
    await packages_stub.BatchCreateQuestions(
        ppb.BatchCreateQuestionsRequest(questions=[edited]), metadata=admin
    )
    offline = str(uuid.uuid4())
    [pinned] = await sync_attempts(
        sync_stub, metadata, attempt_input(edited.question_id, 1, offline, package_id=package.package_id)
    )
    [bank_scored] = await sync_attempts(
        sync_stub, metadata, attempt_input(edited.question_id, 1, str(uuid.uuid4()))
    )
    assert (await get_session(sync_stub, metadata, pinned.server_session_id)).correct_count == 1
    assert (await get_session(sync_stub, metadata, bank_scored.server_session_id)).correct_count == 0
    [unknown] = await sync_attempts(
        sync_stub, metadata, attempt_input(edited.question_id, 1, package_id=str(uuid.uuid4()))
    )
    assert unknown.error_code == "QUESTION_NOT_FOUND"


async def test_another_users_session_is_not_found(sync_stub, make_token, metadata, bank_questions):
    [mine] = await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[0].question_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_session(sync_stub, auth(make_token("someone-else")), mine.server_session_id)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_receipts_tell_where_each_key_went(sync_stub, metadata, bank_questions):
    [stored] = await sync_attempts(sync_stub, metadata, first := attempt_input(bank_questions[0].question_id))
    missing = str(uuid.uuid4())
    receipts = (
        await sync_stub.BatchGetAttemptReceipts(
            pb.BatchGetAttemptReceiptsRequest(idempotency_keys=[first.idempotency_key, missing]),
            metadata=metadata,
        )
    ).receipts
    assert [(r.found, r.server_attempt_id, r.server_session_id) for r in receipts] == [
        (True, stored.server_attempt_id, stored.server_session_id),
        (False, "", ""),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sync_stub.BatchGetAttemptReceipts(
            pb.BatchGetAttemptReceiptsRequest(idempotency_keys=[""]), metadata=metadata
        )
    assert error_info(caught.value).metadata["field"] == "idempotency_keys[0]"


@pytest.mark.parametrize("key", ["ik-1", "a,b;c d", "K" * 128])
async def test_opaque_idempotency_keys_are_acked_deduplicated_and_have_receipts(
    sync_stub, metadata, bank_questions, key
):
    key = f"{key[:120]}{uuid.uuid4().hex[:8]}"  # fresh per run: the PostgreSQL schema outlives a test
    first = attempt_input(bank_questions[0].question_id, key=key)
    [acked] = await sync_attempts(sync_stub, metadata, first)
    [again] = await sync_attempts(sync_stub, metadata, first)
    assert (acked.status, again.status, again.server_attempt_id) == (
        "acked",
        "duplicate",
        acked.server_attempt_id,
    )
    assert acked.idempotency_key == key
    [reused] = await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[1].question_id, key=key))
    assert reused.error_code == "IDEMPOTENCY_KEY_REUSED"
    [receipt] = (
        await sync_stub.BatchGetAttemptReceipts(
            pb.BatchGetAttemptReceiptsRequest(idempotency_keys=[key]), metadata=metadata
        )
    ).receipts
    assert (receipt.found, receipt.server_attempt_id) == (True, acked.server_attempt_id)


async def test_a_missing_option_index_is_rejected_and_the_corrected_resend_is_acked(
    sync_stub, metadata, bank_questions
):
    good = attempt_input(bank_questions[0].question_id, option=0)
    missing = res.AttemptInput()
    missing.CopyFrom(good)
    missing.ClearField("selected_option_index")
    [rejected] = await sync_attempts(sync_stub, metadata, missing)
    assert (rejected.error_code, rejected.error_message) == (
        "INVALID_FIELD",
        "selected_option_index: is required",
    )
    [acked] = await sync_attempts(sync_stub, metadata, good)  # the same key, now complete: not a key reuse
    assert acked.status == "acked"


async def test_answered_at_beyond_the_clock_skew_allowance_is_rejected(sync_stub, metadata, bank_questions):
    future = (datetime.now(UTC) + timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [rejected, acked] = await sync_attempts(
        sync_stub,
        metadata,
        attempt_input(bank_questions[0].question_id, answered_at=future),
        attempt_input(bank_questions[1].question_id, answered_at=soon),
    )
    assert (rejected.error_code, rejected.error_message.split(":")[0]) == ("INVALID_FIELD", "answered_at")
    assert acked.status == "acked"


async def test_metrics_count_attempts_by_status_and_reason(sync_server, sync_stub, metadata, bank_questions):
    before = await scrape_metrics(sync_server.metrics_url)
    good = attempt_input(bank_questions[0].question_id)
    await sync_attempts(
        sync_stub, metadata, good, attempt_input(bank_questions[0].question_id, payload_hash="0" * 64)
    )
    await sync_attempts(sync_stub, metadata, good)
    after = await scrape_metrics(sync_server.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    assert delta("studysync_sync_attempts_total", status="acked", reason="") == 1
    assert delta("studysync_sync_attempts_total", status="duplicate", reason="") == 1
    assert delta("studysync_sync_attempts_total", status="rejected", reason="PAYLOAD_HASH_MISMATCH") == 1
    assert delta("studysync_sync_replay_age_seconds_count") == 1


async def test_a_retry_stays_a_duplicate_after_the_bank_question_changed(
    sync_stub, packages_stub, make_token, metadata, bank_questions
):
    sent = attempt_input(bank_questions[3].question_id, 2)
    [acked] = await sync_attempts(sync_stub, metadata, sent)
    shrunk = bank_questions[3]
    del shrunk.options[2]  # option 2 no longer exists in the bank
    await packages_stub.BatchCreateQuestions(
        ppb.BatchCreateQuestionsRequest(questions=[shrunk]),
        metadata=auth(make_token("admin", roles=["admin"])),
    )
    [retried] = await sync_attempts(sync_stub, metadata, sent)
    assert (retried.status, retried.server_attempt_id) == ("duplicate", acked.server_attempt_id)
    [fresh] = await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[3].question_id, 2))
    assert fresh.error_code == "INVALID_OPTION_INDEX"


async def test_concurrent_batches_of_one_new_offline_session_make_one_session(
    sync_stub, make_token, bank_questions
):
    for trial in range(10):
        metadata = auth(make_token(f"racer-{uuid.uuid4().hex[:8]}"))
        offline = str(uuid.uuid4())
        batches = [
            [attempt_input(q.question_id, 1, offline)] for q in bank_questions
        ]  # different attempts, one session
        outcomes = await asyncio.gather(*(sync_attempts(sync_stub, metadata, *batch) for batch in batches))
        assert [r.status for [r] in outcomes] == ["acked"] * len(bank_questions), trial
        sessions = {r.server_session_id for [r] in outcomes}
        assert len(sessions) == 1, trial
        view = await get_session(sync_stub, metadata, sessions.pop())
        assert (view.answered_count, view.correct_count) == (len(bank_questions), len(bank_questions))


async def test_the_latest_answer_is_chosen_by_instant_not_by_text(sync_stub, metadata, bank_questions):
    offline = str(uuid.uuid4())
    question = bank_questions[0].question_id
    # 12:00+05:00 is 07:00Z: earlier than 08:00Z although its text sorts later.
    [late_wrong] = await sync_attempts(
        sync_stub, metadata, attempt_input(question, 2, offline, "2026-01-28T08:00:00Z")
    )
    await sync_attempts(sync_stub, metadata, attempt_input(question, 1, offline, "2026-01-28T12:00:00+05:00"))
    view = await get_session(sync_stub, metadata, late_wrong.server_session_id)
    assert (view.answered_count, view.correct_count) == (1, 0)
    assert view.answers[0].answered_at == "2026-01-28T08:00:00Z"


async def test_unstorable_fields_are_rejected_and_never_fail_the_batch(sync_stub, metadata, bank_questions):
    question = bank_questions[0].question_id
    long_time = "2026-01-28T10:00:00." + "1" * 44 + "Z"
    results = await sync_attempts(
        sync_stub,
        metadata,
        attempt_input(question, answered_at="0001-01-01T00:00:00+01:00"),
        attempt_input(question, answered_at=long_time),
        attempt_input(question, client_attempt_id="urn:uuid:123E4567-E89B-12D3-A456-426614174000"),
        attempt_input(bank_questions[1].question_id),
    )
    assert [(r.status, r.error_code) for r in results] == [
        ("rejected", "INVALID_FIELD"),
        ("rejected", "INVALID_FIELD"),
        ("acked", ""),
        ("acked", ""),
    ]
    assert results[2].client_attempt_id == "urn:uuid:123E4567-E89B-12D3-A456-426614174000"  # as sent


@pytest.mark.parametrize("subject", ["u" * 129, "nul\x00user"])
async def test_a_subject_that_cannot_be_stored_is_invalid_argument(
    sync_stub, make_token, bank_questions, subject
):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sync_attempts(
            sync_stub, auth(make_token(subject)), attempt_input(bank_questions[0].question_id)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == "sub"


async def test_an_offline_id_equal_to_a_server_session_id_is_still_its_own_session(
    sync_stub, metadata, bank_questions
):
    """Offline ids and server ids live apart: with Redis or without, the same offline id always
    lands in the same session."""
    [first] = await sync_attempts(sync_stub, metadata, attempt_input(bank_questions[0].question_id))
    server = first.server_session_id
    by_offline, by_server = await sync_attempts(
        sync_stub,
        metadata,
        attempt_input(bank_questions[1].question_id, offline=server),
        attempt_input(bank_questions[2].question_id, session_id=server),
    )
    assert by_server.server_session_id == server
    assert by_offline.server_session_id != server
    [again] = await sync_attempts(
        sync_stub, metadata, attempt_input(bank_questions[3].question_id, offline=server)
    )
    assert again.server_session_id == by_offline.server_session_id


async def test_a_new_session_takes_the_scope_its_questions_agree_on(
    sync_stub, packages_stub, make_token, metadata
):
    block = random.randint(10_000, 2**40)
    questions = [
        pres.Question(
            question_id=str(uuid.uuid4()),
            stem=f"Q{theme}?",
            options=["a", "b"],
            correct_index=0,
            year_id=3,
            block_id=block,
            theme_id=theme,
        )
        for theme in (11, 12)
    ]
    await packages_stub.BatchCreateQuestions(
        ppb.BatchCreateQuestionsRequest(questions=questions),
        metadata=auth(make_token("admin", roles=["admin"])),
    )
    offline = str(uuid.uuid4())
    results = await sync_attempts(
        sync_stub, metadata, *(attempt_input(q.question_id, 0, offline) for q in questions)
    )
    view = await get_session(sync_stub, metadata, results[0].server_session_id)
    assert (view.year_id, view.block_id, view.HasField("theme_id")) == (3, block, False)
    assert (view.answered_count, view.correct_count) == (2, 2)


async def test_overlapping_batches_in_any_order_race_without_loss_or_double_counting(
    sync_stub, make_token, bank_questions
):
    """One user's batches racing each other with overlapping attempts in different orders and two
    offline sessions (a client re-sending regrouped batches): every attempt is acked exactly once with
    one server id, no request fails, and each session counts each question once."""
    rng = random.Random(7)
    for trial in range(5):
        metadata = auth(make_token(f"overlap-{uuid.uuid4().hex[:8]}"))
        offline = [str(uuid.uuid4()), str(uuid.uuid4())]
        pool = [  # each question answered 5 times in each session: changed answers race too
            attempt_input(q.question_id, n % 3, offline[n % 2], f"2026-01-28T10:{n:02d}:00Z")
            for n in range(40)
            for q in [bank_questions[n % len(bank_questions)]]
        ]
        batches = []
        for _ in range(5):
            chosen = rng.sample(pool, k=rng.randint(len(pool) // 2, len(pool)))
            batches.append(chosen)
        outcomes = await asyncio.gather(*(sync_attempts(sync_stub, metadata, *b) for b in batches))
        acked: dict[str, set[str]] = {}
        ids: dict[str, set[str]] = {}
        for batch, results in zip(batches, outcomes, strict=True):
            for sent, result in zip(batch, results, strict=True):
                assert result.status in ("acked", "duplicate"), (trial, result)
                ids.setdefault(sent.idempotency_key, set()).add(result.server_attempt_id)
                if result.status == "acked":
                    acked.setdefault(sent.idempotency_key, set()).add(result.server_attempt_id)
        assert all(len(v) == 1 for v in ids.values()), trial
        assert all(len(acked.get(k, ())) == 1 for k in ids), trial
        sessions = {r.server_session_id for results in outcomes for r in results}
        assert len(sessions) == len({a.offline_session_id for b in batches for a in b}), trial
        for session_id in sessions:
            view = await get_session(sync_stub, metadata, session_id)
            expected = {
                a.question_id for b in batches for a in b if a.offline_session_id == view.offline_session_id
            }
            assert view.answered_count == len(expected), trial
