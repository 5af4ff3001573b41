import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATUS_UNSPECIFIED: _ClassVar[SessionStatus]
    ACTIVE: _ClassVar[SessionStatus]

class SessionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_MODE_UNSPECIFIED: _ClassVar[SessionMode]
    TUTOR: _ClassVar[SessionMode]
SESSION_STATUS_UNSPECIFIED: SessionStatus
ACTIVE: SessionStatus
SESSION_MODE_UNSPECIFIED: SessionMode
TUTOR: SessionMode

class AttemptInput(_message.Message):
    __slots__ = ("client_attempt_id", "idempotency_key", "offline_session_id", "session_id", "question_id", "selected_option_index", "answered_at", "payload_hash", "package_id")
    CLIENT_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTED_OPTION_INDEX_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_HASH_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    client_attempt_id: str
    idempotency_key: str
    offline_session_id: str
    session_id: str
    question_id: str
    selected_option_index: int
    answered_at: str
    payload_hash: str
    package_id: str
    def __init__(self, client_attempt_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., offline_session_id: _Optional[str] = ..., session_id: _Optional[str] = ..., question_id: _Optional[str] = ..., selected_option_index: _Optional[int] = ..., answered_at: _Optional[str] = ..., payload_hash: _Optional[str] = ..., package_id: _Optional[str] = ...) -> None: ...

class AttemptResult(_message.Message):
    __slots__ = ("client_attempt_id", "idempotency_key", "status", "server_attempt_id", "server_session_id", "error_code", "error_message")
    CLIENT_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVER_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    client_attempt_id: str
    idempotency_key: str
    status: str
    server_attempt_id: str
    server_session_id: str
    error_code: str
    error_message: str
    def __init__(self, client_attempt_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., status: _Optional[str] = ..., server_attempt_id: _Optional[str] = ..., server_session_id: _Optional[str] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class SessionAnswer(_message.Message):
    __slots__ = ("question_id", "selected_option_index", "is_correct", "answered_at", "server_attempt_id")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTED_OPTION_INDEX_FIELD_NUMBER: _ClassVar[int]
    IS_CORRECT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    SERVER_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    selected_option_index: int
    is_correct: bool
    answered_at: str
    server_attempt_id: str
    def __init__(self, question_id: _Optional[str] = ..., selected_option_index: _Optional[int] = ..., is_correct: _Optional[bool] = ..., answered_at: _Optional[str] = ..., server_attempt_id: _Optional[str] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "offline_session_id", "status", "mode", "year_id", "block_id", "theme_id", "answered_count", "correct_count", "answers", "created_at", "updated_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    YEAR_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    THEME_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORRECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    offline_session_id: str
    status: SessionStatus
    mode: SessionMode
    year_id: int
    block_id: int
    theme_id: int
    answered_count: int
    correct_count: int
    answers: _containers.RepeatedCompositeFieldContainer[SessionAnswer]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., offline_session_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., mode: _Optional[_Union[SessionMode, str]] = ..., year_id: _Optional[int] = ..., block_id: _Optional[int] = ..., theme_id: _Optional[int] = ..., answered_count: _Optional[int] = ..., correct_count: _Optional[int] = ..., answers: _Optional[_Iterable[_Union[SessionAnswer, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttemptReceipt(_message.Message):
    __slots__ = ("idempotency_key", "found", "server_attempt_id", "server_session_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SERVER_ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    found: bool
    server_attempt_id: str
    server_session_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., found: _Optional[bool] = ..., server_attempt_id: _Optional[str] = ..., server_session_id: _Optional[str] = ...) -> None: ...
