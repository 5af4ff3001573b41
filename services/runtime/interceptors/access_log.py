"""One JSON line per RPC: method, status, duration, request id, trace id, caller."""

from __future__ import annotations

import logging

import grpc

from services.runtime import tracing
from services.runtime.auth import peek_principal
from services.runtime.interceptors import ObservingInterceptor, metadata_value
from services.runtime.interceptors.request_id import current_request_id

log = logging.getLogger("studysync.access")


class AccessLogInterceptor(ObservingInterceptor):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def record(self, method: str, code: str, seconds: float, context: grpc.aio.ServicerContext) -> None:
        principal = peek_principal()
        log.info(
            "rpc",
            extra={
                "fields": {
                    "service": self._service,
                    "method": method,
                    "code": code,
                    "duration_ms": round(seconds * 1000, 3),
                    "request_id": current_request_id(),
                    "trace_id": tracing.current_trace_id(metadata_value(context, "traceparent")),
                    "sub": principal.sub if principal else None,
                    "peer": context.peer(),
                }
            },
        )
