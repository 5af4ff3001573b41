"""Which RPCs the edge may reach: read from the protos, so a new internal RPC is closed by default.

The rule: an RPC with a `google.api.http` binding is public (it has a REST route, and Envoy routes
its native gRPC path too); an RPC without one is internal. Internal RPCs have no route at the edge
at all, and inside the mesh they need a caller with the `service` or `admin` role (the auth
interceptor checks it), never merely any user's token.
"""

from __future__ import annotations

import importlib

from google.api import annotations_pb2
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

# The generated modules that hold the product services (importing one registers its descriptors).
SERVICE_MODULES = {
    "studysync.progress.v1.ProgressService": "studysync.progress.v1.progress_service_pb2",
    "studysync.packages.v1.PackagesService": "studysync.packages.v1.packages_service_pb2",
    "studysync.sync.v1.SyncService": "studysync.sync.v1.sync_service_pb2",
}

# Roles that may call an internal RPC: a service's own identity, or an operator.
INTERNAL_ROLES = frozenset({"service", "admin"})


def service_descriptor(full_name: str) -> ServiceDescriptor:
    if full_name in SERVICE_MODULES:
        importlib.import_module(SERVICE_MODULES[full_name])
    return descriptor_pool.Default().FindServiceByName(full_name)


def is_public(method: MethodDescriptor) -> bool:
    return method.GetOptions().HasExtension(annotations_pb2.http)


def grpc_path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def public_paths(full_name: str) -> list[str]:
    """`/package.Service/Method` of every public RPC of the service, in proto order."""
    return [grpc_path(m) for m in service_descriptor(full_name).methods if is_public(m)]


def internal_paths(full_name: str) -> frozenset[str]:
    return frozenset(grpc_path(m) for m in service_descriptor(full_name).methods if not is_public(m))
