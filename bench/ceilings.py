"""Storage ceilings of the services' own statements (issue 15 §3): the SQL one batch runs on
PostgreSQL, from a bare asyncpg loop with the same parameters and concurrency as the case through
Envoy, in a schema the service's migrations made. The case's ratio to it is what everything above
storage costs (Envoy, gRPC, Python, the pool).

The statements and their parameters come from the services (repository.RECORD with
record_arguments, pg_store.STORE with store_arguments), so a change in the service's SQL changes
the ceiling too. A fresh batch runs exactly that one statement (a re-sent or racing batch may run
more, which these loops do not model).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from bench import progress, sync
from bench.harness import measure
from devstack.registry import SPECS
from services.progress import domain as progress_domain
from services.progress.repository import RECORD, record_arguments
from services.runtime.db import create_engine
from services.runtime.migrations import upgrade
from services.sync import domain as sync_domain
from services.sync.pg_store import STORE, store_arguments

PROFILES_PER_CLIENT = 64  # as bench.progress's wrk script: consecutive batches of a client use other profiles
QUESTIONS = 50  # as bench.sync's bank
SCOPE = {"year_id": None, "block_id": sync.BLOCK, "theme_id": None}
WARMUP = 1.0  # harness.measure's default


async def migrate(url: str, service: str, schema: str) -> None:
    """The service's schema, made by its own Alembic history."""
    spec = next(s for s in SPECS if s.name == service)
    engine = create_engine(url, schema)
    try:
        await upgrade(engine, spec.migrations_dir, schema)
    finally:
        await engine.dispose()


async def progress_rate(url: str, dsn: str, schema: str, seconds: float) -> float:
    """Items/s of RECORD with 100 new keys per batch, from bench.progress.CLIENTS connections."""
    await migrate(url, "progress", schema)
    template = progress_domain.validate_item(
        progress_domain.ProgressItem(
            "k", "letter_trace", "letter-a", 0.5, None, None, "2026-01-29T10:00:00Z"
        ),
        datetime.now(UTC),
    )
    run = uuid.uuid4().hex[:6]
    pool = await _pool(dsn, schema, progress.CLIENTS)

    async def step(worker: int, iteration: int) -> int:
        items = [
            dataclasses.replace(template, idempotency_key=f"k{iteration}-{n}") for n in range(progress.BATCH)
        ]
        profile = f"ceiling-{run}-{worker}-{iteration % PROFILES_PER_CLIENT}"
        async with pool.acquire() as conn:
            rows = await conn.fetch(RECORD, *record_arguments(profile, items, datetime.now(UTC)))
        return len(rows)

    try:
        return (await measure(progress.CLIENTS, seconds, step)).per_second
    finally:
        await pool.close()


def sync_candidates(question_ids: Sequence[str]) -> list[sync_domain.Candidate]:
    """One batch as bench.sync._body makes it (a new offline session, 100 new attempts over the
    bank's questions), validated by the service's own rules and scored as the bank would."""
    offline = str(uuid.uuid4())
    now = datetime.now(UTC)
    candidates = []
    for n in range(sync.BATCH):
        question, option = question_ids[n % len(question_ids)], n % 4
        answered_at = f"2026-01-28T10:{n // 60:02d}:{n % 60:02d}Z"
        attempt = sync_domain.AttemptInput(
            client_attempt_id=str(uuid.uuid4()),
            idempotency_key=str(uuid.uuid4()),
            offline_session_id=offline,
            session_id="",
            question_id=question,
            selected_option_index=option,
            answered_at=answered_at,
            payload_hash=sync_domain.payload_hash(answered_at, question, option),
            package_id="",
        )
        valid = sync_domain.validate_attempt(attempt, now)
        candidates.append(sync_domain.Candidate(valid, option == (n % len(question_ids)) % 4, dict(SCOPE)))
    return candidates


def sync_arguments(candidates: Sequence[sync_domain.Candidate]) -> tuple[object, ...]:
    """STORE's parameters for a new user's batch, with no session known from Redis (a new device)."""
    scopes = sync_domain.new_session_scopes(candidates, {})
    return store_arguments(f"ceiling-{uuid.uuid4().hex[:12]}", candidates, (), scopes, {}, datetime.now(UTC))


async def sync_rate(url: str, dsn: str, schema: str, seconds: float) -> float:
    """Attempts/s of STORE, one new user per batch, from bench.sync.CLIENTS connections. Parameters
    are made before the clock starts (as bench.sync makes its bodies), more on the fly if it runs out."""
    await migrate(url, "sync", schema)
    question_ids = [str(uuid.uuid4()) for _ in range(QUESTIONS)]
    ready = [sync_arguments(sync_candidates(question_ids)) for _ in range(int((seconds + WARMUP) * 250))]
    pool = await _pool(dsn, schema, sync.CLIENTS)

    async def step(worker: int, iteration: int) -> int:
        arguments = ready.pop() if ready else sync_arguments(sync_candidates(question_ids))
        async with pool.acquire() as conn:
            rows = await conn.fetch(STORE, *arguments)
        return sum(1 for row in rows if row[0] == "stored")

    try:
        return (await measure(sync.CLIENTS, seconds, step)).per_second
    finally:
        await pool.close()


async def _pool(dsn: str, schema: str, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=size, max_size=size, server_settings={"search_path": schema}
    )
    assert pool is not None
    return pool
