"""The sync use cases over in-memory fakes of their ports: outcomes per attempt, duplicates, key
reuse, scoring, the cache, sessions and receipts, and what is refused before the store is touched."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from prometheus_client import CollectorRegistry

from services.runtime.auth import Principal
from services.runtime.errors import InvalidField, NotFound
from services.sync.domain import AttemptInput, QuestionFacts, payload_hash
from services.sync.metrics import SyncMetrics
from services.sync.use_cases import SyncUseCases
from tests.fakes import FakeQuestions, FakeResultCache, FakeSyncStore

USER = Principal("user-1", frozenset(), frozenset(), "token")
Q1, Q2 = str(uuid.uuid4()), str(uuid.uuid4())
PACKAGE, DRAFT = str(uuid.uuid4()), str(uuid.uuid4())
BANK = {
    Q1: QuestionFacts(4, 1, {"year_id": 1, "block_id": 2, "theme_id": 3}),
    Q2: QuestionFacts(3, 0, {"year_id": 1, "block_id": 2, "theme_id": 4}),
}


def attempt(
    question_id: str = Q1, option: int = 1, answered_at: str = "2026-01-28T10:00:00Z", **change: str
) -> AttemptInput:
    """A valid attempt of its own offline session, fresh ids."""
    made = AttemptInput(
        client_attempt_id=str(uuid.uuid4()),
        idempotency_key=str(uuid.uuid4()),
        offline_session_id=str(uuid.uuid4()),
        session_id="",
        question_id=question_id,
        selected_option_index=option,
        answered_at=answered_at,
        payload_hash=payload_hash(answered_at, question_id, option),
        package_id="",
    )
    return dataclasses.replace(made, **change)


@dataclasses.dataclass
class Sync:
    use_cases: SyncUseCases
    store: FakeSyncStore
    cache: FakeResultCache
    questions: FakeQuestions
    registry: CollectorRegistry

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def sync() -> Sync:
    store, cache = FakeSyncStore(), FakeResultCache()
    questions = FakeQuestions(BANK, {PACKAGE: dict(BANK), DRAFT: None})
    registry = CollectorRegistry()
    return Sync(
        SyncUseCases(store, cache, questions, SyncMetrics(registry)), store, cache, questions, registry
    )


async def test_a_new_attempt_is_acked_in_a_new_session_of_its_questions_scope(sync: Sync):
    a, b = attempt(Q1), attempt(Q2, option=0)
    b.offline_session_id = a.offline_session_id
    results = await sync.use_cases.sync_batch(USER, [a, b])
    assert [r.status for r in results] == ["acked", "acked"]
    assert results[0].server_session_id == results[1].server_session_id
    view, answered, correct = await sync.use_cases.session(USER, results[0].server_session_id)
    assert (view.status, view.mode, view.offline_session_id) == ("ACTIVE", "TUTOR", a.offline_session_id)
    assert view.scope == {"year_id": 1, "block_id": 2, "theme_id": None}  # the tags Q1 and Q2 agree on
    assert (answered, correct) == (2, 2)


async def test_a_key_repeated_in_one_batch_is_acked_once_then_a_duplicate(sync: Sync):
    a = attempt()
    first, second = await sync.use_cases.sync_batch(USER, [a, dataclasses.replace(a)])
    assert (first.status, second.status) == ("acked", "duplicate")
    assert (first.server_attempt_id, first.server_session_id) == (
        second.server_attempt_id,
        second.server_session_id,
    )
    assert len(sync.store.attempts) == 1


async def test_a_resent_attempt_is_a_duplicate_with_the_same_ids(sync: Sync):
    a = attempt()
    [first] = await sync.use_cases.sync_batch(USER, [a])
    sync.cache.results.clear()  # the database answers, not the cache
    [again] = await sync.use_cases.sync_batch(USER, [a])
    assert again.status == "duplicate"
    assert (again.server_attempt_id, again.server_session_id) == (
        first.server_attempt_id,
        first.server_session_id,
    )


async def test_same_key_different_content_is_an_error(sync: Sync):
    a = attempt()
    await sync.use_cases.sync_batch(USER, [a])
    other = attempt(idempotency_key=a.idempotency_key, offline_session_id=a.offline_session_id, option=2)
    [result] = await sync.use_cases.sync_batch(USER, [other])
    assert (result.status, result.error_code) == ("rejected", "IDEMPOTENCY_KEY_REUSED")


async def test_an_invalid_attempt_is_rejected_alone_and_never_stored(sync: Sync):
    bad = attempt(payload_hash="0" * 64)
    good = attempt()
    results = await sync.use_cases.sync_batch(USER, [bad, good])
    assert [(r.status, r.error_code) for r in results] == [
        ("rejected", "PAYLOAD_HASH_MISMATCH"),
        ("acked", None),
    ]
    assert list(sync.store.attempts) == [(USER.sub, good.idempotency_key)]


@pytest.mark.parametrize("count", [0, 101])
async def test_a_batch_of_the_wrong_size_is_refused_before_the_store(sync: Sync, count: int):
    with pytest.raises(InvalidField) as caught:
        await sync.use_cases.sync_batch(USER, [attempt() for _ in range(count)])
    assert caught.value.field == "attempts"
    assert sync.store.calls == [] and sync.questions.fetches == []


async def test_an_overlong_subject_is_refused_before_the_store(sync: Sync):
    caller = dataclasses.replace(USER, sub="u" * 129)
    for call in (
        sync.use_cases.sync_batch(caller, [attempt()]),
        sync.use_cases.session(caller, str(uuid.uuid4())),
        sync.use_cases.receipts(caller, [str(uuid.uuid4())]),
    ):
        with pytest.raises(InvalidField):
            await call
    assert sync.store.calls == []


async def test_attempts_are_scored_against_their_questions(sync: Sync):
    results = await sync.use_cases.sync_batch(
        USER,
        [
            attempt(str(uuid.uuid4())),
            attempt(Q1, option=4),
            attempt(Q1, package_id=DRAFT),
            attempt(Q1, package_id=str(uuid.uuid4())),
            attempt(Q1, package_id=PACKAGE),
        ],
    )
    assert [r.error_code for r in results] == [
        "QUESTION_NOT_FOUND",
        "INVALID_OPTION_INDEX",
        "PACKAGE_NOT_PUBLISHED",
        "QUESTION_NOT_FOUND",
        None,
    ]
    assert results[1].error_message == "selected_option_index: the question has 4 options"
    assert results[3].error_message == "question_id: not in this package"


async def test_questions_are_fetched_once_per_source_not_per_attempt(sync: Sync):
    await sync.use_cases.sync_batch(
        USER,
        [
            attempt(Q1),
            attempt(Q2, option=0),
            attempt(Q1, package_id=PACKAGE),
            attempt(Q2, package_id=PACKAGE),
        ],
    )
    both = sorted([Q1, Q2])
    assert sorted(sync.questions.fetches, key=str) == sorted([(both, None), (both, PACKAGE)], key=str)


async def test_an_attempt_refused_now_but_stored_before_is_a_duplicate(sync: Sync):
    a = attempt(Q1)
    [first] = await sync.use_cases.sync_batch(USER, [a])
    sync.cache.results.clear()
    del sync.questions.bank[Q1]  # the question is gone since: the stored attempt still answers
    [again] = await sync.use_cases.sync_batch(USER, [a])
    assert (again.status, again.server_attempt_id) == ("duplicate", first.server_attempt_id)


async def test_an_unknown_session_id_is_rejected(sync: Sync):
    [result] = await sync.use_cases.sync_batch(
        USER, [attempt(offline_session_id="", session_id=str(uuid.uuid4()))]
    )
    assert (result.status, result.error_code) == ("rejected", "SESSION_NOT_FOUND")


async def test_another_users_session_id_is_rejected_and_not_found(sync: Sync):
    theirs = sync.store.add_session("user-2")
    [result] = await sync.use_cases.sync_batch(USER, [attempt(offline_session_id="", session_id=theirs)])
    assert result.error_code == "SESSION_NOT_FOUND"
    with pytest.raises(NotFound):
        await sync.use_cases.session(USER, theirs)


async def test_an_attempt_in_an_existing_server_session_is_acked_there(sync: Sync):
    mine = sync.store.add_session(USER.sub)
    [result] = await sync.use_cases.sync_batch(USER, [attempt(offline_session_id="", session_id=mine)])
    assert (result.status, result.server_session_id) == ("acked", mine)


async def test_cached_results_answer_without_the_store(sync: Sync):
    a = attempt()
    [first] = await sync.use_cases.sync_batch(USER, [a])
    sync.store.calls.clear()
    [again] = await sync.use_cases.sync_batch(USER, [a])
    assert (again.status, again.server_attempt_id) == ("duplicate", first.server_attempt_id)
    assert sync.store.calls == [] and sync.questions.fetches[1:] == []
    assert sync.cache.remembered[-1] == ({}, {})  # nothing new to remember


async def test_only_new_outcomes_and_new_sessions_are_remembered(sync: Sync):
    a = attempt()
    await sync.use_cases.sync_batch(USER, [a])
    [(results, sessions)] = sync.cache.remembered
    assert list(results) == [a.idempotency_key] and list(sessions) == [a.offline_session_id]
    b = attempt(offline_session_id=a.offline_session_id)
    cached, stored = await sync.use_cases.sync_batch(USER, [a, b])
    assert (cached.status, stored.status) == ("duplicate", "acked")
    results, _ = sync.cache.remembered[-1]
    assert list(results) == [b.idempotency_key]  # not a's, which the cache answered
    assert sync.metric("studysync_sync_session_mappings_total", source="cache") == 1


async def test_the_latest_answer_of_a_question_counts(sync: Sync):
    later = attempt(Q1, option=2, answered_at="2026-01-28T10:05:00Z")
    earlier = attempt(
        Q1, option=1, answered_at="2026-01-28T10:00:00Z", offline_session_id=later.offline_session_id
    )
    [stored] = await sync.use_cases.sync_batch(USER, [later])
    await sync.use_cases.sync_batch(USER, [earlier])  # arrives last, answered first: does not count
    view, answered, correct = await sync.use_cases.session(USER, stored.server_session_id)
    assert (answered, correct) == (1, 0)
    assert view.answers[0]["selected_option_index"] == 2


async def test_an_unknown_session_is_not_found(sync: Sync):
    with pytest.raises(NotFound) as caught:
        await sync.use_cases.session(USER, str(uuid.uuid4()))
    assert caught.value.reason == "SESSION_NOT_FOUND"


async def test_a_session_id_that_is_no_uuid_is_refused_before_the_store(sync: Sync):
    with pytest.raises(InvalidField):
        await sync.use_cases.session(USER, "nope")
    assert sync.store.calls == []


async def test_receipts_answer_in_request_order_with_canonical_keys(sync: Sync):
    a = attempt()
    [stored] = await sync.use_cases.sync_batch(USER, [a])
    spelled = a.idempotency_key.replace("-", "").upper()  # another spelling of the same UUID key
    receipts = await sync.use_cases.receipts(USER, ["not-stored", spelled])
    assert receipts == [
        ("not-stored", None),
        (spelled, (stored.server_attempt_id, stored.server_session_id)),
    ]


@pytest.mark.parametrize("keys", [[], ["k"] * 501, ["bad\x1fkey"]])
async def test_bad_receipt_requests_are_refused_before_the_store(sync: Sync, keys: list[str]):
    with pytest.raises(InvalidField):
        await sync.use_cases.receipts(USER, keys)
    assert sync.store.calls == []


async def test_each_batch_is_counted_by_outcome(sync: Sync):
    await sync.use_cases.sync_batch(USER, [attempt(), attempt(payload_hash="0" * 64)])
    assert sync.metric("studysync_sync_attempts_total", status="acked", reason="") == 1
    assert (
        sync.metric("studysync_sync_attempts_total", status="rejected", reason="PAYLOAD_HASH_MISMATCH") == 1
    )
    assert sync.metric("studysync_sync_batch_size_count") == 1
    assert sync.metric("studysync_sync_replay_age_seconds_count") == 1
    assert sync.metric("studysync_sync_session_mappings_total", source="database") == 1
