"""Decodes each product request inside the interceptor chain, so an undecodable one is a 400 naming
the field (and counted in the metrics) instead of grpcio's `UNKNOWN "Unexpected <DecodeError>…"`.

gRPC would deserialize before any interceptor runs and answer a parser failure itself, with the
exception's text. This interceptor takes the raw bytes instead and parses them here:
- bad UTF-8 in a string (e.g. `%ff` in a transcoded query parameter) → INVALID_ARGUMENT naming it;
- nesting beyond the parser's default 100 message levels (about 33 JSON levels of `meta_data` or
  `scope_data`) but within what the gateway lets through is parsed with the limit lifted, so the
  domain can refuse just the item at fault (its own, documented depth limit) and keep the others;
- anything deeper, or bytes that are not protobuf → INVALID_ARGUMENT for the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import google._upb._message as upb_message
import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import DecodeError

from services.runtime.errors import InvalidField
from services.runtime.interceptors import PUBLIC_METHOD_PREFIXES, CachingInterceptor, UnaryBehavior
from services.runtime.wire import find_problem


def _input_descriptor(method: str):  # a protobuf Descriptor
    service, _, name = method.strip("/").partition("/")
    return descriptor_pool.Default().FindMethodByName(f"{service}.{name}").input_type


def decode(method: str, deserialize: Callable[[bytes], Any], data: bytes) -> Any:
    try:
        return deserialize(data)
    except DecodeError:
        pass
    problem = find_problem(_input_descriptor(method), data)
    if problem is not None:
        raise InvalidField(problem.field, problem.reason)
    # Well formed and within MAX_MESSAGE_DEPTH: only the parser's default depth was in the way. The
    # switch is process-wide, but parsing is synchronous, so no other request parses meanwhile.
    upb_message.SetAllowOversizeProtos(True)
    try:
        return deserialize(data)
    except DecodeError:
        raise InvalidField("request", "is not valid protobuf") from None
    finally:
        upb_message.SetAllowOversizeProtos(False)


class DecodingInterceptor(CachingInterceptor):
    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if (
            handler.unary_unary is None
            or handler.request_deserializer is None
            or method.startswith(PUBLIC_METHOD_PREFIXES)
        ):
            return handler
        inner: UnaryBehavior = handler.unary_unary  # type: ignore[assignment]  # aio: a coroutine function
        deserialize = handler.request_deserializer

        async def behavior(data: bytes, context: grpc.aio.ServicerContext) -> Any:
            return await inner(decode(method, deserialize, data), context)

        # No request_deserializer: gRPC hands the raw bytes through the outer interceptors to here.
        return grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=None, response_serializer=handler.response_serializer
        )
