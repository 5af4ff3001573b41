"""Counts every RPC by method and status code and times it (Prometheus)."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.runtime.interceptors import ObservingInterceptor

# How long data waited on a device before reaching the server: seconds to a month.
REPLAY_AGE_BUCKETS = (1, 10, 60, 300, 1800, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400)


class MetricsInterceptor(ObservingInterceptor):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._requests = Counter(
            "studysync_rpc_requests",
            "RPCs served, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self._duration = Histogram(
            "studysync_rpc_duration_seconds", "RPC handling time, by method.", ["method"], registry=registry
        )

    def record(self, method: str, code: str, seconds: float, context: grpc.aio.ServicerContext) -> None:
        self._requests.labels(method, code).inc()
        self._duration.labels(method).observe(seconds)
