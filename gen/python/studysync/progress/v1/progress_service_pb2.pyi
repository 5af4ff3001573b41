from google.api import annotations_pb2 as _annotations_pb2
from studysync.progress.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BatchRecordProgressRequest(_message.Message):
    __slots__ = ("profile_id", "items")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    items: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ProgressItem]
    def __init__(self, profile_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_resources_pb2.ProgressItem, _Mapping]]] = ...) -> None: ...

class BatchRecordProgressResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ProgressResult]
    def __init__(self, results: _Optional[_Iterable[_Union[_resources_pb2.ProgressResult, _Mapping]]] = ...) -> None: ...

class ListProgressRequest(_message.Message):
    __slots__ = ("profile_id", "page_size", "page_token", "resume_token")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    page_size: int
    page_token: str
    resume_token: str
    def __init__(self, profile_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class ListProgressResponse(_message.Message):
    __slots__ = ("items", "next_page_token", "resume_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ProgressRecord]
    next_page_token: str
    resume_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[_resources_pb2.ProgressRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class BatchGetProgressReceiptsRequest(_message.Message):
    __slots__ = ("profile_id", "idempotency_keys")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEYS_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    idempotency_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, profile_id: _Optional[str] = ..., idempotency_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetProgressReceiptsResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.ProgressReceipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_resources_pb2.ProgressReceipt, _Mapping]]] = ...) -> None: ...

class GetFeaturesRequest(_message.Message):
    __slots__ = ("profile_id",)
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    def __init__(self, profile_id: _Optional[str] = ...) -> None: ...

class GetFeaturesResponse(_message.Message):
    __slots__ = ("offline_progress",)
    OFFLINE_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    offline_progress: bool
    def __init__(self, offline_progress: _Optional[bool] = ...) -> None: ...
