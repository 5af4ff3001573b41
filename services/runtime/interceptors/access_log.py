"""One JSON line per RPC: method, status, duration, request id, caller."""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from services.runtime.auth import peek_principal
from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor
from services.runtime.interceptors.request_id import current_request_id

log = logging.getLogger("studysync.access")


class AccessLogInterceptor(UnaryInterceptor):
    applies_to_public = False

    def __init__(self, service: str) -> None:
        self._service = service

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await call(request, context)
        except BaseException:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        finally:
            principal = peek_principal()
            log.info(
                "rpc",
                extra={
                    "fields": {
                        "service": self._service,
                        "method": method,
                        "code": code.name if isinstance(code, grpc.StatusCode) else str(code),
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "request_id": current_request_id(),
                        "sub": principal.sub if principal else None,
                        "peer": context.peer(),
                    }
                },
            )
