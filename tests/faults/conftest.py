"""The fault suite: the real stack (PostgreSQL, a private Redis, three services, Envoy) under faults,
driven by clients that retry as real ones do. Every test reports what it sent, what the server stored,
and what was lost or stored twice; the table is printed at the end of the run.

`make test` runs the short schedule; `make soak` (`pytest --soak tests/faults`) a long one.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import hypothesis
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devstack.stack import Stack, free_port
from services.sync.domain import payload_hash
from tests.conftest import POSTGRES_URL, drop_schema
from tests.helpers import redis_answers, redis_server_command, wait_until

pytestmark = pytest.mark.faults


@dataclass(frozen=True)
class Schedule:
    rounds: int  # fault injections per test
    batches: int  # batches each client sends
    clients: int


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis examples per fuzz test: a short run in `make test`, many in `make soak`.
    hypothesis.settings.register_profile("faults-short", max_examples=25)
    hypothesis.settings.register_profile("faults-soak", max_examples=600)
    hypothesis.settings.load_profile("faults-soak" if config.getoption("--soak") else "faults-short")


@pytest.fixture(scope="session")
def schedule(request: pytest.FixtureRequest) -> Schedule:
    if request.config.getoption("--soak"):
        return Schedule(rounds=10, batches=200, clients=8)
    return Schedule(rounds=2, batches=12, clients=3)


@dataclass
class Counts:
    name: str
    sent: int = 0  # distinct items/attempts the clients tried to store
    stored: int = 0  # of those, found on the server at the end
    lost: int = 0  # sent but not stored
    doubled: int = 0  # stored more than once (two server ids for one key)
    statuses: dict[str, int] = field(
        default_factory=dict
    )  # every HTTP answer seen, e.g. {"200": 40, "503": 3}

    def saw(self, status: int | str) -> None:
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1

    def line(self) -> str:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.name}: sent {self.sent}, stored {self.stored}, lost {self.lost}, doubled {self.doubled}"
            f" (answers {answers})"
        )


_REPORTS: list[Counts] = []


@pytest.fixture
def counts(request: pytest.FixtureRequest) -> Iterator[Counts]:
    found = Counts(request.node.name)
    yield found
    _REPORTS.append(found)
    print("\n" + found.line())


def pytest_terminal_summary(terminalreporter) -> None:
    if _REPORTS:
        terminalreporter.section("fault suite: sent / stored / lost / doubled")
        for report in _REPORTS:
            terminalreporter.write_line(report.line())


class PrivateRedis:
    """A Redis server of the suite's own (never the shared one): stopped, flushed, frozen at will."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self._folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            redis_server_command(self.port, self._folder), stdout=subprocess.DEVNULL
        )
        wait_until(lambda: redis_answers(self.port), within=30, what="the private Redis to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server must be able to die
            self.process.kill()
            self.process.wait()
            self.process = None

    def flush(self) -> None:
        client = redis.Redis(port=self.port)
        client.flushall()  # this private server only
        client.close()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis) -> Iterator[Stack]:
    """The stack on PostgreSQL (schemas of its own) with the private Redis, shared by the suite: every
    fault test leaves it whole (services restarted, Redis thawed and running)."""
    run = uuid.uuid4().hex[:8]
    env = {"REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0"}
    for name in ("progress", "packages", "sync"):
        env[f"{name.upper()}_DATABASE_URL"] = POSTGRES_URL
        env[f"{name.upper()}_DB_SCHEMA"] = f"fault_{run}_{name}"
    state = tmp_path_factory.mktemp("fault-stack")
    stack = Stack.on_free_ports(state, env=env, log_dir=state / "logs")
    stack.start()
    yield stack
    stack.stop()
    for name in ("progress", "packages", "sync"):
        asyncio.run(drop_schema(f"fault_{run}_{name}"))


def schemas(stack: Stack) -> list[str]:
    return [stack.env[f"{name.upper()}_DB_SCHEMA"] for name in ("progress", "packages", "sync")]


def terminate_backends(stack: Stack) -> int:
    """Terminates this stack's own PostgreSQL connections (by application_name), nobody else's."""

    async def run() -> int:
        engine = create_async_engine(POSTGRES_URL)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ANY(:n)"
                    ),
                    {"n": [f"studysync/{schema}" for schema in schemas(stack)]},
                )
                return len(rows.all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture(scope="session")
def questions(fault_stack: Stack) -> list[str]:
    """Bank questions (3 options, the right one is 1) that sync attempts answer."""
    ids = [str(uuid.uuid4()) for _ in range(10)]
    body = {
        "questions": [
            {
                "question_id": q,
                "stem": f"Q{n}?",
                "options": ["a", "b", "c"],
                "correct_index": 1,
                "year_id": 1,
                "block_id": 1,
            }
            for n, q in enumerate(ids)
        ]
    }
    token = fault_stack.token("fault-admin", [], ["admin"])
    response = httpx.post(
        f"{fault_stack.http_url}/api/v1/admin/questions:batchCreate",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return ids


def progress_item(key: str) -> dict:
    return {
        "idempotency_key": key,
        "activity_type": "quiz",
        "content_id": "c-1",
        "score": 1,
        "timestamp": "2026-01-29T10:00:00Z",
    }


def sync_attempt(key: str, question_id: str, offline_session: str) -> dict:
    answered_at = "2026-01-28T10:00:00Z"
    return {
        "client_attempt_id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "idempotency_key": key,
        "offline_session_id": offline_session,
        "question_id": question_id,
        "selected_option_index": 1,
        "answered_at": answered_at,
        "payload_hash": payload_hash(answered_at, question_id, 1),
    }


def stored_progress(
    http: httpx.Client, headers: dict, profile: str, keys: list[str], counts: Counts
) -> dict[str, str]:
    """key → server_id of the keys the server holds (asked like a client: retried on a 503)."""
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        body = {"profile_id": profile, "idempotency_keys": keys[start : start + 500]}
        answer = send(http, "/api/v1/progress/receipts:batchGet", body, headers, counts)
        found |= {r["idempotency_key"]: r["server_id"] for r in answer["receipts"] if r["found"]}
    return found


def stored_attempts(http: httpx.Client, headers: dict, keys: list[str], counts: Counts) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        body = {"idempotency_keys": keys[start : start + 500]}
        answer = send(http, "/api/v1/sync/receipts:batchGet", body, headers, counts)
        found |= {r["idempotency_key"]: r["server_attempt_id"] for r in answer["receipts"] if r["found"]}
    return found


RETRYABLE = {429, 502, 503, 504}


def send(http: httpx.Client, path: str, body: dict, headers: dict, counts: Counts, tries: int = 60) -> dict:
    """POSTs like a real client: a network error, 429 or 502-504 is retried (the same body; every item is
    idempotent); anything else is the answer. A 500 fails the test: it tells a client nothing."""
    for attempt in range(tries):
        try:
            response = http.post(path, json=body, headers={**headers, "x-client-retry": str(attempt)})
        except httpx.TransportError:
            counts.saw("network")
        else:
            counts.saw(response.status_code)
            if response.status_code not in RETRYABLE:
                assert response.status_code == 200, response.text
                return response.json()
        time.sleep(min(0.05 * 2**attempt, 0.5))
    raise AssertionError(f"no answer after {tries} tries: {counts.statuses}")
