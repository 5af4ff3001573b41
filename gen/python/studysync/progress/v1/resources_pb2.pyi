import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProgressItem(_message.Message):
    __slots__ = ("idempotency_key", "activity_type", "content_id", "score", "duration_seconds", "meta_data", "timestamp")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    META_DATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    activity_type: str
    content_id: str
    score: float
    duration_seconds: float
    meta_data: _struct_pb2.Value
    timestamp: str
    def __init__(self, idempotency_key: _Optional[str] = ..., activity_type: _Optional[str] = ..., content_id: _Optional[str] = ..., score: _Optional[float] = ..., duration_seconds: _Optional[float] = ..., meta_data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., timestamp: _Optional[str] = ...) -> None: ...

class ProgressRecord(_message.Message):
    __slots__ = ("server_id", "profile_id", "idempotency_key", "activity_type", "content_id", "score", "duration_seconds", "meta_data", "timestamp", "server_received_at")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    META_DATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SERVER_RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    profile_id: str
    idempotency_key: str
    activity_type: str
    content_id: str
    score: float
    duration_seconds: float
    meta_data: _struct_pb2.Struct
    timestamp: _timestamp_pb2.Timestamp
    server_received_at: _timestamp_pb2.Timestamp
    def __init__(self, server_id: _Optional[str] = ..., profile_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., activity_type: _Optional[str] = ..., content_id: _Optional[str] = ..., score: _Optional[float] = ..., duration_seconds: _Optional[float] = ..., meta_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., server_received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProgressResult(_message.Message):
    __slots__ = ("idempotency_key", "status", "server_id", "error", "error_code")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    status: str
    server_id: str
    error: str
    error_code: str
    def __init__(self, idempotency_key: _Optional[str] = ..., status: _Optional[str] = ..., server_id: _Optional[str] = ..., error: _Optional[str] = ..., error_code: _Optional[str] = ...) -> None: ...

class ProgressReceipt(_message.Message):
    __slots__ = ("idempotency_key", "found", "server_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    found: bool
    server_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., found: _Optional[bool] = ..., server_id: _Optional[str] = ...) -> None: ...
