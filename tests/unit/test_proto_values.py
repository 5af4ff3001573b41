"""The hand-rolled conversions agree with protobuf's own."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import struct_pb2, timestamp_pb2

from services.runtime.proto_values import dict_to_struct, struct_to_dict, timestamp


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 28, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 28, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(1960, 5, 3, 1, 2, 3, 456789, tzinfo=UTC),  # before the epoch: negative seconds
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2026, 1, 1, 3, 4, 5, 6),  # naive: taken as UTC, as FromDatetime does
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_timestamp_matches_from_datetime(moment):
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment)
    assert timestamp(moment) == expected


def test_struct_round_trip():
    data = {"year_id": 3, "name": "Block", "tags": ["a", None, 2.5], "nested": {"ok": True}}
    struct = dict_to_struct(data)
    assert isinstance(struct, struct_pb2.Struct)
    assert struct_to_dict(struct) == {**data, "year_id": 3.0, "tags": ["a", None, 2.5]}
