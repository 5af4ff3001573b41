"""OpenTelemetry tracing, written once: off unless an OTLP endpoint is configured.

Off (the default), nothing of OpenTelemetry is imported or patched, so the hot path pays nothing.
On (`OTEL_EXPORTER_OTLP_ENDPOINT`, the SDK's standard variable), each process exports its spans over
OTLP/gRPC: one per RPC (W3C `traceparent` taken from the caller, e.g. Envoy), one per database
statement and Redis command, and one per call to another service, which carries `traceparent` on.
The SDK's own variables apply as usual (`OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, …).
"""

from __future__ import annotations

import re
from typing import Any

import grpc

_provider: Any = None  # the process's TracerProvider once tracing is on
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def configure(service: str, endpoint: str | None) -> bool:
    """Turns tracing on for this process (once); returns whether it is on."""
    global _provider
    if _provider is not None or not endpoint:
        return _provider is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"studysync-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # the driver: SQLAlchemy's and ours
    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return True


def instrument_sqlite(engine: Any) -> None:
    """SQLite statements (aiosqlite has no instrumentation of its own) through SQLAlchemy's events."""
    if _provider is None or engine.dialect.name != "sqlite":
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=_provider)


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The RPC span, outermost, so every other interceptor and log line runs inside it."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=_provider)]


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """For a channel to another service: a client span that carries `traceparent` on."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(tracer_provider=_provider))


def current_trace_id(traceparent: str | None) -> str | None:
    """The trace id of this RPC: the active span's when tracing is on, else the caller's header's."""
    if _provider is not None:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return f"{context.trace_id:032x}"
    match = TRACEPARENT.match(traceparent or "")
    return match.group(1) if match else None


async def shutdown() -> None:
    """Flushes what is still buffered (called on graceful stop)."""
    if _provider is not None:
        _provider.shutdown()
