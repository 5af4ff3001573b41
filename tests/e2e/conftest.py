"""End-to-end fixtures: the three services as processes behind the real Envoy (from the wheel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import Stack
from tests.conftest import BACKENDS, POSTGRES_URL, REDIS_URL, drop_schema, forget_cache_keys

DENIED_PROFILE = "flag-denied-profile"
SEED_QUESTION = "550e8400-e29b-41d4-a716-446655440000"


def backend_env(backend: str, run_id: str) -> dict[str, str]:
    """SQLite without Redis (the embedded default), or PostgreSQL with the real Redis."""
    env = {"PROGRESS_OFFLINE_DENY": DENIED_PROFILE}
    if backend == "sqlite":
        return env
    env["REDIS_URL"] = REDIS_URL
    for name in ("progress", "packages", "sync"):
        env[f"{name.upper()}_DATABASE_URL"] = POSTGRES_URL
        env[f"{name.upper()}_DB_SCHEMA"] = f"e2e_{run_id}_{name}"
    return env


@pytest.fixture(scope="session", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> Iterator[Stack]:
    """One stack per database backend, shared by the read-mostly end-to-end tests."""
    state = tmp_path_factory.mktemp(f"stack-{request.param}")
    running = Stack.on_free_ports(state, env=backend_env(request.param, run_id), log_dir=state / "logs")
    running.start()
    yield running
    running.stop()
    if request.param == "postgres":
        import asyncio

        for name in ("progress", "packages", "sync"):
            asyncio.run(drop_schema(f"e2e_{run_id}_{name}"))
        forget_cache_keys(REDIS_URL, f"sync:e2e_{run_id}_sync:*")
        forget_cache_keys(REDIS_URL, f"packages:{{e2e_{run_id}_packages}}:*")  # the bank version


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.http_url, timeout=30) as client:
        yield client


@pytest.fixture
def bearer(stack: Stack):
    def headers(
        sub: str = "user-1", profiles: list[str] | None = None, roles: list[str] | None = None
    ) -> dict:
        return {"Authorization": f"Bearer {stack.token(sub, profiles, roles)}"}

    return headers


@pytest.fixture
def seed_question(http, bearer) -> str:
    """The question the seed's curl answers, present in the bank with at least 3 options."""
    question = {
        "question_id": SEED_QUESTION,
        "stem": "Which of these is a branch of the brachial plexus?",
        "options": ["Phrenic", "Vagus", "Musculocutaneous", "Accessory"],
        "correct_index": 2,
        "explanation": "Musculocutaneous is a terminal branch of the lateral cord.",
        "year_id": 1,
        "block_id": 1,
    }
    response = http.post(
        "/api/v1/admin/questions:batchCreate",
        json={"questions": [question]},
        headers=bearer("admin", roles=["admin"]),
    )
    assert response.status_code == 200, response.text
    return SEED_QUESTION


# HTTP status -> the gRPC codes an error body with that status carries (README "Errors").
GRPC_CODES_FOR_STATUS = {
    400: {3, 9},  # INVALID_ARGUMENT, FAILED_PRECONDITION
    401: {16},
    403: {7},
    404: {5},
    405: {12},
    413: {8},
    415: {3},
    429: {8},
    501: {12},
    503: {14},
}


def assert_json_error(response: httpx.Response, status: int, reason: str | None = None) -> dict:
    """Every error, whoever made it (Envoy or a service), has one shape: google.rpc.Status as JSON,
    `{"code": <gRPC code number>, "message", "details": [ErrorInfo]}`, and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"code", "message", "details"}, body
    assert body["code"] in GRPC_CODES_FOR_STATUS[status], body
    assert isinstance(body["message"], str) and body["message"], body
    [info] = body["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo", body
    assert info["domain"] == "studysync.dev" and info["reason"].isupper(), body
    metadata = info.get("metadata", {})  # empty values are left out, never null
    assert all(isinstance(v, str) for v in metadata.values()), body
    if status != 405:  # a method HTTP does not define is refused before a request id is assigned
        assert metadata["request_id"], body
    if reason is not None:
        assert info["reason"] == reason, body
    assert "Traceback" not in response.text
    return body


def state_of(stack: Stack) -> Path:
    return stack.state
