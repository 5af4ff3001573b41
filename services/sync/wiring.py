"""How the sync service plugs into the shared runtime."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime import tracing
from services.runtime.auth import ServiceCredentials
from services.runtime.breaker import CircuitBreaker
from services.runtime.server import Runtime, ServiceSpec
from services.sync.bank_cache import BankQuestionCache
from services.sync.cache import SyncCache
from services.sync.metrics import SyncMetrics
from services.sync.pg_store import PgSyncStore
from services.sync.questions import CHANNEL_OPTIONS, QuestionSource
from services.sync.servicer import SyncServicer
from services.sync.settings import SyncSettings
from services.sync.sqlite_store import SqliteSyncStore
from services.sync.store import SyncStore
from services.sync.use_cases import SyncUseCases
from studysync.sync.v1 import sync_service_pb2_grpc as pb_grpc

STORES: dict[str, Callable[[AsyncEngine], SyncStore]] = {"postgresql": PgSyncStore, "sqlite": SqliteSyncStore}


def sync_store(engine: AsyncEngine) -> SyncStore:
    """The store for the engine's database: the two write a batch differently (one statement on
    PostgreSQL, a transaction of a few on SQLite) and keep the same rules."""
    store = STORES.get(engine.dialect.name)
    if store is None:
        raise ValueError(f"sync stores attempts on {' or '.join(STORES)}, not {engine.dialect.name}")
    return store(engine)


def register(server: grpc.aio.Server, runtime: Runtime) -> None:
    options = runtime.settings.options
    assert isinstance(options, SyncSettings), "sync runs with SyncSettings (SPEC.options_from_env)"
    metrics = SyncMetrics(runtime.registry)
    # sync → packages, gRPC only; the channel lives as long as the server.
    channel = grpc.aio.insecure_channel(
        options.packages_address, options=CHANNEL_OPTIONS, interceptors=tracing.client_interceptors()
    )
    runtime.closers.append(channel.close)
    breaker = None
    if runtime.redis is not None:
        breaker = CircuitBreaker(
            "redis", runtime.redis.ping, metrics.cache_breaker_trips, metrics.cache_breaker_open
        )
        runtime.closers.append(breaker.close)
    use_cases = SyncUseCases(
        sync_store(runtime.engine),
        SyncCache(runtime.redis, runtime.settings.db_schema, metrics.cache, breaker),
        QuestionSource(
            channel,
            ServiceCredentials(runtime.settings.service_token_path),
            # Without Redis sync cannot learn the bank version, so it keeps no bank question.
            bank=BankQuestionCache() if runtime.redis is not None else None,
            events=metrics.bank_questions,
        ),
        metrics,
    )
    pb_grpc.add_SyncServiceServicer_to_server(SyncServicer(use_cases), server)


SPEC = ServiceSpec(
    name="sync",
    full_name="studysync.sync.v1.SyncService",
    default_port=50053,
    default_metrics_port=9103,
    migrations_dir=Path(__file__).parent / "migrations",
    register=register,
    options_from_env=SyncSettings.from_env,
    concurrent_calls=4,  # a few batches at a time: more throughput, lower p99 (interceptors.admission)
)
