"""How the sync service plugs into the shared runtime."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.runtime.server import Runtime, ServiceSpec
from studysync.sync.v1 import sync_service_pb2_grpc as pb_grpc


def register(server: grpc.aio.Server, runtime: Runtime) -> None:
    # Every RPC answers UNIMPLEMENTED (501 through Envoy) until its issue lands.
    pb_grpc.add_SyncServiceServicer_to_server(pb_grpc.SyncServiceServicer(), server)


SPEC = ServiceSpec(
    name="sync",
    full_name="studysync.sync.v1.SyncService",
    default_port=50053,
    default_metrics_port=9103,
    migrations_dir=Path(__file__).parent / "migrations",
    register=register,
)
