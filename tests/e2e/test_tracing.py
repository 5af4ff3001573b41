"""One REST call through Envoy is one trace: Envoy, sync, packages, the database and Redis in it.

The test is the OTLP collector: a real gRPC TraceService that keeps what it is sent in memory.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from devstack.stack import Stack
from tests.conftest import REDIS_URL, drop_schema, forget_cache_keys
from tests.e2e.conftest import backend_env
from tests.helpers import new_attempt

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    kind: int


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[Span] = []

    def Export(self, request, context):
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append(
                        Span(attributes.get("service.name", ""), span.name, span.trace_id.hex(), span.kind)
                    )
        return trace_service_pb2.ExportTraceServiceResponse()

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in list(self.spans) if s.trace_id == trace_id]


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[Collector, int]]:
    servicer = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(0)


@pytest.fixture(scope="module")
def traced_stack(collector, tmp_path_factory: pytest.TempPathFactory, run_id: str) -> Iterator[Stack]:
    """PostgreSQL + Redis (so the batch has driver and cache spans), every process exporting."""
    _, port = collector
    env = backend_env("postgres", f"tr{run_id}")
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_BSP_SCHEDULE_DELAY": "100"}
    state = tmp_path_factory.mktemp("traced")
    stack = Stack.on_free_ports(
        state, env=env, gateway={"otlp_address": ("127.0.0.1", port)}, log_dir=state / "logs"
    )
    stack.start()
    yield stack
    stack.stop()
    for name in ("progress", "packages", "sync"):
        asyncio.run(drop_schema(f"e2e_tr{run_id}_{name}"))
    forget_cache_keys(REDIS_URL, f"sync:e2e_tr{run_id}_sync:*")


def wait_for(condition, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def a_sync_batch(question_id: str) -> dict:
    return {"attempts": [new_attempt(question_id)]}


def test_one_rest_call_is_one_trace_across_envoy_sync_packages_db_and_redis(traced_stack, collector):
    spans_seen, _ = collector
    question_id = str(uuid.uuid4())
    with httpx.Client(base_url=traced_stack.http_url, timeout=30) as http:
        admin = {"Authorization": f"Bearer {traced_stack.token('admin', roles=['admin'])}"}
        created = http.post(
            "/api/v1/admin/questions:batchCreate",
            json={
                "questions": [
                    {
                        "question_id": question_id,
                        "stem": "2 + 2?",
                        "options": ["3", "4"],
                        "correct_index": 1,
                        "year_id": 1,
                    }
                ]
            },
            headers=admin,
        )
        assert created.status_code == 200, created.text
        trace_id = uuid.uuid4().hex
        headers = {
            "Authorization": f"Bearer {traced_stack.token('traced-user')}",
            "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01",
        }
        response = http.post("/api/v1/sync/attempts:batch", json=a_sync_batch(question_id), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "acked"

    def complete() -> list[Span]:
        spans = spans_seen.trace(trace_id)
        services = {s.service for s in spans}
        wanted = {"studysync-gateway", "studysync-sync", "studysync-packages"}
        return (
            # the cache write (HSET, after the commit) is the batch's last span
            spans if wanted <= services and any(s.name.startswith("HSET") for s in spans) else []
        )

    spans = wait_for(complete)
    assert spans, f"incomplete trace {trace_id}: {spans_seen.trace(trace_id)}"
    names = {(s.service, s.name) for s in spans}
    assert ("studysync-sync", "/studysync.sync.v1.SyncService/BatchSyncAttempts") in names
    assert ("studysync-packages", "/studysync.packages.v1.PackagesService/BatchGetQuestions") in names
    sync_db = [
        s
        for s in spans
        if s.service == "studysync-sync" and s.name.split()[0] in {"SELECT", "WITH", "INSERT"}
    ]
    assert sync_db, names
    assert {"HMGET", "HSET EXPIRE HLEN"} <= {s.name for s in spans if s.service == "studysync-sync"}, names
    assert all(s.trace_id == trace_id for s in spans)


def test_access_log_lines_carry_the_trace_id(traced_stack):
    trace_id = uuid.uuid4().hex
    with httpx.Client(base_url=traced_stack.http_url, timeout=30) as http:
        response = http.get(
            "/api/v1/features",
            params={"profile_id": "kid-1"},
            headers={
                "Authorization": f"Bearer {traced_stack.token('u', ['kid-1'])}",
                "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01",
            },
        )
    assert response.status_code == 200, response.text
    logs = Path(traced_stack.log_dir)

    def lines_with_trace() -> dict[str, dict]:
        found = {}
        for log in logs.glob("*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if trace_id in line and line.startswith("{"):
                    found[log.stem] = json.loads(line)
        return found if {"envoy", "progress"} <= {name.split("-")[0] for name in found} else {}

    found = wait_for(lines_with_trace, 30)
    assert found, list(logs.glob("*.log"))
    assert all(entry["trace_id"] == trace_id for entry in found.values())
