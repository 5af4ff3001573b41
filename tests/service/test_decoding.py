"""Requests the protobuf parser refuses are INVALID_ARGUMENT naming the field, on direct gRPC too
(no gateway limits in front), and are counted in studysync_rpc_requests_total."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import struct_pb2

from services.runtime.wire import MAX_MESSAGE_DEPTH
from studysync.progress.v1 import progress_service_pb2 as pb
from studysync.progress.v1 import resources_pb2 as res
from tests.conftest import auth
from tests.helpers import error_info, metric_value, scrape_metrics

BATCH = "/studysync.progress.v1.ProgressService/BatchRecordProgress"


def deep_value(levels: int) -> bytes:
    """A Value nested `levels` JSON levels deep, serialised by hand (the Python API refuses to build it)."""

    def length_delimited(number: int, payload: bytes) -> bytes:
        size, out = len(payload), bytearray()
        while True:
            out.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
            size >>= 7
            if not size:
                break
        return bytes([number << 3 | 2]) + bytes(out) + payload

    value = struct_pb2.Value(number_value=1).SerializeToString()
    for _ in range(levels):  # Value.list_value (6) → ListValue.values (1) → Value
        value = length_delimited(6, length_delimited(1, value))
    return value


def batch_bytes(meta: bytes, profile: str = "kid") -> bytes:
    item = res.ProgressItem(
        idempotency_key="k-deep", activity_type="a", content_id="c", score=1, timestamp="2026-01-29T10:00:00Z"
    ).SerializeToString()
    item += bytes([6 << 3 | 2]) + _varint(len(meta)) + meta  # ProgressItem.meta_data = 6
    request = pb.BatchRecordProgressRequest(profile_id=profile).SerializeToString()
    return request + bytes([2 << 3 | 2]) + _varint(len(item)) + item  # items = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


async def _raw_call(channel: grpc.aio.Channel, data: bytes, token: str) -> grpc.aio.AioRpcError:
    method = channel.unary_unary(BATCH, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await method(data, metadata=auth(token))
    return caught.value


@pytest.fixture
def kid_token(make_token) -> str:
    return make_token("decode-user", ["kid"])


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (lambda: batch_bytes(deep_value(MAX_MESSAGE_DEPTH)), "items[0].meta_data"),
        (
            lambda: pb.BatchRecordProgressRequest(profile_id="kid").SerializeToString()[:-1] + b"\xff",
            "profile_id",
        ),
        (lambda: b"\x12\xff\xff\xff\xff\x0f", "request"),
    ],
    ids=["beyond-any-gateway-depth", "bad-utf8", "not-protobuf"],
)
async def test_undecodable_requests_are_invalid_argument_naming_the_field(
    progress_server, kid_token, data, field
):
    before = metric_value(
        await scrape_metrics(progress_server.metrics_url),
        "studysync_rpc_requests_total",
        method=BATCH,
        code="INVALID_ARGUMENT",
    )
    error = await _raw_call(progress_server.channel, data(), kid_token)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).metadata["field"] == field
    assert "DecodeError" not in error.details() and "Unexpected" not in error.details()
    after = metric_value(
        await scrape_metrics(progress_server.metrics_url),
        "studysync_rpc_requests_total",
        method=BATCH,
        code="INVALID_ARGUMENT",
    )
    assert after == before + 1


async def test_nesting_beyond_the_parsers_default_is_a_per_item_error(progress_server, kid_token):
    method = progress_server.channel.unary_unary(
        BATCH, request_serializer=None, response_deserializer=pb.BatchRecordProgressResponse.FromString
    )
    response = await method(batch_bytes(deep_value(60)), metadata=auth(kid_token))
    [result] = response.results
    assert result.status == "error" and result.error.startswith("meta_data:")


async def test_an_anonymous_callers_bytes_are_refused_before_parsing(progress_server):
    error = await _raw_call(progress_server.channel, b"\x12\xff\xff\xff\xff\x0f", "not-a-token")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
