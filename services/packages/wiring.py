"""How the packages service plugs into the shared runtime."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.packages.bank_versions import RedisBankVersions
from services.packages.metrics import PackagesMetrics
from services.packages.repository import PackagesRepository
from services.packages.servicer import PackagesServicer
from services.packages.use_cases import PackagesUseCases
from services.runtime.server import Runtime, ServiceSpec
from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc


def register(server: grpc.aio.Server, runtime: Runtime) -> None:
    store = PackagesRepository(runtime.engine, runtime.sessions)
    metrics = PackagesMetrics(runtime.registry)
    # With Redis, the bank version is published there for sync, and repaired every few seconds.
    versions = RedisBankVersions(runtime.redis, runtime.settings.db_schema, store, metrics.bank_version)
    versions.start()
    runtime.closers.append(versions.close)
    use_cases = PackagesUseCases(store, metrics, versions if versions.keys else None)
    pb_grpc.add_PackagesServiceServicer_to_server(PackagesServicer(use_cases), server)


SPEC = ServiceSpec(
    name="packages",
    full_name="studysync.packages.v1.PackagesService",
    default_port=50052,
    default_metrics_port=9102,
    migrations_dir=Path(__file__).parent / "migrations",
    register=register,
)
