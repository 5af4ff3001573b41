"""Re-sending to a deep profile (issue 15): after an outage every client re-sends what it already
stored, so a re-sent batch must be at least as fast as its first send, also for a profile (progress)
or user (sync) holding ~10^5 rows.

Each client owns one deep owner, bulk-loaded with history beside many small owners (the usual table:
most owners hold a few rows, which is what a generic plan takes every owner to hold). The clients
first send new 100-item batches for `seconds`, then re-send the batches they stored, once each;
sync's Redis entries of those users are dropped first (lost with the outage), so the re-send reaches
the database. One client, as in the issue's measurement: whether PostgreSQL's statistics make the
generic plan go wrong depends on how the rows split between owners, and with one deep owner among
small ones they do (tests/service/test_query_plans.py checks the plans themselves).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from bench.harness import Result, measure
from bench.sync import _bank, _body
from devstack.stack import Stack

CLIENTS = 1
BATCH = 100
DEEP_ROWS = 100_000
OTHER_OWNERS, OTHER_ROWS = 20_000, 2

_PROGRESS_ITEM = (
    '{"idempotency_key":"%s-%d","activity_type":"letter_trace","content_id":"letter-a",'
    '"score":0.5,"timestamp":"2026-01-29T10:00:00Z"}'
)


async def load_progress_history(
    conn: asyncpg.Connection, profiles: list[str], rows: int, others: int = 0, other_rows: int = 0
) -> None:
    """`rows` stored items for each profile and `other_rows` for each of `others` small profiles, in
    set-based statements on a connection whose search_path is the progress schema; then ANALYZE, as
    autovacuum would after such a load."""
    insert = (
        "INSERT INTO progress_items (profile_id, idempotency_key, seq, server_id, fingerprint, activity_type,"
        " content_id, score, duration_seconds, meta_data, occurred_at, server_received_at)"
        " SELECT {profile}, 'history-' || n, {seq}, gen_random_uuid(), repeat('0', 64), 'letter_trace',"
        " 'letter-a', 0.5, NULL, NULL, now(), now() FROM generate_series(0, $2::int - 1) n"
    )
    for profile in profiles:
        await conn.execute(insert.format(profile="$1::varchar", seq="n + 1"), profile, rows)
    if others:
        small = insert.format(profile="$1::text || (n / $3::int)", seq="n % $3::int + 1")
        await conn.execute(small, f"small-{uuid.uuid4().hex[:8]}-", others * other_rows, other_rows)
    await conn.execute(
        "INSERT INTO progress_heads (profile_id, last_seq) SELECT profile_id, max(seq) FROM progress_items"
        " WHERE profile_id = ANY($1::varchar[]) GROUP BY profile_id"
        " ON CONFLICT (profile_id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
        profiles,
    )
    await conn.execute("ANALYZE progress_items")


async def load_sync_history(
    conn: asyncpg.Connection, users: list[str], rows: int, others: int = 0, other_rows: int = 0
) -> None:
    """`rows` stored attempts for each user (in sessions of 100) and `other_rows` for each of `others`
    small users, on a connection whose search_path is the sync schema; then ANALYZE."""
    sessions = (
        "INSERT INTO sessions (user_id, session_id, offline_session_id, status, mode, created_at, updated_at)"
        " SELECT {user}, gen_random_uuid(), gen_random_uuid(), 'ACTIVE', 'TUTOR', now(), now()"
        " FROM generate_series(0, $2::int - 1) n"
    )
    attempts = (
        "INSERT INTO attempts (user_id, idempotency_key, server_attempt_id, session_id, client_attempt_id,"
        " question_id, selected_option_index, answered_at_text, answered_at, payload_hash, fingerprint,"
        " package_id, is_correct, received_at)"
        " SELECT s.user_id, 'history-' || n, gen_random_uuid(), s.session_id, gen_random_uuid()::text,"
        " gen_random_uuid()::text, 0, '2026-01-28T10:00:00Z', now(), repeat('0', 64), repeat('0', 64), NULL,"
        " true, now()"
        " FROM generate_series(0, $2::int - 1) n"
        " JOIN (SELECT user_id, session_id, row_number() OVER (ORDER BY session_id) - 1 AS i FROM sessions"
        " WHERE user_id = {user_in}) s ON s.i = n / $3::int"
    )
    for user in users:
        await conn.execute(sessions.format(user="$1::varchar"), user, max(rows // 100, 1))
        await conn.execute(attempts.format(user_in="$1::varchar"), user, rows, 100)
    if others:
        prefix = f"small-{uuid.uuid4().hex[:8]}-"
        await conn.execute(sessions.format(user="$1::text || n"), prefix, others)
        await conn.execute(
            "INSERT INTO attempts (user_id, idempotency_key, server_attempt_id, session_id, client_attempt_id,"
            " question_id, selected_option_index, answered_at_text, answered_at, payload_hash, fingerprint,"
            " package_id, is_correct, received_at)"
            " SELECT s.user_id, s.user_id || '-' || n, gen_random_uuid(), s.session_id, gen_random_uuid()::text,"
            " gen_random_uuid()::text, 0, '2026-01-28T10:00:00Z', now(), repeat('0', 64), repeat('0', 64),"
            " NULL, true, now() FROM sessions s CROSS JOIN generate_series(1, $2::int) n"
            " WHERE s.user_id LIKE $1::text || '%'",
            prefix,
            other_rows,
        )
    await conn.execute("ANALYZE sessions")
    await conn.execute("ANALYZE attempts")


async def _first_then_again(
    send: Callable[[int, bytes], Awaitable[int]],
    bodies: Callable[[int, int], bytes],
    seconds: float,
    between: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, float]:
    """Items/s of first sends (for `seconds`), then of re-sending the stored batches once each, in
    order (for at most `seconds`: a slow re-send must not stretch the run)."""
    sent: list[list[bytes]] = [[] for _ in range(CLIENTS)]

    async def first(worker: int, iteration: int) -> int:
        body = bodies(worker, iteration)
        done = await send(worker, body)
        sent[worker].append(body)
        return done

    fresh = await measure(CLIENTS, seconds, first)
    if between is not None:
        await between()

    began = time.perf_counter()

    async def again(worker: int) -> int:
        done = 0
        for body in sent[worker]:
            if time.perf_counter() - began > seconds:
                break
            done += await send(worker, body)
        return done

    items = sum(await asyncio.gather(*(again(n) for n in range(CLIENTS))))
    return fresh.per_second, items / (time.perf_counter() - began)


def _result(service: str, fresh: float, again: float) -> Result:
    return Result(
        f"{service} re-send to a deep {'profile' if service == 'progress' else 'user'} (items/s)",
        f"{again:,.0f} re-sent",
        f"{fresh:,.0f} first sends",
        again / fresh,
        1.0,
    )


async def progress_case(stack: Stack, dsn: str, schema: str, seconds: float) -> Result:
    profiles = [f"deep-{uuid.uuid4().hex[:8]}-{n}" for n in range(CLIENTS)]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    await load_progress_history(conn, profiles, DEEP_ROWS, OTHER_OWNERS, OTHER_ROWS)
    await conn.close()
    headers = {
        "Authorization": f"Bearer {stack.token('bench', profiles)}",
        "content-type": "application/json",
    }
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=stack.http_url, headers=headers, limits=limits, timeout=60
    ) as client:

        def body(worker: int, iteration: int) -> bytes:
            items = ",".join(_PROGRESS_ITEM % (f"i{iteration}", n) for n in range(BATCH))
            return f'{{"profile_id":"{profiles[worker]}","items":[{items}]}}'.encode()

        async def send(worker: int, content: bytes) -> int:
            response = await client.post("/api/v1/progress/batch", content=content)
            response.raise_for_status()
            assert b'"status":"error"' not in response.content, response.content[:300]
            return BATCH

        fresh, again = await _first_then_again(send, body, seconds)
    return _result("progress", fresh, again)


async def sync_case(stack: Stack, dsn: str, schema: str, redis_url: str, seconds: float) -> Result:
    from redis.asyncio import Redis

    users = [f"deep-{uuid.uuid4().hex[:8]}-{n}" for n in range(CLIENTS)]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    await load_sync_history(conn, users, DEEP_ROWS, OTHER_OWNERS, OTHER_ROWS)
    await conn.close()
    question_ids, _ = await _bank(stack, stack.token("bench-admin", roles=["admin"]))
    tokens = [stack.token(user) for user in users]
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def forget_users() -> None:
        redis = Redis.from_url(redis_url)
        for user in users:
            keys = [key async for key in redis.scan_iter(match=f"sync:{schema}:{{{user}}}:*", count=10_000)]
            if keys:
                await redis.unlink(*keys)
        await redis.aclose()

    async with httpx.AsyncClient(base_url=stack.http_url, limits=limits, timeout=60) as client:

        async def send(worker: int, content: bytes) -> int:
            response = await client.post(
                "/api/v1/sync/attempts:batch",
                content=content,
                headers={"Authorization": f"Bearer {tokens[worker]}", "content-type": "application/json"},
            )
            response.raise_for_status()
            assert b'"status":"rejected"' not in response.content, response.content[:300]
            return BATCH

        fresh, again = await _first_then_again(
            send, lambda worker, iteration: _body(question_ids), seconds, forget_users
        )
    return _result("sync", fresh, again)
