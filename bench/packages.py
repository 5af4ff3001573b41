"""Package revalidation (304) through Envoy vs the same call made directly over gRPC (issue 6) and vs
Envoy answering a local reply of the same size (issue 15 §4), and full downloads of a 200-question
package both ways."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx

from bench import wrk
from bench.harness import WARMUP_SECONDS, Result, measure
from devstack.stack import Stack, envoy_binary
from studysync.packages.v1 import packages_service_pb2 as pb
from studysync.packages.v1 import packages_service_pb2_grpc as pb_grpc
from studysync.packages.v1 import resources_pb2 as res

CLIENTS = 8
QUESTIONS = 200
# The edge's 304 and its local-reply ceiling are measured in turns, this many each: other load on a
# shared machine then weighs on both alike.
ROUNDS = 3


async def _publish_package(stub: pb_grpc.PackagesServiceStub, token: str) -> res.TestPackage:
    admin = (("authorization", f"Bearer {token}"),)
    block = random.randint(10_000, 2**40)
    questions = [
        res.Question(
            question_id=str(uuid.uuid4()),
            stem=f"Benchmark question {n}: which option is right? " * 3,
            options=["first option", "second option", "third option", "fourth option"],
            correct_index=n % 4,
            explanation="A realistic explanation of a sentence or two. " * 3,
            block_id=block,
        )
        for n in range(QUESTIONS)
    ]
    await stub.BatchCreateQuestions(pb.BatchCreateQuestionsRequest(questions=questions), metadata=admin)
    request = pb.GenerateTestPackageRequest(scope=res.BLOCK)
    request.scope_data.update({"block_id": block})
    return (await stub.GenerateTestPackage(request, metadata=admin)).package


async def _grpc_rate(stub, package: res.TestPackage, metadata: tuple, seconds: float) -> float:
    async def step(worker: int, iteration: int) -> int:
        await stub.GetTestPackage(pb.GetTestPackageRequest(package_id=package.package_id), metadata=metadata)
        return 1

    return (await measure(CLIENTS, seconds, step)).per_second


async def _http_rate(url: str, headers: dict, status: int, seconds: float) -> float:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(headers=headers, limits=limits) as client:

        async def step(worker: int, iteration: int) -> int:
            response = await client.get(url)
            assert response.status_code == status, response.status_code
            return 1

        return (await measure(CLIENTS, seconds, step)).per_second


# The ceiling: a second Envoy with nothing but a direct_response 304 carrying the gateway's own
# 304 headers (no token check, no Lua, no access log): the most an Envoy can do for a revalidation.
LOCAL_REPLY = """\
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: local_reply
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    enable_reuse_port: false
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: local_reply
          route_config:
            virtual_hosts:
            - name: local_reply
              domains: ["*"]
              routes:
              - match: {{prefix: /}}
                direct_response: {{status: 304}}
                response_headers_to_add:
{headers}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""


def gateway_workers(stack: Stack) -> int:
    """The worker threads the gateway's Envoy runs (its --concurrency, from its admin API)."""
    info = httpx.get(f"http://127.0.0.1:{stack.admin_port}/server_info", timeout=10).json()
    return int(info["command_line_options"]["concurrency"])


@contextlib.contextmanager
def local_reply_envoy(headers: dict[str, str], workers: int) -> Iterator[str]:
    """A second Envoy answering every request with a 304 and `headers`; yields its base URL."""
    lines = "\n".join(
        f"                - header: {{key: {name}, value: {json.dumps(value)}}}"
        for name, value in headers.items()
    )
    with tempfile.TemporaryDirectory(prefix="studysync-local-reply-") as folder:
        config, admin_file = Path(folder) / "envoy.yaml", Path(folder) / "admin"
        config.write_text(LOCAL_REPLY.format(headers=lines))
        command = [envoy_binary(), "-c", str(config), "--concurrency", str(workers), "--disable-hot-restart"]
        command += ["--log-level", "warn", "--admin-address-path", str(admin_file)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            yield _listener_url(admin_file, process)
        finally:
            process.terminate()
            process.wait(30)


def _listener_url(admin_file: Path, process: subprocess.Popen) -> str:
    """Both ports are chosen by the kernel (port 0): read the listener's from the admin API."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if admin_file.exists() and admin_file.read_text().strip():
            try:
                found = httpx.get(f"http://{admin_file.read_text().strip()}/listeners?format=json").json()
                address = found["listener_statuses"][0]["local_address"]["socket_address"]
                return f"http://{address['address']}:{address['port_value']}"
            except (httpx.HTTPError, KeyError, IndexError):
                pass
        time.sleep(0.1)
    raise RuntimeError(f"the local-reply Envoy did not start (exit code {process.poll()})")


def _edge_304_headers(url: str, request_headers: dict) -> dict[str, str]:
    """The headers of the gateway's own 304 (Envoy adds date and server to either): the same size."""
    with httpx.Client(headers=request_headers, timeout=10) as client:  # one connection: one worker
        client.get(url)  # the service answers and the worker learns the ETag
        response = client.get(url)
    assert response.status_code == 304, response.status_code
    assert "x-envoy-upstream-service-time" not in response.headers, "not answered at the edge"
    return {k: v for k, v in response.headers.items() if k not in ("date", "server", "content-length")}


async def run(stack: Stack, seconds: float) -> list[Result]:
    token = stack.token("bench", roles=["admin"])
    auth = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(stack.grpc_target("packages")) as channel:
        stub = pb_grpc.PackagesServiceStub(channel)
        package = await _publish_package(stub, token)
        tag = f'"{package.version_hash}"'
        direct_304 = await _grpc_rate(stub, package, (*auth, ("if-none-match", tag)), seconds)
        direct_full = await _grpc_rate(stub, package, auth, seconds)
    headers = {"Authorization": f"Bearer {token}"}
    revalidation = {**headers, "If-None-Match": tag}
    path = f"/api/v1/tests/packages/{package.package_id}"
    url = stack.http_url + path
    with local_reply_envoy(_edge_304_headers(url, revalidation), gateway_workers(stack)) as local_reply:
        if wrk.available():
            # Also teaches every gateway worker the package's ETag (edge_revalidation.lua).
            wrk.run(url, WARMUP_SECONDS, CLIENTS, headers)
            wrk.run(local_reply + path, WARMUP_SECONDS, CLIENTS, revalidation)
            turns = [
                (
                    wrk.run(url, seconds / ROUNDS, CLIENTS, revalidation),
                    wrk.run(local_reply + path, seconds / ROUNDS, CLIENTS, revalidation),
                )
                for _ in range(ROUNDS)
            ]
            full = wrk.run(url, seconds, CLIENTS, headers)
            assert all(r.bad_responses == 0 for turn in turns for r in turn) and full.bad_responses == 0
            envoy_304 = sum(edge.requests_per_second for edge, _ in turns) / ROUNDS
            local_304 = sum(local.requests_per_second for _, local in turns) / ROUNDS
            envoy_full = full.requests_per_second
        else:  # a slower load generator: the ratios then understate Envoy
            await _http_rate(url, headers, 200, WARMUP_SECONDS)
            envoy_304 = await _http_rate(url, revalidation, 304, seconds)
            local_304 = await _http_rate(local_reply + path, revalidation, 304, seconds)
            envoy_full = await _http_rate(url, headers, 200, seconds)
    return [
        Result(
            "package 304 revalidation req/s via Envoy",
            f"{envoy_304:,.0f} req/s",
            f"{direct_304:,.0f} direct gRPC",
            envoy_304 / direct_304,
            0.8,
        ),
        Result(
            "package 304 via Envoy vs Envoy local reply",
            f"{envoy_304:,.0f} req/s",
            f"{local_304:,.0f} local reply",
            envoy_304 / local_304,
            0.25,
        ),
        Result(
            f"package GET {QUESTIONS} questions req/s via Envoy",
            f"{envoy_full:,.0f} req/s",
            f"{direct_full:,.0f} direct gRPC",
            envoy_full / direct_full,
            None,
        ),
    ]
