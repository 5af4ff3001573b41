"""Shared fixtures: real services on port 0 over real gRPC, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.progress.domain import Rollout
from services.progress.settings import ProgressSettings
from services.runtime.keys import ensure_dev_keys, mint_token, write_service_token
from services.runtime.server import RunningService, ServiceSpec, create_server
from services.runtime.settings import Settings
from services.sync.settings import SyncSettings

POSTGRES_URL = os.environ.get(
    "STUDYSYNC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("STUDYSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ["sqlite", "postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak", action="store_true", default=False, help="the fault suite's long schedule (make soak)"
    )


@pytest.fixture(scope="session")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state folder of the test run: the dev signing key and JWKS."""
    folder = tmp_path_factory.mktemp("state")
    ensure_dev_keys(folder)
    write_service_token(folder)  # sync's identity for its internal calls to packages
    return folder


@pytest.fixture(scope="session")
def make_token(state: Path) -> Callable[..., str]:
    def make(
        sub: str = "user-1",
        profiles: list[str] | None = None,
        roles: list[str] | None = None,
        ttl: int = 3600,
    ) -> str:
        return mint_token(state, sub, profiles, roles, ttl)

    return make


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


def service_settings(
    spec: ServiceSpec, backend: str, state: Path, run_id: str, **overrides: object
) -> Settings:
    """Settings for one test server: port 0, its own SQLite file or PostgreSQL schema."""
    url = (
        POSTGRES_URL if backend == "postgres" else f"sqlite+aiosqlite:///{state / f'{spec.name}-{run_id}.db'}"
    )
    settings = Settings(
        service=spec.name,
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        database_url=url,
        db_schema=f"t_{run_id}_{spec.name}",
        redis_url=None,
        state_dir=state,
        grace_seconds=1.0,
        max_message_bytes=16 * 1024 * 1024,
        migrate_on_start=True,
        concurrent_calls=spec.concurrent_calls,  # as deployed
    )
    if spec.name == "sync" and "options" not in overrides:
        overrides["options"] = SyncSettings("127.0.0.1:1")  # a packages address nothing answers
    if spec.name == "progress" and "options" not in overrides:
        overrides["options"] = ProgressSettings(Rollout(100, frozenset(), frozenset()))  # the flag for all
    return dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]


async def drop_schema(schema: str) -> None:
    engine = create_async_engine(POSTGRES_URL)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


class ServerHandle:
    """A started service and a channel to it."""

    def __init__(self, service: RunningService, port: int) -> None:
        self.service = service
        self.port = port
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.service.metrics_port}/metrics"


async def start_server(spec: ServiceSpec, settings: Settings) -> ServerHandle:
    service, port = await create_server(spec, settings)
    await service.start()
    return ServerHandle(service, port)


async def serve_for_session(spec: ServiceSpec, settings: Settings) -> AsyncIterator[ServerHandle]:
    handle = await start_server(spec, settings)
    try:
        yield handle
    finally:
        await handle.channel.close()
        await handle.service.stop(0)
        if settings.database_url.startswith("postgresql"):
            await drop_schema(settings.db_schema)
        if settings.redis_url:
            forget_cache_keys(settings.redis_url, f"sync:{settings.db_schema}:*")


def forget_cache_keys(redis_url: str, pattern: str) -> None:
    """The keys a test server cached (namespaced by its schema), so runs leave the shared Redis clean."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=pattern, count=10_000))
        for start in range(0, len(keys), 10_000):
            client.unlink(*keys[start : start + 10_000])
    except redis.RedisError:
        pass  # a test stopped this Redis on purpose
    finally:
        client.close()


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
