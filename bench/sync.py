"""Attempt batches through Envoy on PostgreSQL + Redis (issue 5): attempts/s against the raw asyncpg
insert rate of the same run, and p99 per 100-attempt batch at 32 concurrent clients."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import grpc
import httpx

from bench import wrk
from bench.harness import WARMUP_SECONDS, Alternated, Result, alternate, measure
from devstack.stack import Stack
from services.sync.domain import payload_hash
from studysync.packages.v1 import packages_service_pb2 as ppb
from studysync.packages.v1 import packages_service_pb2_grpc as ppb_grpc
from studysync.packages.v1 import resources_pb2 as pres

CLIENTS = 32
BLOCK = 424_242
BATCH = 100
BODIES_PER_CLIENT = 60  # made before the clock starts, so the client spends no CPU on hashing


async def _bank(stack: Stack, token: str) -> tuple[list[str], str]:
    """50 bank questions, and a package made of them (its id) for package-pinned attempts."""
    questions = [
        pres.Question(
            question_id=str(uuid.uuid4()),
            stem=f"Bench question {n}?",
            options=["a", "b", "c", "d"],
            correct_index=n % 4,
            explanation="",
            block_id=BLOCK,
        )
        for n in range(50)
    ]
    admin = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(stack.grpc_target("packages")) as channel:
        stub = ppb_grpc.PackagesServiceStub(channel)
        await stub.BatchCreateQuestions(ppb.BatchCreateQuestionsRequest(questions=questions), metadata=admin)
        request = ppb.GenerateTestPackageRequest(scope=pres.BLOCK)
        request.scope_data.update({"block_id": BLOCK})
        package = (await stub.GenerateTestPackage(request, metadata=admin)).package
    return [q.question_id for q in questions], package.package_id


def _body(question_ids: list[str], package_id: str | None = None) -> bytes:
    offline = str(uuid.uuid4())
    attempts = []
    for n in range(BATCH):
        question, option, answered_at = (
            question_ids[n % len(question_ids)],
            n % 4,
            f"2026-01-28T10:{n // 60:02d}:{n % 60:02d}Z",
        )
        attempts.append(
            {
                "client_attempt_id": str(uuid.uuid4()),
                "idempotency_key": str(uuid.uuid4()),
                "offline_session_id": offline,
                "question_id": question,
                "selected_option_index": option,
                "answered_at": answered_at,
                "payload_hash": payload_hash(answered_at, question, option),
                **({"package_id": package_id} if package_id else {}),
            }
        )
    return json.dumps({"attempts": attempts}).encode()


def _wrk(
    stack: Stack, question_ids: list[str], package_id: str | None, seconds: float
) -> tuple[float, float]:
    _wrk_once(stack, question_ids, package_id, WARMUP_SECONDS)
    return _wrk_once(stack, question_ids, package_id, seconds)


def _wrk_once(
    stack: Stack, question_ids: list[str], package_id: str | None, seconds: float
) -> tuple[float, float]:
    count = int(seconds * 300) + 200  # more than the stack can take in `seconds`: each body is used once
    bodies = [_body(question_ids, package_id) for _ in range(count)]
    # A user per body: like real devices, a user has one batch in flight at a time.
    tokens = [stack.token(f"bench-device-{uuid.uuid4().hex[:12]}") for _ in range(count)]
    result = wrk.post_prepared(
        stack.http_url, "/api/v1/sync/attempts:batch", bodies, tokens, seconds, CLIENTS
    )
    assert result.bad_responses == 0, result
    return result.requests_per_second * BATCH, result.p99_seconds


async def run(
    stack: Stack,
    ceiling: float,
    storage_ceiling: Callable[[], Awaitable[float]],
    seconds: float,
    rounds: int = 1,
) -> list[Result]:
    """`ceiling`: the raw insert loop's rows/s; `storage_ceiling` measures STORE's own attempts/s
    (bench.ceilings), before, between and after the case's rounds (see bench.progress.run)."""
    question_ids, package_id = await _bank(stack, stack.token("bench-admin", roles=["admin"]))
    if wrk.available():
        _wrk_once(stack, question_ids, None, WARMUP_SECONDS)

        async def case() -> tuple[float, float]:
            return _wrk_once(stack, question_ids, None, seconds)
    else:

        async def case() -> tuple[float, float]:
            return await _python_rate(stack, question_ids, seconds)

    found = await alternate(storage_ceiling, case, rounds)
    rows = _results(found, ceiling)
    if wrk.available():
        pinned, pinned_p99 = _wrk(stack, question_ids, package_id, seconds)
        rows.append(
            Result(
                "sync attempts/s package-pinned",
                f"{pinned:,.0f} attempts/s, p99 {pinned_p99 * 1000:.0f} ms",
                f"{found.ceiling:,.0f} STORE asyncpg",
                pinned / found.ceiling,
                None,
            )
        )
    return rows


async def _python_rate(stack: Stack, question_ids: list[str], seconds: float) -> tuple[float, float]:
    """The case without wrk: a user per client, bodies made before the clock starts."""
    tokens = [stack.token(f"bench-learner-{uuid.uuid4().hex[:8]}") for _ in range(CLIENTS)]
    bodies = [[_body(question_ids) for _ in range(BODIES_PER_CLIENT)] for _ in range(CLIENTS)]
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=stack.http_url, limits=limits, timeout=30) as client:

        async def step(worker: int, iteration: int) -> int:
            if iteration >= BODIES_PER_CLIENT:
                return 0  # out of prepared bodies: count nothing more
            response = await client.post(
                "/api/v1/sync/attempts:batch",
                content=bodies[worker][iteration],
                headers={"Authorization": f"Bearer {tokens[worker]}", "content-type": "application/json"},
            )
            response.raise_for_status()
            return response.content.count(b'"status":"acked"')

        rate = await measure(CLIENTS, seconds, step)
    return rate.per_second, rate.percentile(0.99)


def _results(found: Alternated, ceiling: float) -> list[Result]:
    return [
        Result(
            "sync via Envoy vs its storage ceiling",
            f"{found.rate:,.0f} attempts/s",
            f"{found.ceiling:,.0f} STORE ({found.ceilings_text()})",
            found.ratio,
            0.5,
        ),
        Result(
            f"sync attempts/s via Envoy vs raw insert, {CLIENTS} clients",
            f"{found.rate:,.0f} attempts/s",
            f"{ceiling:,.0f} raw asyncpg",
            found.rate / ceiling,
            None,
        ),
        Result(
            f"sync p99 per {BATCH}-attempt batch ({CLIENTS} clients)",
            f"{found.p99 * 1000:,.0f} ms",
            "500 ms limit",
            0.5 / found.p99 if found.p99 else 0.0,
            1.0,
        ),
    ]
