"""Read-back, receipts, feature flag, failures and metrics of the progress service."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from services.progress.wiring import SPEC as PROGRESS
from studysync.progress.v1 import progress_service_pb2 as pb
from studysync.progress.v1 import progress_service_pb2_grpc as pb_grpc
from tests.conftest import auth, service_settings, start_server
from tests.helpers import error_info, metric_value, progress_item, scrape_metrics


@pytest.fixture
def profile() -> str:
    return f"profile-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def metadata(make_token, profile):
    return auth(make_token("user-1", [profile]))


async def test_read_back_pages_in_server_order_without_skips_or_repeats_while_writing(
    progress_stub, profile, metadata
):
    async def write(start: int, count: int) -> None:
        batch = [progress_item(f"k-{n:04d}") for n in range(start, start + count)]
        await progress_stub.BatchRecordProgress(
            pb.BatchRecordProgressRequest(profile_id=profile, items=batch), metadata=metadata
        )

    await write(0, 25)
    seen: list[str] = []
    token = ""
    writes = iter([(25, 7), (32, 13), (45, 5)])
    while True:  # a generic AIP-158 loop: page until the token is empty
        page = await progress_stub.ListProgress(
            pb.ListProgressRequest(profile_id=profile, page_size=10, page_token=token), metadata=metadata
        )
        seen += [r.idempotency_key for r in page.items]
        assert page.resume_token, "a resume token on every page"
        more = next(writes, None)
        if more:
            await write(*more)  # new items arrive while the device is paging
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"k-{n:04d}" for n in range(50)]
    # Later, the last page's resume token yields only what arrived since.
    resume = page.resume_token
    await write(50, 2)
    page = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile, resume_token=resume), metadata=metadata
    )
    assert [r.idempotency_key for r in page.items] == ["k-0050", "k-0051"]
    assert page.next_page_token == ""
    idle = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile, resume_token=page.resume_token), metadata=metadata
    )
    assert list(idle.items) == [] and idle.next_page_token == "" and idle.resume_token == page.resume_token


async def test_a_full_last_page_ends_the_list(progress_stub, profile, metadata):
    """Exactly page_size items left: the page is full and still the last one."""
    batch = [progress_item(f"k-{n}") for n in range(4)]
    await progress_stub.BatchRecordProgress(
        pb.BatchRecordProgressRequest(profile_id=profile, items=batch), metadata=metadata
    )
    first = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile, page_size=2), metadata=metadata
    )
    last = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile, page_size=2, page_token=first.next_page_token),
        metadata=metadata,
    )
    assert first.next_page_token and len(last.items) == 2 and last.next_page_token == ""


async def test_read_back_returns_what_was_sent(progress_stub, profile, metadata):
    sent = progress_item("k-1", score=0, duration_seconds=3.5, timestamp="2026-01-29T15:30:00+05:30")
    sent.meta_data.struct_value.update({"level": 2, "tags": ["a", "b"]})
    [result] = (
        await progress_stub.BatchRecordProgress(
            pb.BatchRecordProgressRequest(profile_id=profile, items=[sent]), metadata=metadata
        )
    ).results
    [record] = (
        await progress_stub.ListProgress(pb.ListProgressRequest(profile_id=profile), metadata=metadata)
    ).items
    assert record.server_id == result.server_id
    assert (record.profile_id, record.activity_type, record.content_id) == (
        profile,
        "letter_trace",
        "letter-a",
    )
    assert (record.score, record.duration_seconds) == (0, 3.5)
    assert record.timestamp.ToJsonString() == "2026-01-29T10:00:00Z"
    assert record.server_received_at.seconds > record.timestamp.seconds
    assert json_format.MessageToDict(record.meta_data) == {"level": 2, "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("field", "request_args"),
    [
        ("page_token", {"page_token": "not-a-token"}),
        ("resume_token", {"resume_token": "not-a-token"}),
        ("resume_token", {"page_token": "djE6MQ", "resume_token": "djE6MQ"}),
        ("page_size", {"page_size": -1}),
        ("profile_id", {"profile_id": ""}),
    ],
)
async def test_bad_read_back_requests_name_the_field(progress_stub, profile, metadata, field, request_args):
    request = pb.ListProgressRequest(**{"profile_id": profile, **request_args})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await progress_stub.ListProgress(request, metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == field


async def test_receipts_tell_which_keys_the_server_holds(progress_stub, profile, metadata):
    [stored] = (
        await progress_stub.BatchRecordProgress(
            pb.BatchRecordProgressRequest(profile_id=profile, items=[progress_item("have")]),
            metadata=metadata,
        )
    ).results
    receipts = (
        await progress_stub.BatchGetProgressReceipts(
            pb.BatchGetProgressReceiptsRequest(profile_id=profile, idempotency_keys=["missing", "have"]),
            metadata=metadata,
        )
    ).receipts
    assert [(r.idempotency_key, r.found, r.server_id) for r in receipts] == [
        ("missing", False, ""),
        ("have", True, stored.server_id),
    ]
    assert not receipts[0].HasField("server_id")


@pytest.mark.parametrize("keys", [[], [f"k{n}" for n in range(501)], [""]])
async def test_bad_receipt_requests_are_invalid_argument(progress_stub, profile, metadata, keys):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await progress_stub.BatchGetProgressReceipts(
            pb.BatchGetProgressReceiptsRequest(profile_id=profile, idempotency_keys=keys), metadata=metadata
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(caught.value).metadata["field"] == "idempotency_keys"


async def test_receipts_and_features_of_another_profile_are_denied(progress_stub, make_token):
    metadata = auth(make_token("user-1", ["mine"]))
    for call in (
        progress_stub.BatchGetProgressReceipts(
            pb.BatchGetProgressReceiptsRequest(profile_id="theirs", idempotency_keys=["k"]), metadata=metadata
        ),
        progress_stub.GetFeatures(pb.GetFeaturesRequest(profile_id="theirs"), metadata=metadata),
        progress_stub.ListProgress(pb.ListProgressRequest(profile_id="theirs"), metadata=metadata),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_features_answer_the_offline_progress_flag(progress_stub, profile, metadata):
    features = await progress_stub.GetFeatures(pb.GetFeaturesRequest(profile_id=profile), metadata=metadata)
    assert features.HasField("offline_progress")
    assert features.offline_progress is True  # default rollout: 100 %


async def test_metrics_count_items_by_status_batches_retries_and_replay_age(
    progress_server, progress_stub, profile, metadata
):
    before = await scrape_metrics(progress_server.metrics_url)
    retry = (*metadata, ("x-client-retry", "2"))
    batch = pb.BatchRecordProgressRequest(
        profile_id=profile, items=[progress_item("m-1"), progress_item("m-2"), progress_item("")]
    )
    await progress_stub.BatchRecordProgress(batch, metadata=metadata)
    await progress_stub.BatchRecordProgress(batch, metadata=retry)
    after = await scrape_metrics(progress_server.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    assert delta("studysync_progress_items_total", status="ok", reason="") == 2
    assert delta("studysync_progress_items_total", status="duplicate", reason="") == 2
    assert delta("studysync_progress_items_total", status="error", reason="INVALID_FIELD") == 2
    assert delta("studysync_progress_batches_total") == 2
    assert delta("studysync_progress_client_retries_total", retry="2") == 1
    assert delta("studysync_progress_replay_age_seconds_count") == 2
    assert (
        delta(
            "studysync_rpc_requests_total",
            method="/studysync.progress.v1.ProgressService/BatchRecordProgress",
            code="OK",
        )
        == 2
    )


async def test_database_unreachable_is_unavailable_and_a_retry_later_is_clean(
    progress_stub, state: Path, run_id: str, make_token, profile, metadata
):
    """A transient failure fails the whole request as retryable; nothing is half-written."""
    broken = dataclasses.replace(
        service_settings(PROGRESS, "postgres", state, run_id),
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/test",
        migrate_on_start=False,
    )
    handle = await start_server(PROGRESS, broken)
    try:
        stub = pb_grpc.ProgressServiceStub(handle.channel)
        batch = pb.BatchRecordProgressRequest(
            profile_id=profile, items=[progress_item("t-1"), progress_item("t-2")]
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.BatchRecordProgress(batch, metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(caught.value).reason == "DEPENDENCY_UNAVAILABLE"
        assert "127.0.0.1:1" not in caught.value.details()  # no driver text leaks
    finally:
        await handle.channel.close()
        await handle.service.stop(0)
    retried = await progress_stub.BatchRecordProgress(batch, metadata=metadata)
    assert [r.status for r in retried.results] == ["ok", "ok"]
    again = await progress_stub.BatchRecordProgress(batch, metadata=metadata)
    assert [r.status for r in again.results] == ["duplicate", "duplicate"]


async def test_concurrent_batches_of_one_profile_keep_cursor_order(progress_stub, profile, metadata):
    batches = [[progress_item(f"c{b}-{n}") for n in range(10)] for b in range(8)]
    await asyncio.gather(
        *(
            progress_stub.BatchRecordProgress(
                pb.BatchRecordProgressRequest(profile_id=profile, items=b), metadata=metadata
            )
            for b in batches
        )
    )
    listed = await progress_stub.ListProgress(
        pb.ListProgressRequest(profile_id=profile, page_size=500), metadata=metadata
    )
    keys = [r.idempotency_key for r in listed.items]
    assert sorted(keys) == sorted(i.idempotency_key for b in batches for i in b)
    # each batch's items are contiguous and in request order
    for b in batches:
        start = keys.index(b[0].idempotency_key)
        assert keys[start : start + 10] == [i.idempotency_key for i in b]


async def test_connections_killed_mid_run_fail_retryably_and_retries_store_each_item_once(
    backend, progress_server, progress_stub, profile, metadata
):
    if backend != "postgres":
        pytest.skip("terminates PostgreSQL backends")
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.conftest import POSTGRES_URL

    schema = progress_server.service.runtime.settings.db_schema
    batch = pb.BatchRecordProgressRequest(
        profile_id=profile, items=[progress_item(f"kill-{n}") for n in range(20)]
    )
    admin = create_async_engine(POSTGRES_URL)
    async with admin.connect() as conn:
        await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": f"studysync/{schema}"},
        )
    await admin.dispose()
    outcomes = []
    for _ in range(3):  # a client retries a 503; every item is idempotent
        try:
            response = await progress_stub.BatchRecordProgress(batch, metadata=metadata)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            outcomes.append("unavailable")
            continue
        outcomes.append({r.status for r in response.results})
        if outcomes[-1] <= {"ok", "duplicate"}:
            break
    assert outcomes[-1] <= {"ok", "duplicate"}, outcomes
    listed = await progress_stub.ListProgress(pb.ListProgressRequest(profile_id=profile), metadata=metadata)
    assert sorted(r.idempotency_key for r in listed.items) == sorted(i.idempotency_key for i in batch.items)
