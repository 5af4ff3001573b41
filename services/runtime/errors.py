"""Domain exceptions: what domain code raises instead of knowing about gRPC status codes.

One interceptor (interceptors/error_mapping.py) turns them into a status code plus a
`google.rpc.ErrorInfo` carrying `reason` and, where there is one, the offending `field`.
"""

from __future__ import annotations

from grpc import StatusCode


class DomainError(Exception):
    """Base: a message that is safe to show the caller, an UPPER_SNAKE reason and a status code."""

    code: StatusCode = StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field


class InvalidField(DomainError):
    """A request field is malformed or out of range: 400 / INVALID_ARGUMENT, naming the field."""

    code = StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_FIELD"

    def __init__(self, field: str, problem: str, *, reason: str | None = None) -> None:
        super().__init__(f"{field}: {problem}", reason=reason, field=field)


class Unauthenticated(DomainError):
    code = StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    code = StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class NotFound(DomainError):
    code = StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class FailedPrecondition(DomainError):
    """The request is valid but the resource's state forbids it (e.g. changing a published package)."""

    code = StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Unavailable(DomainError):
    """Transient: a dependency is down. The client keeps its data and retries (503)."""

    code = StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"
