"""Counts every RPC by method and status code and times it (Prometheus)."""

from __future__ import annotations

import time
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor


class MetricsInterceptor(UnaryInterceptor):
    applies_to_public = False

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "studysync_rpc_requests",
            "RPCs served, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self._duration = Histogram(
            "studysync_rpc_duration_seconds",
            "RPC handling time, by method.",
            ["method"],
            registry=registry,
        )

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
            name = code.name if isinstance(code, grpc.StatusCode) else str(code)
            self._requests.labels(method, name).inc()
            self._duration.labels(method).observe(time.perf_counter() - started)
