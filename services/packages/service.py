"""How the packages service plugs into the shared runtime."""

from __future__ import annotations

from pathlib import Path

import grpc
from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc

from services.runtime.server import Runtime, ServiceSpec


def register(server: grpc.aio.Server, runtime: Runtime) -> None:
    # Every RPC answers UNIMPLEMENTED (501 through Envoy) until its issue lands.
    pb_grpc.add_PackagesServiceServicer_to_server(pb_grpc.PackagesServiceServicer(), server)


SPEC = ServiceSpec(
    name="packages",
    full_name="studysync.packages.v1.PackagesService",
    default_port=50052,
    default_metrics_port=9102,
    migrations_dir=Path(__file__).parent / "migrations",
    register=register,
)
