"""The progress use cases on an in-memory store: outcomes per item, paging, refusals, metrics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.progress.domain import MAX_ITEMS, ProgressItem, Rollout
from services.progress.metrics import ProgressMetrics
from services.progress.use_cases import ProgressUseCases
from services.runtime.auth import Principal
from services.runtime.errors import InvalidField, PermissionDenied
from tests.fakes import FakeProgressStore

PROFILE = "profile-1"
CALLER = Principal("user-1", frozenset({PROFILE}), frozenset(), "token")


def item(key: str, score: float | None = 0.5, timestamp: str = "2026-01-28T10:00:00Z") -> ProgressItem:
    return ProgressItem(key, "quiz", "content-1", score, 30.0, {"k": 1}, timestamp)


@pytest.fixture
def store() -> FakeProgressStore:
    return FakeProgressStore()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def progress(store: FakeProgressStore, registry: CollectorRegistry) -> ProgressUseCases:
    rollout = Rollout(0, allow=frozenset({"vip"}), deny=frozenset())
    return ProgressUseCases(store, rollout, ProgressMetrics(registry))


def statuses(results) -> list[tuple[str, str | None]]:
    return [(r.status, r.error_code) for r in results]


async def test_new_items_are_ok_and_a_resent_batch_is_all_duplicates(progress):
    first = await progress.record_batch(CALLER, PROFILE, [item("a"), item("b")])
    again = await progress.record_batch(CALLER, PROFILE, [item("a"), item("b")])
    assert statuses(first) == [("ok", None), ("ok", None)]
    assert statuses(again) == [("duplicate", None), ("duplicate", None)]
    assert [r.server_id for r in again] == [r.server_id for r in first]
    assert all(r.occurred_at is None for r in again)  # only new items count towards the replay age


async def test_a_key_repeated_inside_a_batch_is_decided_by_its_first_copy(progress, store):
    results = await progress.record_batch(
        CALLER, PROFILE, [item("a"), item("a"), item("a", score=0.9), item("b")]
    )
    assert statuses(results) == [
        ("ok", None),
        ("duplicate", None),
        ("error", "IDEMPOTENCY_KEY_REUSED"),
        ("ok", None),
    ]
    assert results[0].server_id == results[1].server_id
    assert [r.idempotency_key for r in store.records[PROFILE]] == ["a", "b"]


async def test_a_key_reused_for_other_content_in_a_later_batch_is_an_error(progress):
    await progress.record_batch(CALLER, PROFILE, [item("a")])
    (result,) = await progress.record_batch(CALLER, PROFILE, [item("a", timestamp="2026-01-28T11:00:00Z")])
    assert (result.status, result.error_code, result.server_id) == ("error", "IDEMPOTENCY_KEY_REUSED", None)
    assert result.error == "idempotency_key: already used for different content"


async def test_the_same_instant_written_another_way_is_the_same_content(progress):
    await progress.record_batch(CALLER, PROFILE, [item("a", timestamp="2026-01-28T10:00:00Z")])
    (result,) = await progress.record_batch(
        CALLER, PROFILE, [item("a", timestamp="2026-01-28T11:00:00+01:00")]
    )
    assert result.status == "duplicate"


async def test_a_bad_item_is_answered_alone_and_the_others_are_stored(progress, store):
    results = await progress.record_batch(CALLER, PROFILE, [item("a"), item("b", score=None), item("c")])
    assert statuses(results) == [("ok", None), ("error", "INVALID_FIELD"), ("ok", None)]
    assert results[1].error == "score: is required"
    assert [r.idempotency_key for r in store.records[PROFILE]] == ["a", "c"]


async def test_a_batch_of_only_bad_items_never_reaches_the_store(progress, store):
    results = await progress.record_batch(CALLER, PROFILE, [item("a", score=float("nan")), item("")])
    assert [r.error_code for r in results] == ["INVALID_FIELD", "INVALID_FIELD"]
    assert store.calls == []


@pytest.mark.parametrize(
    ("principal", "profile_id", "count", "error"),
    [
        (CALLER, "someone-else", 1, PermissionDenied),
        (CALLER, "", 1, InvalidField),
        (CALLER, "p" * 129, 1, InvalidField),
        (CALLER, PROFILE, 0, InvalidField),
        (CALLER, PROFILE, MAX_ITEMS + 1, InvalidField),
    ],
    ids=["other-profile", "no-profile", "profile-too-long", "empty", "too-many"],
)
async def test_a_refused_batch_is_refused_before_the_store_is_touched(
    progress, store, registry, principal, profile_id, count, error
):
    with pytest.raises(error):
        await progress.record_batch(principal, profile_id, [item(f"k{n}") for n in range(count)])
    assert store.calls == []
    assert registry.get_sample_value("studysync_progress_batches_total") == 0


async def test_metrics_count_items_by_status_and_reason_retries_and_replay_age(progress, registry):
    await progress.record_batch(CALLER, PROFILE, [item("a"), item("b", score=None)])
    await progress.record_batch(CALLER, PROFILE, [item("a"), item("c")], retry=12)

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("studysync_progress_batches_total") == 2
    assert sample("studysync_progress_batch_size_count") == 2
    assert sample("studysync_progress_items_total", status="ok", reason="") == 2
    assert sample("studysync_progress_items_total", status="duplicate", reason="") == 1
    assert sample("studysync_progress_items_total", status="error", reason="INVALID_FIELD") == 1
    assert sample("studysync_progress_client_retries_total", retry="10") == 1  # capped
    assert sample("studysync_progress_replay_age_seconds_count") == 2  # the two new items


async def test_pages_end_with_an_empty_token_and_the_resume_token_finds_only_new_items(progress):
    await progress.record_batch(CALLER, PROFILE, [item(f"k{n}") for n in range(5)])
    first, next_page, resume = await progress.list_progress(CALLER, PROFILE, 2, "")
    second, next_page, _ = await progress.list_progress(CALLER, PROFILE, 2, next_page)
    last, end, resume = await progress.list_progress(CALLER, PROFILE, 2, next_page)
    assert [r.idempotency_key for r in first + second + last] == [f"k{n}" for n in range(5)]
    assert end == ""  # the last page (AIP-158)
    nothing, end, same = await progress.list_progress(CALLER, PROFILE, 2, "", resume)
    assert (nothing, end, same) == ([], "", resume)
    await progress.record_batch(CALLER, PROFILE, [item("k5")])
    new, _, _ = await progress.list_progress(CALLER, PROFILE, 2, "", resume)
    assert [r.idempotency_key for r in new] == ["k5"]


async def test_an_exactly_full_last_page_has_no_next_token(progress):
    await progress.record_batch(CALLER, PROFILE, [item("a"), item("b")])
    records, next_page, _ = await progress.list_progress(CALLER, PROFILE, 2, "")
    assert len(records) == 2 and next_page == ""


async def test_reading_refuses_both_tokens_a_foreign_token_and_another_profile_before_the_store(
    progress, store
):
    _, _, resume = await progress.list_progress(CALLER, PROFILE, 2, "")
    store.calls.clear()
    with pytest.raises(InvalidField, match="resume_token"):
        await progress.list_progress(CALLER, PROFILE, 2, resume, resume)
    with pytest.raises(InvalidField, match="page_token"):
        await progress.list_progress(CALLER, PROFILE, 2, "not-a-token")
    with pytest.raises(PermissionDenied):
        await progress.list_progress(CALLER, "someone-else", 2, "")
    assert store.calls == []


async def test_receipts_answer_every_key_in_request_order(progress):
    (stored,) = await progress.record_batch(CALLER, PROFILE, [item("a")])
    assert await progress.receipts(CALLER, PROFILE, ["missing", "a"]) == [
        ("missing", None),
        ("a", stored.server_id),
    ]


async def test_receipts_refuse_bad_key_lists_before_the_store(progress, store):
    for keys in ([], ["k"] * 501, [""]):
        with pytest.raises(InvalidField, match="idempotency_keys"):
            await progress.receipts(CALLER, PROFILE, keys)
    assert store.calls == []


def test_the_flag_follows_the_rollout_for_profiles_the_caller_may_act_for(progress):
    vip = Principal("user-2", frozenset({"vip", PROFILE}), frozenset(), "token")
    assert progress.offline_progress_enabled(vip, "vip") is True
    assert progress.offline_progress_enabled(vip, PROFILE) is False  # 0 %
    with pytest.raises(PermissionDenied):
        progress.offline_progress_enabled(CALLER, "vip")
