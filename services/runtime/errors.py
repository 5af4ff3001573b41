"""Domain exceptions: what domain code raises, knowing nothing of gRPC.

One interceptor (interceptors/error_mapping.py) owns the mapping to a status code and adds a
`google.rpc.ErrorInfo` carrying `reason` and, where there is one, the offending `field`.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base: a message that is safe to show the caller and an UPPER_SNAKE reason."""

    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field


class InvalidField(DomainError):
    """A request field is malformed or out of range: 400 / INVALID_ARGUMENT, naming the field."""

    default_reason = "INVALID_FIELD"

    def __init__(self, field: str, problem: str, *, reason: str | None = None) -> None:
        super().__init__(f"{field}: {problem}", reason=reason, field=field)


class Unauthenticated(DomainError):
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    default_reason = "PERMISSION_DENIED"


class NotFound(DomainError):
    default_reason = "NOT_FOUND"


class FailedPrecondition(DomainError):
    """The request is valid but the resource's state forbids it (e.g. changing a published package)."""

    default_reason = "FAILED_PRECONDITION"


class Unavailable(DomainError):
    """Transient: a dependency is down. The client keeps its data and retries (503)."""

    default_reason = "UNAVAILABLE"
