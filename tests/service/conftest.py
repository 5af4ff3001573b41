"""Service fixtures: each service on both databases, in-process on port 0, over real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from services.packages.wiring import SPEC as PACKAGES
from services.progress.wiring import SPEC as PROGRESS
from services.sync.settings import SyncSettings
from services.sync.wiring import SPEC as SYNC
from studysync.packages.v1 import packages_service_pb2_grpc
from studysync.packages.v1 import resources_pb2 as packages_res
from studysync.progress.v1 import progress_service_pb2_grpc
from studysync.sync.v1 import sync_service_pb2_grpc
from tests.conftest import (
    BACKENDS,
    REDIS_URL,
    ServerHandle,
    auth,
    forget_cache_keys,
    serve_for_session,
    service_settings,
)
from tests.helpers import HeldWrite, add_bank_questions


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database every service fixture of this test uses: "sqlite" or "postgres"."""
    return request.param


@pytest.fixture(scope="session")
async def progress_server(backend: str, state: Path, run_id: str) -> AsyncIterator[ServerHandle]:
    async for handle in serve_for_session(PROGRESS, service_settings(PROGRESS, backend, state, run_id)):
        yield handle


@pytest.fixture
def progress_stub(progress_server: ServerHandle) -> progress_service_pb2_grpc.ProgressServiceStub:
    return progress_service_pb2_grpc.ProgressServiceStub(progress_server.channel)


@pytest.fixture(scope="session")
async def packages_server(backend: str, state: Path, run_id: str) -> AsyncIterator[ServerHandle]:
    """The packages service, publishing its bank version in the real Redis (sync's cache reads it)."""
    settings = service_settings(PACKAGES, backend, state, run_id, redis_url=REDIS_URL)
    async for handle in serve_for_session(PACKAGES, settings):
        yield handle
    forget_cache_keys(REDIS_URL, f"packages:{{{settings.db_schema}}}:*")


@pytest.fixture
def packages_stub(packages_server: ServerHandle) -> packages_service_pb2_grpc.PackagesServiceStub:
    return packages_service_pb2_grpc.PackagesServiceStub(packages_server.channel)


@pytest.fixture(scope="session", params=["redis", "no-redis"])
async def sync_server(
    request: pytest.FixtureRequest, backend: str, packages_server: ServerHandle, state: Path, run_id: str
) -> AsyncIterator[ServerHandle]:
    """The sync service, calling the real packages service; with the real Redis or with none."""
    settings = service_settings(
        SYNC,
        backend,
        state,
        f"{run_id}{'r' if request.param == 'redis' else 'n'}",
        redis_url=REDIS_URL if request.param == "redis" else None,
        options=SyncSettings(f"127.0.0.1:{packages_server.port}"),
    )
    async for handle in serve_for_session(SYNC, settings):
        yield handle


@pytest.fixture
def sync_stub(sync_server: ServerHandle) -> sync_service_pb2_grpc.SyncServiceStub:
    return sync_service_pb2_grpc.SyncServiceStub(sync_server.channel)


@pytest.fixture
async def bank_questions(packages_stub, make_token) -> list[packages_res.Question]:
    """Four questions (3 options; the correct one is index 1) in a fresh block of the bank."""
    return await add_bank_questions(packages_stub, auth(make_token("admin", roles=["admin"])))


@pytest.fixture
def hold_next_write(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ServerHandle], HeldWrite]]:
    """Holds a server's next write once it has its database connection (see HeldWrite); whatever
    the test did, the hold is released when it ends, so the write finishes."""
    holds: list[HeldWrite] = []

    def hold(server: ServerHandle) -> HeldWrite:
        holds.append(HeldWrite(monkeypatch, server.service.runtime.engine))
        return holds[-1]

    yield hold
    for held in holds:
        held.release()
