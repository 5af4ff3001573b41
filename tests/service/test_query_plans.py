"""The plans PostgreSQL settles on for reading stored keys on one long-lived connection (issue 15).

A prepared statement gets a generic plan after five executions, and a generic plan sizes every owner
at the table's average. For a deep owner re-sending a stored batch, the read of its stored keys must
still probe the unique (owner, key) index, not scan the owner's whole history through another index.
Checked on the plans themselves (auto_explain, on the connection that runs the repository's own
statements), so the check holds on a slow machine too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.resend import load_progress_history, load_sync_history
from services.progress.domain import ValidItem
from services.progress.repository import RECORD, STORED_KEYS, ProgressRepository
from services.runtime.db import create_engine, driver_connection
from services.runtime.migrations import upgrade
from services.sync import pg_store
from services.sync.domain import AttemptInput, Candidate, payload_hash, validate_attempt
from tests.conftest import POSTGRES_URL, drop_schema

DEEP_ROWS = 20_000
OTHERS, OTHER_ROWS = 5_000, 2  # most owners are small: the average a generic plan assumes
EXECUTIONS = 8  # > 5: the generic plan is in use
SERVICES = Path(__file__).resolve().parents[2] / "services"


async def _engine(service: str, run_id: str) -> AsyncEngine:
    """One connection (pool of 1), so every execution below shares one prepared statement."""
    schema = f"t_{run_id}_plans_{service}"
    engine = create_engine(POSTGRES_URL, schema, pool_size=1)
    await upgrade(engine, SERVICES / service / "migrations", schema)
    return engine


@pytest.fixture
async def progress_engine(run_id: str) -> AsyncIterator[AsyncEngine]:
    engine = await _engine("progress", run_id)
    yield engine
    await engine.dispose()
    await drop_schema(f"t_{run_id}_plans_progress")


@pytest.fixture
async def sync_engine(run_id: str) -> AsyncIterator[AsyncEngine]:
    engine = await _engine("sync", run_id)
    yield engine
    await engine.dispose()
    await drop_schema(f"t_{run_id}_plans_sync")


async def _log_plans(engine: AsyncEngine) -> list[dict[str, Any]]:
    """From now on, the plan of every statement the engine's connection runs (auto_explain)."""
    plans: list[dict[str, Any]] = []

    def collect(_conn: object, message: asyncpg.PostgresLogMessage) -> None:
        head, _, body = message.message.partition("plan:")
        if body and head.startswith("duration"):
            plans.append(json.loads(body))

    async with driver_connection(engine) as conn:
        try:
            await conn.execute("LOAD 'auto_explain'")
        except asyncpg.PostgresError as error:
            pytest.skip(f"auto_explain is not available: {error}")
        await conn.execute(
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_format = json;"
            " SET client_min_messages = log"
        )
        conn.add_log_listener(collect)
    return plans


async def _generic_plans(engine: AsyncEngine, statement: str) -> int:
    async with driver_connection(engine) as conn:
        count = await conn.fetchval(
            "SELECT generic_plans FROM pg_prepared_statements WHERE statement = $1", statement
        )
    return count or 0


def _last_plan(plans: list[dict[str, Any]], statement: str) -> dict[str, Any]:
    ran = [p["Plan"] for p in plans if p["Query Text"] == statement]
    assert len(ran) >= EXECUTIONS, f"the statement ran {len(ran)} times on this connection"
    return ran[-1]


def _scans(node: dict[str, Any], part: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(the CTE a node belongs to, the node) for every node reading a table."""
    part = node.get("Subplan Name", part)
    if "Scan" in node["Node Type"] and "Relation Name" in node:
        yield part, node
    for child in node.get("Plans", []):
        yield from _scans(child, part)


def _probes_unique_index(node: dict[str, Any], index: str, key: str) -> bool:
    return node.get("Index Name") == index and key in node.get("Index Cond", "") and "Filter" not in node


async def test_a_deep_profile_resend_probes_the_primary_key_after_many_executions(progress_engine):
    deep = f"deep-{uuid.uuid4().hex[:8]}"
    async with driver_connection(progress_engine) as conn:
        await load_progress_history(conn, [deep], DEEP_ROWS, OTHERS, OTHER_ROWS)
    repository = ProgressRepository(progress_engine)
    plans = await _log_plans(progress_engine)
    now = datetime.now(UTC)
    stored = [
        ValidItem(f"history-{n}", "letter_trace", "letter-a", 0.5, None, None, now, "0" * 64)
        for n in range(100)
    ]
    for _ in range(EXECUTIONS):
        outcome = await repository.record(deep, stored)
        assert not any(is_new for _, is_new in outcome.values())
    for _ in range(EXECUTIONS):
        assert len(await repository.server_ids(deep, [item.idempotency_key for item in stored])) == 100

    for statement in (RECORD, STORED_KEYS):
        assert await _generic_plans(progress_engine, statement) > 0, "the generic plan was never used"
        scans = list(_scans(_last_plan(plans, statement)))
        on_items = [node for _, node in scans if node["Relation Name"] == "progress_items"]
        assert on_items and all(
            _probes_unique_index(node, "pk_progress_items", "idempotency_key") for node in on_items
        ), on_items


def _resent(keys: list[str], offline: str) -> list[Candidate]:
    """Attempts with these keys, as a client re-sending them would (the content plays no part)."""
    question, answered_at = str(uuid.uuid4()), "2026-01-28T10:00:00Z"
    return [
        Candidate(
            validate_attempt(
                AttemptInput(
                    str(uuid.uuid4()),
                    key,
                    offline,
                    "",
                    question,
                    0,
                    answered_at,
                    payload_hash(answered_at, question, 0),
                    "",
                ),
                datetime.now(UTC),
            ),
            True,
            {},
        )
        for key in keys
    ]


async def test_a_deep_user_resend_probes_the_primary_key_after_many_executions(sync_engine):
    deep = f"deep-{uuid.uuid4().hex[:8]}"
    async with driver_connection(sync_engine) as conn:
        await load_sync_history(conn, [deep], DEEP_ROWS, OTHERS, OTHER_ROWS)
    repository = pg_store.PgSyncStore(sync_engine)
    plans = await _log_plans(sync_engine)
    keys, offline = [f"history-{n}" for n in range(100)], str(uuid.uuid4())
    for _ in range(EXECUTIONS):
        outcome = await repository.store(deep, _resent(keys, offline), {})
        assert sorted(outcome) == sorted(keys) and not any(o.is_new for o in outcome.values())  # type: ignore[union-attr]
    for _ in range(EXECUTIONS):
        assert len(await repository.receipts(deep, keys)) == 100

    for statement in (pg_store.STORE, pg_store.RECEIPTS):
        assert await _generic_plans(sync_engine, statement) > 0, "the generic plan was never used"
        scans = list(_scans(_last_plan(plans, statement)))
        on_attempts = [node for _, node in scans if node["Relation Name"] == "attempts"]
        assert on_attempts and all(
            _probes_unique_index(node, "pk_attempts", "idempotency_key") for node in on_attempts
        ), on_attempts
    sessions_by_key = [
        node for part, node in _scans(_last_plan(plans, pg_store.STORE)) if part in ("CTE found", "CTE owned")
    ]
    assert sessions_by_key and all(
        "Filter" not in node and "user_id" in node.get("Index Cond", "") for node in sessions_by_key
    ), sessions_by_key
