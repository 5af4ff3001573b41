"""Progress batches through Envoy on PostgreSQL vs the raw asyncpg multi-row insert rate (issue 4).

Both sides write 100-item batches of new keys into the same table shape with
`INSERT … ON CONFLICT DO NOTHING RETURNING`, from the same number of concurrent clients.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import grpc
import httpx

from bench import wrk
from bench.harness import WARMUP_SECONDS, Result, alternate, measure
from devstack.stack import Stack
from studysync.progress.v1 import progress_service_pb2 as pb
from studysync.progress.v1 import progress_service_pb2_grpc as pb_grpc
from studysync.progress.v1 import resources_pb2 as res

BATCH = 100
CLIENTS = 8

RAW_INSERT = """
INSERT INTO bench_raw (profile_id, idempotency_key, seq, server_id, fingerprint, activity_type, content_id,
                       score, duration_seconds, meta_data, occurred_at, server_received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::text[],
                     $8::float8[], $9::float8[], $10::json[], $11::timestamptz[], $12::timestamptz[])
ON CONFLICT (profile_id, idempotency_key) DO NOTHING RETURNING idempotency_key
"""


async def raw_asyncpg_rate(dsn: str, schema: str, seconds: float) -> float:
    setup = await asyncpg.connect(dsn)
    await setup.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await setup.execute(
        f'CREATE TABLE "{schema}".bench_raw (profile_id varchar(128), idempotency_key varchar(128), seq bigint,'
        " server_id uuid, fingerprint varchar(64), activity_type varchar(128), content_id varchar(128),"
        " score float8, duration_seconds float8, meta_data json, occurred_at timestamptz,"
        " server_received_at timestamptz, PRIMARY KEY (profile_id, idempotency_key))"
    )
    await setup.close()
    pool = await asyncpg.create_pool(
        dsn, min_size=CLIENTS, max_size=CLIENTS, server_settings={"search_path": schema}
    )
    import datetime as dt

    now = dt.datetime.now(dt.UTC)

    async def step(worker: int, iteration: int) -> int:
        keys = [f"w{worker}-i{iteration}-{n}" for n in range(BATCH)]
        profile = f"raw-{worker}"
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                RAW_INSERT,
                [profile] * BATCH,
                keys,
                list(range(iteration * BATCH, (iteration + 1) * BATCH)),
                [uuid.uuid4() for _ in keys],
                ["0" * 64] * BATCH,
                ["letter_trace"] * BATCH,
                ["letter-a"] * BATCH,
                [0.5] * BATCH,
                [None] * BATCH,
                [None] * BATCH,
                [now] * BATCH,
                [now] * BATCH,
            )
        return len(rows)

    rate = await measure(CLIENTS, seconds, step)
    await pool.close()
    return rate.per_second


async def envoy_rate(stack: Stack, seconds: float) -> tuple[float, float]:
    profiles = [f"bench-{uuid.uuid4().hex[:8]}-{n}" for n in range(CLIENTS)]
    headers = {"Authorization": f"Bearer {stack.token('bench', profiles)}"}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=stack.http_url, headers=headers, limits=limits, timeout=30
    ) as client:
        # The load generator shares the 2 cores with Envoy, the service and PostgreSQL: keep it cheap
        # (bodies from a template, results counted without a JSON parse).
        item = (
            '{"idempotency_key":"i%d-%d","activity_type":"letter_trace","content_id":"letter-a",'
            '"score":0.5,"timestamp":"2026-01-29T10:00:00Z"}'
        )

        async def step(worker: int, iteration: int) -> int:
            items = ",".join(item % (iteration, n) for n in range(BATCH))
            body = f'{{"profile_id":"{profiles[worker]}","items":[{items}]}}'.encode()
            response = await client.post(
                "/api/v1/progress/batch", content=body, headers={"content-type": "application/json"}
            )
            response.raise_for_status()
            return response.content.count(b'"status":"ok"')

        rate = await measure(CLIENTS, seconds, step)
    return rate.per_second, rate.percentile(0.99)


async def grpc_rate(stack: Stack, seconds: float) -> float:
    """The same batches straight to the service over gRPC: what Envoy's transcoding costs."""
    profiles = [f"bench-grpc-{uuid.uuid4().hex[:8]}-{n}" for n in range(CLIENTS)]
    metadata = (("authorization", f"Bearer {stack.token('bench', profiles)}"),)
    async with grpc.aio.insecure_channel(stack.grpc_target("progress")) as channel:
        stub = pb_grpc.ProgressServiceStub(channel)

        async def step(worker: int, iteration: int) -> int:
            request = pb.BatchRecordProgressRequest(
                profile_id=profiles[worker],
                items=[
                    res.ProgressItem(
                        idempotency_key=f"i{iteration}-{n}",
                        activity_type="letter_trace",
                        content_id="letter-a",
                        score=0.5,
                        timestamp="2026-01-29T10:00:00Z",
                    )
                    for n in range(BATCH)
                ],
            )
            response = await stub.BatchRecordProgress(request, metadata=metadata)
            return sum(1 for r in response.results if r.status == "ok")

        return (await measure(CLIENTS, seconds, step)).per_second


# Each request: 100 new keys for one of 64 profiles per wrk thread (consecutive requests use other
# profiles, so concurrent batches rarely wait on each other's profile).
WRK_SCRIPT = """
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local counter = 0
local item = '{"idempotency_key":"k%d-%d","activity_type":"letter_trace","content_id":"letter-a",' ..
             '"score":0.5,"timestamp":"2026-01-29T10:00:00Z"}'
request = function()
  counter = counter + 1
  local items = {}
  for n = 1, BATCH do items[n] = string.format(item, counter, n) end
  local body = '{"profile_id":"PREFIX-' .. tid .. '-' .. (counter % 64) .. '","items":[' ..
               table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/api/v1/progress/batch", nil, body)  -- nil: the -H headers
end
"""


def wrk_rate(stack: Stack, seconds: float) -> tuple[float, float]:
    prefix = f"wrk-{uuid.uuid4().hex[:8]}"
    profiles = [f"{prefix}-{thread}-{k}" for thread in (1, 2) for k in range(64)]
    script = WRK_SCRIPT.replace("PREFIX", prefix).replace("BATCH", str(BATCH))
    result = wrk.run(
        f"{stack.http_url}/api/v1/progress/batch",
        seconds,
        CLIENTS,
        {"Authorization": f"Bearer {stack.token('bench', profiles)}"},
        script,
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
    """`ceiling`: the raw insert loop's items/s; `storage_ceiling` measures RECORD's own
    (bench.ceilings), before, between and after the case's `rounds` (harness.alternate): the machine
    is shared, and a ceiling measured right beside each round tracks the load that round met."""
    # wrk (C) when installed; else the Python client, which takes CPU from the stack it measures.
    if wrk.available():
        wrk_rate(stack, WARMUP_SECONDS)  # its own profiles and keys, so the measured runs store new ones

        async def case() -> tuple[float, float]:
            return wrk_rate(stack, seconds)
    else:

        async def case() -> tuple[float, float]:
            return await envoy_rate(stack, seconds)

    found = await alternate(storage_ceiling, case, rounds)
    direct = await grpc_rate(stack, seconds)
    storage = found.ceiling
    return [
        Result(
            "progress via Envoy vs its storage ceiling",
            f"{found.rate:,.0f} items/s, p99 {found.p99 * 1000:.0f} ms",
            f"{storage:,.0f} RECORD ({found.ceilings_text()})",
            found.ratio,
            0.5,
        ),
        Result(
            "progress batch items/s via Envoy vs raw insert",
            f"{found.rate:,.0f} items/s",
            f"{ceiling:,.0f} raw asyncpg",
            found.rate / ceiling,
            None,
        ),
        Result(
            "progress batch items/s direct gRPC",
            f"{direct:,.0f} items/s",
            f"{storage:,.0f} RECORD asyncpg",
            direct / storage,
            None,
        ),
    ]
