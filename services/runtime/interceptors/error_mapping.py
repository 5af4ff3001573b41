"""Turns exceptions into status codes with `google.rpc.ErrorInfo`; never leaks exception text.

Domain errors carry a safe message, a reason and maybe a field. Anything that might succeed later
(database or network trouble, lock timeouts) becomes UNAVAILABLE so clients keep their data and
retry; anything else is INTERNAL with only the request id, and the stack trace goes to the log.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.runtime.db import is_transient_db_error
from services.runtime.errors import (
    DomainError,
    FailedPrecondition,
    InvalidField,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor
from services.runtime.interceptors.request_id import current_request_id

log = logging.getLogger("studysync.errors")
DOMAIN = "studysync.dev"

# Most specific first: a subclass of one of these maps as its base does.
STATUS_BY_ERROR: tuple[tuple[type[DomainError], grpc.StatusCode], ...] = (
    (InvalidField, grpc.StatusCode.INVALID_ARGUMENT),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)


def status_code_of(error: DomainError) -> grpc.StatusCode:
    return next((code for kind, code in STATUS_BY_ERROR if isinstance(error, kind)), grpc.StatusCode.INTERNAL)


def status_for(code: grpc.StatusCode, message: str, reason: str, field: str | None = None) -> grpc.Status:
    metadata = {"request_id": current_request_id()}
    if field:
        metadata["field"] = field
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata))
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=[info]))


class ErrorMappingInterceptor(UnaryInterceptor):
    applies_to_public = False

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        try:
            return await call(request, context)
        except DomainError as error:
            status = status_for(status_code_of(error), error.message, error.reason, error.field)
        except grpc.aio.AbortError:
            raise  # already a deliberate status
        except NotImplementedError:
            status = status_for(grpc.StatusCode.UNIMPLEMENTED, "not implemented yet", "UNIMPLEMENTED")
        except Exception as error:
            if is_transient_db_error(error):
                log.warning("transient failure in %s: %r", method, error)
                status = status_for(
                    grpc.StatusCode.UNAVAILABLE,
                    "temporarily unavailable, retry later",
                    "DEPENDENCY_UNAVAILABLE",
                )
            else:
                log.exception("unexpected failure in %s", method)
                status = status_for(grpc.StatusCode.INTERNAL, "internal error", "INTERNAL")
        await context.abort(status.code, status.details, status.trailing_metadata)
