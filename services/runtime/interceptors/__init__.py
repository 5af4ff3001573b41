"""gRPC server interceptors, one concern each, applied to every unary RPC of every service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]

# Infrastructure RPCs that need no token and are not part of the product's metrics.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


class CachingInterceptor(grpc.aio.ServerInterceptor):
    """Builds each method's handler once: a method's handler never changes, so the chain below is
    asked once per method, not per call (that was a coroutine, a closure and a handler per
    interceptor and call). Subclasses implement `wrap`."""

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}  # one per method the server has

    async def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            found = await continuation(handler_call_details)
            if found is None:
                return None  # no such method: not kept, so unknown names cannot grow the table
            handler = self._handlers[method] = self.wrap(method, found)
        return handler

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        raise NotImplementedError


class UnaryInterceptor(CachingInterceptor):
    """Wraps the behaviour of unary-unary handlers; streaming handlers (health Watch, reflection)
    pass through untouched. Subclasses implement `around`."""

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is None:
            return handler
        if method.startswith(PUBLIC_METHOD_PREFIXES) and not self.applies_to_public:
            return handler
        # On a grpc.aio server every handler is a coroutine function taking an aio context.
        inner: UnaryBehavior = handler.unary_unary  # type: ignore[assignment]
        around = self.around

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await around(method, inner, request, context)

        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    applies_to_public = True

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        raise NotImplementedError


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else value.decode()
    return None


class ObservingInterceptor(UnaryInterceptor):
    """Runs the call, then `record`s its status code name and duration, whether it failed or not."""

    applies_to_public = False

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        started = time.perf_counter()
        code: Any = grpc.StatusCode.OK
        try:
            return await call(request, context)
        except asyncio.CancelledError:
            # gRPC cancels the handler when the client gives up or its deadline passes; the call
            # then ends with that status, not UNKNOWN.
            remaining = context.time_remaining()
            expired = remaining is not None and remaining <= 0
            code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
            raise
        except BaseException:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        finally:
            name = code.name if isinstance(code, grpc.StatusCode) else str(code)
            self.record(method, name, time.perf_counter() - started, context)

    def record(self, method: str, code: str, seconds: float, context: grpc.aio.ServicerContext) -> None:
        raise NotImplementedError
