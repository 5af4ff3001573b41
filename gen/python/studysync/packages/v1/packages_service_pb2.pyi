from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from studysync.packages.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListTestPackagesRequest(_message.Message):
    __slots__ = ("scope", "year_id", "block_id", "theme_id", "page_size", "page_token")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    YEAR_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    THEME_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    scope: _resources_pb2.Scope
    year_id: int
    block_id: int
    theme_id: int
    page_size: int
    page_token: str
    def __init__(self, scope: _Optional[_Union[_resources_pb2.Scope, str]] = ..., year_id: _Optional[int] = ..., block_id: _Optional[int] = ..., theme_id: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTestPackagesResponse(_message.Message):
    __slots__ = ("packages", "next_page_token")
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedCompositeFieldContainer[_resources_pb2.TestPackageSummary]
    next_page_token: str
    def __init__(self, packages: _Optional[_Iterable[_Union[_resources_pb2.TestPackageSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTestPackageRequest(_message.Message):
    __slots__ = ("package_id",)
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    def __init__(self, package_id: _Optional[str] = ...) -> None: ...

class CompareTestPackagesRequest(_message.Message):
    __slots__ = ("held", "scope", "year_id", "block_id", "theme_id", "page_size", "page_token")
    HELD_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    YEAR_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    THEME_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    held: _containers.RepeatedCompositeFieldContainer[_resources_pb2.HeldPackage]
    scope: _resources_pb2.Scope
    year_id: int
    block_id: int
    theme_id: int
    page_size: int
    page_token: str
    def __init__(self, held: _Optional[_Iterable[_Union[_resources_pb2.HeldPackage, _Mapping]]] = ..., scope: _Optional[_Union[_resources_pb2.Scope, str]] = ..., year_id: _Optional[int] = ..., block_id: _Optional[int] = ..., theme_id: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CompareTestPackagesResponse(_message.Message):
    __slots__ = ("current", "stale", "gone", "new_packages", "next_page_token")
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    GONE_FIELD_NUMBER: _ClassVar[int]
    NEW_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    current: _containers.RepeatedCompositeFieldContainer[_resources_pb2.HeldPackage]
    stale: _containers.RepeatedCompositeFieldContainer[_resources_pb2.StalePackage]
    gone: _containers.RepeatedCompositeFieldContainer[_resources_pb2.HeldPackage]
    new_packages: _containers.RepeatedCompositeFieldContainer[_resources_pb2.TestPackageSummary]
    next_page_token: str
    def __init__(self, current: _Optional[_Iterable[_Union[_resources_pb2.HeldPackage, _Mapping]]] = ..., stale: _Optional[_Iterable[_Union[_resources_pb2.StalePackage, _Mapping]]] = ..., gone: _Optional[_Iterable[_Union[_resources_pb2.HeldPackage, _Mapping]]] = ..., new_packages: _Optional[_Iterable[_Union[_resources_pb2.TestPackageSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BatchCreateQuestionsRequest(_message.Message):
    __slots__ = ("questions",)
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Question]
    def __init__(self, questions: _Optional[_Iterable[_Union[_resources_pb2.Question, _Mapping]]] = ...) -> None: ...

class BatchCreateQuestionsResponse(_message.Message):
    __slots__ = ("questions",)
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Question]
    def __init__(self, questions: _Optional[_Iterable[_Union[_resources_pb2.Question, _Mapping]]] = ...) -> None: ...

class CreateTestPackageRequest(_message.Message):
    __slots__ = ("name", "description", "scope", "scope_data", "question_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_DATA_FIELD_NUMBER: _ClassVar[int]
    QUESTION_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    scope: _resources_pb2.Scope
    scope_data: _struct_pb2.Struct
    question_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., scope: _Optional[_Union[_resources_pb2.Scope, str]] = ..., scope_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., question_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PublishTestPackageRequest(_message.Message):
    __slots__ = ("package_id",)
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    def __init__(self, package_id: _Optional[str] = ...) -> None: ...

class GenerateTestPackageRequest(_message.Message):
    __slots__ = ("scope", "scope_data", "name", "description")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_DATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    scope: _resources_pb2.Scope
    scope_data: _struct_pb2.Struct
    name: str
    description: str
    def __init__(self, scope: _Optional[_Union[_resources_pb2.Scope, str]] = ..., scope_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class GenerateTestPackageResponse(_message.Message):
    __slots__ = ("package", "created")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    package: _resources_pb2.TestPackage
    created: bool
    def __init__(self, package: _Optional[_Union[_resources_pb2.TestPackage, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class BatchGetQuestionsRequest(_message.Message):
    __slots__ = ("question_ids", "package_id")
    QUESTION_IDS_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    question_ids: QuestionIds
    package_id: str
    def __init__(self, question_ids: _Optional[_Union[QuestionIds, _Mapping]] = ..., package_id: _Optional[str] = ...) -> None: ...

class QuestionIds(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetQuestionsResponse(_message.Message):
    __slots__ = ("questions", "bank_version", "bank_version_key", "bank_writers_key")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    BANK_VERSION_FIELD_NUMBER: _ClassVar[int]
    BANK_VERSION_KEY_FIELD_NUMBER: _ClassVar[int]
    BANK_WRITERS_KEY_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Question]
    bank_version: int
    bank_version_key: str
    bank_writers_key: str
    def __init__(self, questions: _Optional[_Iterable[_Union[_resources_pb2.Question, _Mapping]]] = ..., bank_version: _Optional[int] = ..., bank_version_key: _Optional[str] = ..., bank_writers_key: _Optional[str] = ...) -> None: ...
