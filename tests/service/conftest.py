"""Service fixtures: each service on both databases, in-process on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from studysync.progress.v1 import progress_service_pb2_grpc

from services.progress.service import SPEC as PROGRESS
from tests.conftest import BACKENDS, ServerHandle, serve_for_session, service_settings


@pytest.fixture(scope="session", params=BACKENDS)
async def progress_server(
    request: pytest.FixtureRequest, state: Path, run_id: str
) -> AsyncIterator[ServerHandle]:
    async for handle in serve_for_session(PROGRESS, service_settings(PROGRESS, request.param, state, run_id)):
        yield handle


@pytest.fixture
def progress_stub(progress_server: ServerHandle) -> progress_service_pb2_grpc.ProgressServiceStub:
    return progress_service_pb2_grpc.ProgressServiceStub(progress_server.channel)
