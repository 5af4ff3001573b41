"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import importlib.util
import random
import re
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import grpc
import pytest
import redis
from google.rpc import error_details_pb2, status_pb2
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.sync.domain import AttemptInput, payload_hash
from studysync.packages.v1 import packages_service_pb2 as packages_pb
from studysync.packages.v1 import resources_pb2 as packages_res
from studysync.progress.v1 import resources_pb2 as progress_res
from studysync.sync.v1 import resources_pb2 as sync_res
from studysync.sync.v1 import sync_service_pb2 as sync_pb

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent


def buf_setup() -> ModuleType:
    """scripts/buf_setup.py (buf from npm, the google protos beside protos/), imported from its path."""
    spec = importlib.util.spec_from_file_location("buf_setup", ROOT / "scripts" / "buf_setup.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# An attempt as the mobile client sends it, valid as it stands: its payload_hash is the client's test
# vector. CHECKED_AT is a day after it was answered.
HASH_TEST_VECTOR = "4c090984a59565b1b3130a09db58b6c47422b722b7079c8b083b1361d84ceb51"
GOOD_ATTEMPT = AttemptInput(
    client_attempt_id="123e4567-e89b-12d3-a456-426614174000",
    idempotency_key="223e4567-e89b-12d3-a456-426614174000",
    offline_session_id="323e4567-e89b-12d3-a456-426614174000",
    session_id="",
    question_id="550e8400-e29b-41d4-a716-446655440000",
    selected_option_index=2,
    answered_at="2026-01-28T10:00:00Z",
    payload_hash=HASH_TEST_VECTOR,
    package_id="",
)
CHECKED_AT = datetime(2026, 1, 29, tzinfo=UTC)


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The google.rpc.ErrorInfo the server attached to a failed call."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    raise AssertionError(f"no ErrorInfo on {error.code()}: {error.details()}")


def _samples(metrics_text: str, name: str, labels: dict[str, str]) -> Iterator[float]:
    """The values of the samples of `name` in Prometheus text format that carry `labels`."""
    for line in metrics_text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            yield float(match.group(4))


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    return next(_samples(metrics_text, name, labels), 0.0)


def metric_total(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of the samples with these labels, whatever their other labels (0 when absent)."""
    return sum(_samples(metrics_text, name, labels))


async def scrape_metrics(url: str) -> str:
    """The Prometheus text a service exposes on its metrics port."""
    import httpx

    async with httpx.AsyncClient() as client:
        return (await client.get(url)).text


def new_attempt(question_id: str, option: int = 1, answered_at: str = "2026-01-28T10:00:00Z") -> dict:
    """One attempt as a device queues it (REST JSON): fresh ids, its own offline session, a right hash."""
    return {
        "client_attempt_id": str(uuid.uuid4()),
        "idempotency_key": str(uuid.uuid4()),
        "offline_session_id": str(uuid.uuid4()),
        "question_id": question_id,
        "selected_option_index": option,
        "answered_at": answered_at,
        "payload_hash": payload_hash(answered_at, question_id, option),
    }


def redis_server_command(port: int, folder: Path, *extra: str) -> list[str]:
    """A private redis-server a test may flush, stop or freeze (never the shared one): no disk."""
    binary = shutil.which("redis-server") or "redis-server"
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), *extra]  # fmt: skip


def redis_answers(port: int) -> bool:
    """Whether the Redis on this port answers a PING (within a second)."""
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


def wait_until(condition: Callable[[], T], within: float = 60.0, what: str = "the condition") -> T:
    """Polls `condition` until it is truthy and returns that value; fails when `within` seconds pass
    without it. Deadlines are generous on purpose: how soon does not matter, only that it happens."""
    deadline = time.monotonic() + within
    while not (value := condition()):
        assert time.monotonic() < deadline, f"gave up after {within:g} s waiting for {what}"
        time.sleep(0.1)
    return value


async def wait_until_async(
    condition: Callable[[], Awaitable[T]], within: float = 60.0, what: str = "the condition"
) -> T:
    """`wait_until` for a coroutine condition, sleeping without blocking the event loop (the services
    under test run on it)."""
    try:
        async with asyncio.timeout(within):
            while True:
                if value := await condition():
                    return value
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"gave up after {within:g} s waiting for {what}") from None


class HeldWrite:
    """Holds the next connection `engine` hands out (AsyncEngine.connect, or raw_connection as the hot
    paths' driver_connection takes it), right after checkout, until `release()`. A service's
    repositories read through a separate autocommit engine (`db.reader`), so on the service's own
    engine that connection is a write's: the test can cancel the request behind it mid-write. The
    service's own code (`runs_to_completion` included) runs unchanged around the hold."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine) -> None:
        self.started = asyncio.Event()
        self._released = asyncio.Event()
        hold = self
        armed = True
        connect = AsyncEngine.connect

        class HeldConnection(AsyncConnection):
            async def start(self, is_ctxmanager: bool = False) -> AsyncConnection:
                connection = await super().start(is_ctxmanager)
                hold.started.set()
                await hold._released.wait()
                return connection

        def next_connection(target: AsyncEngine) -> AsyncConnection:
            nonlocal armed
            if target is engine and armed:
                armed = False
                return HeldConnection(target)
            return connect(target)

        raw_connection = AsyncEngine.raw_connection

        async def next_raw_connection(target: AsyncEngine) -> Any:  # runtime.db.driver_connection's way
            nonlocal armed
            pooled = await raw_connection(target)
            if target is engine and armed:
                armed = False
                hold.started.set()
                await hold._released.wait()
            return pooled

        monkeypatch.setattr(AsyncEngine, "connect", next_connection)
        monkeypatch.setattr(AsyncEngine, "raw_connection", next_raw_connection)

    def release(self) -> None:
        self._released.set()


async def cancel_mid_write(
    call: grpc.aio.UnaryUnaryCall, write: HeldWrite, metrics_url: str, method: str
) -> None:
    """Cancels `call` once its write is held, as a client that gives up does, and returns when the
    server is done with the request (its metrics count it) while that write is still held: the
    cancellation landed mid-write."""
    async with asyncio.timeout(60):
        await write.started.wait()

    async def finished() -> float:
        text = await scrape_metrics(metrics_url)
        return metric_total(text, "studysync_rpc_requests_total", method=method, code="CANCELLED")

    before = await finished()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await call.code() == grpc.StatusCode.CANCELLED

    async def given_up() -> bool:
        return await finished() > before

    await wait_until_async(given_up, what=f"the server to give up the cancelled {method}")


def progress_item(key: str, **fields: object) -> progress_res.ProgressItem:
    """A valid progress item with this idempotency key; `fields` override its values."""
    values: dict[str, object] = {
        "idempotency_key": key,
        "activity_type": "letter_trace",
        "content_id": "letter-a",
        "score": 0.9,
        "timestamp": "2026-01-29T10:00:00Z",
    }
    values.update(fields)
    return progress_res.ProgressItem(**values)


async def add_bank_questions(packages_stub, admin, count: int = 4) -> list[packages_res.Question]:
    """`count` questions (3 options; the correct one is index 1) in a fresh block of the bank."""
    block = random.randint(10_000, 2**40)
    questions = [
        packages_res.Question(
            question_id=str(uuid.uuid4()),
            stem=f"Q{n}?",
            options=["a", "b", "c"],
            correct_index=1,
            explanation="",
            year_id=2,
            block_id=block,
            theme_id=7,
        )
        for n in range(count)
    ]
    await packages_stub.BatchCreateQuestions(
        packages_pb.BatchCreateQuestionsRequest(questions=questions), metadata=admin
    )
    return questions


def attempt_input(
    question_id: str,
    option: int = 1,
    offline: str | None = None,
    answered_at: str = "2026-01-28T10:00:00Z",
    key: str | None = None,
    **fields: str,
) -> sync_res.AttemptInput:
    """One attempt for BatchSyncAttempts with fresh ids and a right hash; without `offline` (or a
    `session_id` in `fields`) its offline session is one per question."""
    values = {
        "client_attempt_id": str(uuid.uuid4()),
        "idempotency_key": key or str(uuid.uuid4()),
        "offline_session_id": offline or "",
        "question_id": question_id,
        "selected_option_index": option,
        "answered_at": answered_at,
        "payload_hash": payload_hash(answered_at, question_id, option),
    }
    if "session_id" in fields:
        del values["offline_session_id"]  # an attempt into a server session names no offline one
    elif offline is None:
        values["offline_session_id"] = str(uuid.uuid5(uuid.NAMESPACE_OID, question_id))
    values.update(fields)
    return sync_res.AttemptInput(**values)


async def sync_attempts(stub, metadata, *attempts: sync_res.AttemptInput) -> list[sync_res.AttemptResult]:
    """The results of one BatchSyncAttempts call."""
    request = sync_pb.BatchSyncAttemptsRequest(attempts=attempts)
    return list((await stub.BatchSyncAttempts(request, metadata=metadata)).results)


async def get_session(stub, metadata, session_id: str) -> sync_res.Session:
    return await stub.GetSession(sync_pb.GetSessionRequest(session_id=session_id), metadata=metadata)


# If-None-Match spellings that all hold a package's ETag `tag` (RFC 9110 §13.1.2): the service and
# the edge must answer each of them 304.
IF_NONE_MATCH_FORMS = {
    "exact": lambda tag: tag,
    "weak": lambda tag: f"W/{tag}",
    "list": lambda tag: f'"{"0" * 64}", W/{tag}',
    "list-no-spaces": lambda tag: f'W/"{"0" * 64}",{tag}',
    "star": lambda tag: "*",
    "two-header-lines": lambda tag: [f'"{"0" * 64}"', tag],
}
