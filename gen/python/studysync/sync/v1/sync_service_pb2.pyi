from google.api import annotations_pb2 as _annotations_pb2
from studysync.sync.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BatchSyncAttemptsRequest(_message.Message):
    __slots__ = ("attempts",)
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.AttemptInput]
    def __init__(self, attempts: _Optional[_Iterable[_Union[_resources_pb2.AttemptInput, _Mapping]]] = ...) -> None: ...

class BatchSyncAttemptsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_resources_pb2.AttemptResult]
    def __init__(self, results: _Optional[_Iterable[_Union[_resources_pb2.AttemptResult, _Mapping]]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class BatchGetAttemptReceiptsRequest(_message.Message):
    __slots__ = ("idempotency_keys",)
    IDEMPOTENCY_KEYS_FIELD_NUMBER: _ClassVar[int]
    idempotency_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, idempotency_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetAttemptReceiptsResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.AttemptReceipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_resources_pb2.AttemptReceipt, _Mapping]]] = ...) -> None: ...
