"""Bounds how many product RPCs a process works on at once; the rest wait their turn, first come,
first served.

A service whose calls are CPU-bound with a few awaits each (sync: Redis, packages, PostgreSQL,
Redis) does not get faster by interleaving 16 of them: every call advances 16 times slower, and
the calls compete for connections and caches. A few at a time keep the CPU busy through the
awaits, and waiting calls queue instead of stretching every call in flight (the bench's sync
case shows both throughput and p99 improve; bench/README.md has the figures).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Gauge

from services.runtime.interceptors import UnaryBehavior, UnaryInterceptor


class AdmissionInterceptor(UnaryInterceptor):
    applies_to_public = False  # health checks must answer however busy the service is

    def __init__(self, limit: int, registry: CollectorRegistry) -> None:
        super().__init__()
        self._slots = asyncio.Semaphore(limit)
        self._waiting = Gauge(
            "studysync_rpc_waiting",
            "RPCs waiting for a slot (the process works on a few at a time).",
            registry=registry,
        )

    async def around(
        self, method: str, call: UnaryBehavior, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        self._waiting.inc()
        try:
            await self._slots.acquire()
        finally:
            self._waiting.dec()
        try:
            return await call(request, context)
        finally:
            self._slots.release()
