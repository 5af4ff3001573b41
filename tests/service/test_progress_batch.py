"""POST /api/v1/progress/batch semantics over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import struct_pb2

from studysync.progress.v1 import progress_service_pb2 as pb
from studysync.progress.v1 import resources_pb2 as res
from tests.conftest import auth
from tests.helpers import cancel_mid_write, error_info, progress_item, wait_until_async


def new_profile() -> str:
    return f"profile-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def profile() -> str:
    return new_profile()


@pytest.fixture
def call(progress_stub, make_token, profile):
    token = make_token("user-1", [profile])

    async def batch(*items: res.ProgressItem, profile_id: str | None = None) -> list[res.ProgressResult]:
        request = pb.BatchRecordProgressRequest(profile_id=profile_id or profile, items=items)
        return list((await progress_stub.BatchRecordProgress(request, metadata=auth(token))).results)

    return batch


async def test_seed_request_is_stored_and_returns_ok_with_a_server_id(call):
    meta = struct_pb2.Value()
    meta.struct_value.update({"attempts": 2, "hint_used": False})
    [result] = await call(progress_item("k-1", duration_seconds=12, meta_data=meta))
    assert result.status == "ok"
    assert uuid.UUID(result.server_id)
    assert not result.HasField("error")


async def test_same_key_same_content_is_a_duplicate_with_the_original_server_id(call):
    [first] = await call(progress_item("k-1"))
    [again] = await call(progress_item("k-1"))
    assert (again.status, again.server_id) == ("duplicate", first.server_id)


async def test_timestamps_are_compared_as_instants(call):
    [first] = await call(progress_item("k-1", timestamp="2026-01-29T10:00:00Z"))
    [again] = await call(progress_item("k-1", timestamp="2026-01-29T15:30:00.000+05:30"))
    assert (again.status, again.server_id) == ("duplicate", first.server_id)


async def test_same_key_different_content_is_an_error_and_the_stored_item_stays(
    call, progress_stub, make_token, profile
):
    [first] = await call(progress_item("k-1", score=1.0))
    [reused] = await call(progress_item("k-1", score=0.5))
    assert reused.status == "error"
    assert reused.error_code == "IDEMPOTENCY_KEY_REUSED"
    assert "idempotency_key" in reused.error
    assert not reused.HasField("server_id")
    listed = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile), metadata=auth(make_token("user-1", [profile]))
    )
    assert [(r.server_id, r.score) for r in listed.items] == [(first.server_id, 1.0)]


BAD_ITEMS = [
    ("idempotency_key", progress_item("")),
    ("idempotency_key", progress_item("k" * 129)),
    ("idempotency_key", progress_item("ключ")),
    ("activity_type", progress_item("k-a", activity_type="")),
    ("content_id", progress_item("k-c", content_id="x" * 129)),
    ("score", progress_item("k-s", score=math.nan)),
    ("score", progress_item("k-i", score=math.inf)),
    ("duration_seconds", progress_item("k-d", duration_seconds=-1)),
    ("meta_data", progress_item("k-m", meta_data=struct_pb2.Value(string_value="not an object"))),
    (
        "meta_data",
        progress_item(
            "k-n",
            meta_data=struct_pb2.Value(
                struct_value=struct_pb2.Struct(
                    fields={
                        "level": struct_pb2.Value(
                            list_value=struct_pb2.ListValue(values=[struct_pb2.Value(number_value=math.nan)])
                        )
                    }
                )
            ),
        ),
    ),
    ("timestamp", progress_item("k-t")),  # replaced below: no offset
    ("timestamp", progress_item("k-g", timestamp="yesterday")),
    ("timestamp", progress_item("k-f", timestamp=(datetime.now(UTC) + timedelta(hours=25)).isoformat())),
    ("timestamp", progress_item("k-e", timestamp="")),
    ("timestamp", progress_item("k-n", timestamp="2026-01-29T10:00:00Z\n")),  # not RFC 3339: a `$` let it in
]
BAD_ITEMS[10] = ("timestamp", progress_item("k-t", timestamp="2026-01-29T10:00:00"))


async def test_mixed_batch_bad_items_are_errors_naming_the_field_and_good_items_are_stored(call):
    big = struct_pb2.Value()
    big.struct_value.update({"blob": "x" * 9000})
    bad = [*BAD_ITEMS, ("meta_data", progress_item("k-big", meta_data=big))]
    batch = [progress_item("good-1"), *(i for _, i in bad), progress_item("good-2")]
    results = await call(*batch)
    assert [r.idempotency_key for r in results] == [i.idempotency_key for i in batch]
    assert results[0].status == results[-1].status == "ok"
    for (field, _), result in zip(bad, results[1:-1], strict=True):
        assert result.status == "error", field
        assert result.error.startswith(field), (field, result.error)
        assert result.error_code == "INVALID_FIELD"
        assert not result.HasField("server_id")


@pytest.mark.parametrize("field", ["score", "activity_type", "content_id", "timestamp", "idempotency_key"])
async def test_a_missing_required_field_is_an_error_and_the_corrected_resend_is_stored(call, field):
    complete = progress_item(f"k-missing-{field}", score=0.0)  # 0 is a real score; absent is not
    missing = res.ProgressItem()
    missing.CopyFrom(complete)
    missing.ClearField(field)
    [refused] = await call(missing)
    assert (refused.status, refused.error_code, refused.error) == (
        "error",
        "INVALID_FIELD",
        f"{field}: is required",
    )
    [stored] = await call(complete)  # the same key, now complete: not IDEMPOTENCY_KEY_REUSED
    assert stored.status == "ok"


async def test_same_key_twice_in_one_batch_behaves_like_two_batches_in_order(call):
    same = await call(progress_item("k-1"), progress_item("k-1"))
    assert [r.status for r in same] == ["ok", "duplicate"]
    assert same[0].server_id == same[1].server_id
    different = await call(progress_item("k-2", score=1), progress_item("k-2", score=2))
    assert [r.status for r in different] == ["ok", "error"]
    assert different[1].error_code == "IDEMPOTENCY_KEY_REUSED"


async def test_twenty_concurrent_identical_batches_store_one_row_per_key(
    call, progress_stub, make_token, profile
):
    batch = [progress_item(f"k-{n}", score=n) for n in range(25)]
    outcomes = await asyncio.gather(*(call(*batch) for _ in range(20)))
    for n in range(25):
        ids = {results[n].server_id for results in outcomes}
        statuses = sorted(results[n].status for results in outcomes)
        assert len(ids) == 1
        assert statuses == ["duplicate"] * 19 + ["ok"]
    listed = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile, page_size=500),
        metadata=auth(make_token("user-1", [profile])),
    )
    assert sorted(r.idempotency_key for r in listed.items) == sorted(f"k-{n}" for n in range(25))


async def test_another_users_profile_is_permission_denied(progress_stub, make_token):
    token = make_token("user-1", ["mine"])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await progress_stub.BatchRecordProgress(
            pb.BatchRecordProgressRequest(profile_id="theirs", items=[progress_item("k")]),
            metadata=auth(token),
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(caught.value).metadata["field"] == "profile_id"


@pytest.mark.parametrize(
    ("profile_id", "count", "field"),
    [("", 1, "profile_id"), ("p", 0, "items"), ("p", 501, "items")],
)
async def test_bad_requests_are_invalid_argument_naming_the_field(
    progress_stub, make_token, profile_id, count, field
):
    token = make_token("user-1", ["p"])
    request = pb.BatchRecordProgressRequest(
        profile_id=profile_id, items=[progress_item(f"k-{n}") for n in range(count)]
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await progress_stub.BatchRecordProgress(request, metadata=auth(token))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == field
    assert caught.value.details().startswith(field)


async def test_five_hundred_items_are_accepted(call):
    results = await call(*(progress_item(f"k-{n}") for n in range(500)))
    assert [r.status for r in results] == ["ok"] * 500


@pytest.mark.parametrize("token_kind", ["missing", "expired", "forged", "not bearer"])
async def test_bad_tokens_are_unauthenticated(progress_stub, make_token, token_kind):
    good = make_token("user-1", ["p"])
    metadata = {
        "missing": (),
        "expired": auth(make_token("user-1", ["p"], ttl=-60)),
        "forged": auth(good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")),
        "not bearer": (("authorization", f"Basic {good}"),),
    }[token_kind]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await progress_stub.BatchRecordProgress(
            pb.BatchRecordProgressRequest(profile_id="p", items=[progress_item("k")]), metadata=metadata
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Traceback" not in caught.value.details()


async def test_a_batch_cancelled_mid_write_is_written_whole_and_the_service_stays_healthy(
    progress_server, progress_stub, profile, make_token, hold_next_write
):
    """A client that gives up (a deadline, a dropped connection) while its batch is being written: the
    write runs to its end and frees its connection (on SQLite, the one write lock); the retry finds
    every item stored once, and later batches are written."""
    metadata = auth(make_token("impatient", [profile]))
    batch = pb.BatchRecordProgressRequest(
        profile_id=profile, items=[progress_item(f"impatient-{n}") for n in range(40)]
    )
    write = hold_next_write(progress_server)
    call = progress_stub.BatchRecordProgress(batch, metadata=metadata)
    method = "/studysync.progress.v1.ProgressService/BatchRecordProgress"
    await cancel_mid_write(call, write, progress_server.metrics_url, method)
    write.release()

    async def written() -> list[str]:
        request = pb.ListProgressRequest(profile_id=profile, page_size=500)
        return [
            i.idempotency_key for i in (await progress_stub.ListProgress(request, metadata=metadata)).items
        ]

    keys = await wait_until_async(written, what="the cancelled batch's write to finish")
    assert sorted(keys) == sorted(i.idempotency_key for i in batch.items)
    retried = await progress_stub.BatchRecordProgress(batch, metadata=metadata)
    assert [r.status for r in retried.results] == ["duplicate"] * len(batch.items)
    later = pb.BatchRecordProgressRequest(profile_id=profile, items=[progress_item("later")])
    assert (await progress_stub.BatchRecordProgress(later, metadata=metadata)).results[0].status == "ok"


async def test_any_unicode_text_is_stored_exactly_and_nul_is_refused_by_field(
    call, progress_stub, make_token, profile
):
    """Text travels to PostgreSQL inside JSON: quotes, commas, backslashes, accents and emoji come back
    exactly; NUL (which no PostgreSQL text can hold) is a per-item error naming the field, never a 500."""
    odd = 'a,b "c" \\\\d é 😀 \\t'
    results = await call(
        progress_item(
            "unicode-1",
            activity_type=odd,
            content_id=odd,
            meta_data=struct_pb2.Value(
                struct_value=struct_pb2.Struct(fields={odd: struct_pb2.Value(string_value=odd)})
            ),
        ),
        progress_item("nul-1", activity_type="bad\x00type"),
        progress_item("nul-2", content_id="bad\x00content"),
        progress_item("nul-3\x00"),
    )
    assert [r.status for r in results] == ["ok", "error", "error", "error"]
    assert [r.error_code for r in results[1:]] == ["INVALID_FIELD"] * 3
    for result, field in zip(results[1:], ["activity_type", "content_id", "idempotency_key"], strict=True):
        assert field in result.error
    listed = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile), metadata=auth(make_token("user-1", [profile]))
    )
    stored = [i for i in listed.items if i.idempotency_key == "unicode-1"][0]
    assert (stored.activity_type, stored.content_id) == (odd, odd)
    assert stored.meta_data.fields[odd].string_value == odd
