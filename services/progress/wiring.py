"""How the progress service plugs into the shared runtime."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.progress.metrics import ProgressMetrics
from services.progress.repository import ProgressRepository
from services.progress.servicer import ProgressServicer
from services.progress.settings import ProgressSettings
from services.progress.use_cases import ProgressUseCases
from services.runtime.server import Runtime, ServiceSpec
from studysync.progress.v1 import progress_service_pb2_grpc as pb_grpc


def register(server: grpc.aio.Server, runtime: Runtime) -> None:
    options = runtime.settings.options
    assert isinstance(options, ProgressSettings), (
        "progress runs with ProgressSettings (SPEC.options_from_env)"
    )
    use_cases = ProgressUseCases(
        ProgressRepository(runtime.engine), options.offline_rollout, ProgressMetrics(runtime.registry)
    )
    pb_grpc.add_ProgressServiceServicer_to_server(ProgressServicer(use_cases), server)


SPEC = ServiceSpec(
    name="progress",
    full_name="studysync.progress.v1.ProgressService",
    default_port=50051,
    default_metrics_port=9101,
    migrations_dir=Path(__file__).parent / "migrations",
    register=register,
    options_from_env=ProgressSettings.from_env,
)
