"""Server start-up, written once: `create_server` builds a ready-to-start service (tests use port 0),
`serve` runs one until SIGTERM/SIGINT and shuts it down gracefully."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, start_http_server
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.runtime import db, migrations, tracing, visibility
from services.runtime.auth import TokenVerifier
from services.runtime.cache import create_redis
from services.runtime.interceptors.access_log import AccessLogInterceptor
from services.runtime.interceptors.admission import AdmissionInterceptor
from services.runtime.interceptors.auth import AuthInterceptor
from services.runtime.interceptors.decoding import DecodingInterceptor
from services.runtime.interceptors.error_mapping import ErrorMappingInterceptor
from services.runtime.interceptors.metrics import MetricsInterceptor
from services.runtime.interceptors.request_id import RequestIdInterceptor
from services.runtime.keys import ensure_dev_keys
from services.runtime.logs import configure_logging
from services.runtime.settings import Settings, instance_health_name

log = logging.getLogger("studysync.server")


@dataclass
class Runtime:
    """What a service's servicer is built from: settings and the shared resources."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    redis: Redis | None
    registry: CollectorRegistry
    # Called on shutdown after the server stopped, e.g. to close a channel to another service.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceSpec:
    """How one service plugs into the runtime."""

    name: str  # "progress"; also the database schema and the settings prefix
    full_name: str  # "studysync.progress.v1.ProgressService"
    default_port: int
    default_metrics_port: int
    migrations_dir: Path
    register: Callable[[grpc.aio.Server, Runtime], Any]
    concurrent_calls: int = 0  # default product RPCs worked on at once (0: no limit)
    # The service's own settings from the environment (Settings.options); None if it has none.
    options_from_env: Callable[[], object] = lambda: None

    def settings(self) -> Settings:
        return Settings.from_env(
            self.name,
            self.default_port,
            self.default_metrics_port,
            self.concurrent_calls,
            self.options_from_env(),
        )


@dataclass
class RunningService:
    spec: ServiceSpec
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    runtime: Runtime
    metrics_port: int | None = None
    _metrics_server: Any = field(default=None, repr=False)

    async def start(self) -> None:
        await self.server.start()
        settings = self.runtime.settings
        if settings.metrics_port is not None:
            self._metrics_server, _ = start_http_server(
                settings.metrics_port, addr=settings.host, registry=self.runtime.registry
            )
            self.metrics_port = self._metrics_server.server_port
        names = ["", self.spec.full_name]
        if settings.instance_id:
            names.append(instance_health_name(settings.instance_id))
        for name in names:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING first (Envoy stops routing here), then finish in-flight calls, then close pools."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.runtime.settings.grace_seconds if grace is None else grace)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        for close in self.runtime.closers:
            await close()
        await self.runtime.engine.dispose()
        if self.runtime.redis is not None:
            await self.runtime.redis.aclose()


async def create_server(spec: ServiceSpec, settings: Settings | None = None) -> tuple[RunningService, int]:
    """Migrates the service's schema, wires interceptors, health, reflection; binds (port 0 = any)."""
    settings = settings or spec.settings()
    tracing.configure(spec.name, settings.otlp_endpoint)
    engine = db.create_engine(settings.database_url, settings.db_schema, settings.db_pool_size)
    tracing.instrument_sqlite(engine)
    if settings.migrate_on_start:
        await migrations.upgrade(engine, spec.migrations_dir, settings.db_schema)
    registry = CollectorRegistry()
    runtime = Runtime(settings, engine, db.sessionmaker(engine), create_redis(settings.redis_url), registry)
    verifier = TokenVerifier(ensure_dev_keys(settings.state_dir))
    interceptors: list[grpc.aio.ServerInterceptor] = [
        *tracing.server_interceptors(),  # empty when tracing is off
        RequestIdInterceptor(),
        AccessLogInterceptor(spec.name),
        MetricsInterceptor(registry),  # times the wait for a slot too: that is what callers see
        ErrorMappingInterceptor(),
        # Before admission: a refused token takes no slot.
        AuthInterceptor(verifier, visibility.internal_paths(spec.full_name)),
        DecodingInterceptor(),  # after auth: an anonymous caller's bytes are not parsed
    ]
    if settings.concurrent_calls > 0:
        interceptors.append(AdmissionInterceptor(settings.concurrent_calls, registry))
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.max_metadata_size", settings.max_metadata_bytes),
            ("grpc.absolute_max_metadata_size", settings.max_metadata_bytes),
            # gRPC sets SO_REUSEPORT by default: a second server on the same port (another stack on
            # this host) would then share it silently and answer half the calls. Fail to bind instead.
            ("grpc.so_reuseport", 0),
        ],
    )
    spec.register(server, runtime)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (spec.full_name, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    return RunningService(spec, server, port, health_servicer, runtime), port


def serve(spec: ServiceSpec) -> None:
    """Runs one service until SIGTERM or SIGINT."""
    configure_logging()

    async def main() -> None:
        service, port = await create_server(spec)
        await service.start()
        # What start-up made (modules, descriptors, the pool) lives as long as the process: out of
        # the collector's reach, so its full collections stop walking it on every pass.
        gc.freeze()
        log.info(
            "%s listening on %s:%d (metrics :%s)",
            spec.name,
            service.runtime.settings.host,
            port,
            service.metrics_port,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("%s shutting down", spec.name)
        await service.stop()
        await tracing.shutdown()

    asyncio.run(main())
