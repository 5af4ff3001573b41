import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    PROGRAM: _ClassVar[Scope]
    YEAR: _ClassVar[Scope]
    BLOCK: _ClassVar[Scope]
    THEME: _ClassVar[Scope]
SCOPE_UNSPECIFIED: Scope
PROGRAM: Scope
YEAR: Scope
BLOCK: Scope
THEME: Scope

class Question(_message.Message):
    __slots__ = ("question_id", "stem", "options", "correct_index", "explanation", "program", "year_id", "block_id", "theme_id", "updated_at")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    STEM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CORRECT_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    YEAR_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    THEME_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    stem: str
    options: _containers.RepeatedScalarFieldContainer[str]
    correct_index: int
    explanation: str
    program: str
    year_id: int
    block_id: int
    theme_id: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, question_id: _Optional[str] = ..., stem: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., correct_index: _Optional[int] = ..., explanation: _Optional[str] = ..., program: _Optional[str] = ..., year_id: _Optional[int] = ..., block_id: _Optional[int] = ..., theme_id: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuestionSnapshot(_message.Message):
    __slots__ = ("question_id", "stem", "options", "correct_index", "explanation")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    STEM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CORRECT_INDEX_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    stem: str
    options: _containers.RepeatedScalarFieldContainer[str]
    correct_index: int
    explanation: str
    def __init__(self, question_id: _Optional[str] = ..., stem: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., correct_index: _Optional[int] = ..., explanation: _Optional[str] = ...) -> None: ...

class TestPackage(_message.Message):
    __slots__ = ("package_id", "name", "description", "scope", "scope_data", "version", "version_hash", "questions", "question_count", "is_published", "published_at", "created_by", "created_at", "updated_at")
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_HASH_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    name: str
    description: str
    scope: Scope
    scope_data: _struct_pb2.Struct
    version: int
    version_hash: str
    questions: _containers.RepeatedCompositeFieldContainer[QuestionSnapshot]
    question_count: int
    is_published: bool
    published_at: _timestamp_pb2.Timestamp
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, package_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., scope: _Optional[_Union[Scope, str]] = ..., scope_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., version: _Optional[int] = ..., version_hash: _Optional[str] = ..., questions: _Optional[_Iterable[_Union[QuestionSnapshot, _Mapping]]] = ..., question_count: _Optional[int] = ..., is_published: _Optional[bool] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TestPackageSummary(_message.Message):
    __slots__ = ("package_id", "name", "scope", "scope_data", "version", "version_hash", "question_count", "published_at", "updated_at")
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_HASH_FIELD_NUMBER: _ClassVar[int]
    QUESTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    name: str
    scope: Scope
    scope_data: _struct_pb2.Struct
    version: int
    version_hash: str
    question_count: int
    published_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, package_id: _Optional[str] = ..., name: _Optional[str] = ..., scope: _Optional[_Union[Scope, str]] = ..., scope_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., version: _Optional[int] = ..., version_hash: _Optional[str] = ..., question_count: _Optional[int] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HeldPackage(_message.Message):
    __slots__ = ("package_id", "version_hash")
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_HASH_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    version_hash: str
    def __init__(self, package_id: _Optional[str] = ..., version_hash: _Optional[str] = ...) -> None: ...

class StalePackage(_message.Message):
    __slots__ = ("package_id", "version_hash", "latest")
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_HASH_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    version_hash: str
    latest: TestPackageSummary
    def __init__(self, package_id: _Optional[str] = ..., version_hash: _Optional[str] = ..., latest: _Optional[_Union[TestPackageSummary, _Mapping]] = ...) -> None: ...
