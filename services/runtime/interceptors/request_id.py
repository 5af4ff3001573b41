"""Request ids: reuse the caller's `x-request-id` (Envoy sets one) or make one, for logs and errors."""

from __future__ import annotations

import contextvars
import re
import uuid
from typing import Any

import grpc

from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor, metadata_value

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdInterceptor(UnaryInterceptor):
    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        incoming = metadata_value(context, "x-request-id")
        request_id = incoming if incoming and _SAFE.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            return await call(request, context)
        finally:
            _request_id.reset(token)
