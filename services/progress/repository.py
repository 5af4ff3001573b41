"""Storage of progress items (the SQL ProgressStore): set-based statements, one transaction per batch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from services.progress.domain import Stored, StoredRecord, ValidItem
from services.progress.models import ProgressRow
from services.runtime.db import as_utc, driver_connection, keyed_lookup, reader, runs_to_completion

T = cast(Table, ProgressRow.__table__)

# Reserves `count` sequence numbers for a profile and returns the first one minus 1.
_BUMP_HEAD = (
    "INSERT INTO progress_heads (profile_id, last_seq) VALUES (:profile_id, CAST(:count AS bigint)) "
    "ON CONFLICT (profile_id) DO UPDATE SET last_seq = progress_heads.last_seq + CAST(:count AS bigint) "
    "RETURNING last_seq - CAST(:count AS bigint) AS base"
)

# PostgreSQL: the whole batch is one statement (one round trip, atomic on its own): bump the head,
# INSERT … SELECT over the columns WITH ORDINALITY, and read the rows of the keys that were not
# inserted (stored before; one primary-key probe per key, see keyed_lookup). Each column travels as
# one JSON array (orjson, far cheaper than the driver's per-element text[] encoding) and
# ROWS FROM(json_array_elements…) zips them back into rows. server_id comes from
# gen_random_uuid().
_COLUMN_TYPES = {
    "idempotency_key": "varchar",
    "fingerprint": "varchar",
    "activity_type": "varchar",
    "content_id": "varchar",
    "score": "float8",
    "duration_seconds": "float8",
    "meta_data": "json",
    "occurred_at": "timestamptz",
}
RECORD = (
    "WITH head AS (INSERT INTO progress_heads (profile_id, last_seq) VALUES ($1, $2) "
    "ON CONFLICT (profile_id) DO UPDATE SET last_seq = progress_heads.last_seq + $2 "
    "RETURNING last_seq - $2 AS base), "
    "item AS (SELECT * FROM ROWS FROM ("
    + ", ".join(
        f"json_array_elements{'' if type_ == 'json' else '_text'}(${n}::json)"
        for n, type_ in enumerate(_COLUMN_TYPES.values(), start=4)
    )
    + f") WITH ORDINALITY AS item({', '.join(_COLUMN_TYPES)}, position)), "
    f"inserted AS (INSERT INTO progress_items (profile_id, seq, server_id, server_received_at, "
    f"{', '.join(_COLUMN_TYPES)}) "
    "SELECT $1, head.base + item.position, gen_random_uuid(), $3, "
    + ", ".join(
        # a JSON null element is SQL NULL (json_array_elements_text does that; json needs NULLIF)
        f"NULLIF(item.{column}::text, 'null')::json" if type_ == "json" else f"item.{column}::{type_}"
        for column, type_ in _COLUMN_TYPES.items()
    )
    + " FROM head, item "
    "ON CONFLICT (profile_id, idempotency_key) DO NOTHING RETURNING idempotency_key, server_id), "
    "existing AS (SELECT found.* FROM (SELECT idempotency_key FROM item WHERE NOT EXISTS "
    "(SELECT 1 FROM inserted WHERE inserted.idempotency_key = item.idempotency_key)) AS stored_before "
    "CROSS JOIN LATERAL (SELECT idempotency_key, server_id, fingerprint, occurred_at FROM progress_items "
    "WHERE profile_id = $1 AND idempotency_key = stored_before.idempotency_key OFFSET 0) AS found) "
    "SELECT idempotency_key, server_id, true AS is_new, NULL AS fingerprint, NULL AS occurred_at FROM inserted "
    "UNION ALL SELECT idempotency_key, server_id, false, fingerprint, occurred_at FROM existing"
)

# PostgreSQL: the stored rows of some keys of one profile (see keyed_lookup).
STORED_KEYS = keyed_lookup(
    "progress_items",
    "profile_id",
    "idempotency_key",
    ("idempotency_key", "server_id", "fingerprint", "occurred_at"),
)


def record_arguments(profile_id: str, items: Sequence[ValidItem], received: datetime) -> tuple[object, ...]:
    """RECORD's parameters, in order (the bench's storage ceiling runs RECORD with them too)."""
    # orjson writes an aware datetime as RFC 3339 (what timestamptz reads); the values are checked
    # already (finite numbers, JSON-safe meta_data), so it refuses none of them.
    columns = [orjson.dumps([getattr(item, column) for item in items]).decode() for column in _COLUMN_TYPES]
    return (profile_id, len(items), received, *columns)


class ProgressRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reader(engine)
        self._postgres = engine.dialect.name == "postgresql"

    @runs_to_completion
    async def record(self, profile_id: str, items: Sequence[ValidItem]) -> dict[str, tuple[Stored, bool]]:
        """Each key's stored row, and whether this call stored it. Inserts the new keys (INSERT … ON
        CONFLICT DO NOTHING RETURNING), then reads the rows of the other keys; on PostgreSQL one
        statement does both (RECORD). Stored rows never change, so that read needs no transaction."""
        received = datetime.now(UTC)
        if self._postgres:
            outcome = await self._record_postgres(profile_id, items, received)
        else:
            inserted = await self._insert_sqlite(profile_id, items, received)
            outcome = {
                item.idempotency_key: (
                    Stored(inserted[item.idempotency_key], item.fingerprint, item.occurred_at),
                    True,
                )
                for item in items
                if item.idempotency_key in inserted
            }
        # Keys stored before (SQLite), or stored by a copy of this batch that committed after this
        # statement's snapshot and before its insert (PostgreSQL): read them now.
        missing = [item.idempotency_key for item in items if item.idempotency_key not in outcome]
        if missing:
            for key, server_id, fingerprint, occurred_at in await self._stored(profile_id, missing):
                outcome[key] = (Stored(str(server_id), fingerprint, as_utc(occurred_at)), False)
        return outcome

    async def _stored(self, profile_id: str, keys: Sequence[str]) -> Sequence[Sequence[Any]]:
        """(key, server_id, fingerprint, occurred_at) of the stored ones among these distinct keys."""
        if self._postgres:
            async with driver_connection(self._engine) as conn:
                return await conn.fetch(STORED_KEYS, profile_id, json.dumps(keys))
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(T.c.idempotency_key, T.c.server_id, T.c.fingerprint, T.c.occurred_at).where(
                    T.c.profile_id == profile_id, T.c.idempotency_key.in_(keys)
                )
            )
            return result.all()

    async def _record_postgres(
        self, profile_id: str, items: Sequence[ValidItem], received: datetime
    ) -> dict[str, tuple[Stored, bool]]:
        async with driver_connection(self._engine) as conn:
            rows = await conn.fetch(RECORD, *record_arguments(profile_id, items, received))
        sent = {item.idempotency_key: item for item in items}
        outcome = {}
        for key, server_id, is_new, fingerprint, occurred_at in rows:
            if is_new:
                outcome[key] = (Stored(str(server_id), sent[key].fingerprint, sent[key].occurred_at), True)
            else:
                outcome[key] = (Stored(str(server_id), fingerprint, occurred_at), False)
        return outcome

    async def _insert_sqlite(
        self, profile_id: str, items: Sequence[ValidItem], received: datetime
    ) -> dict[str, str]:
        async with self._engine.begin() as conn:  # BEGIN IMMEDIATE: the one writer
            base = (
                await conn.execute(text(_BUMP_HEAD), {"profile_id": profile_id, "count": len(items)})
            ).scalar_one()
            rows = [
                {
                    "profile_id": profile_id,
                    "idempotency_key": item.idempotency_key,
                    "seq": base + position,
                    "server_id": uuid.uuid4(),
                    "fingerprint": item.fingerprint,
                    "activity_type": item.activity_type,
                    "content_id": item.content_id,
                    "score": item.score,
                    "duration_seconds": item.duration_seconds,
                    "meta_data": item.meta_data,
                    "occurred_at": item.occurred_at,
                    "server_received_at": received,
                }
                for position, item in enumerate(items, start=1)
            ]
            statement = (
                sqlite.insert(T)
                .on_conflict_do_nothing(index_elements=["profile_id", "idempotency_key"])
                .returning(T.c.idempotency_key, T.c.server_id)
            )
            return {key: str(server_id) for key, server_id in await conn.execute(statement, rows)}

    async def list_after(self, profile_id: str, after_seq: int, limit: int) -> list[StoredRecord]:
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(
                    T.c.seq,
                    T.c.server_id,
                    T.c.profile_id,
                    T.c.idempotency_key,
                    T.c.activity_type,
                    T.c.content_id,
                    T.c.score,
                    T.c.duration_seconds,
                    T.c.meta_data,
                    T.c.occurred_at,
                    T.c.server_received_at,
                )
                .where(T.c.profile_id == profile_id, T.c.seq > after_seq)
                .order_by(T.c.seq)
                .limit(limit)
            )
            return [
                StoredRecord(
                    row.seq,
                    str(row.server_id),
                    row.profile_id,
                    row.idempotency_key,
                    row.activity_type,
                    row.content_id,
                    row.score,
                    row.duration_seconds,
                    row.meta_data,
                    as_utc(row.occurred_at),
                    as_utc(row.server_received_at),
                )
                for row in result
            ]

    async def server_ids(self, profile_id: str, keys: Sequence[str]) -> dict[str, str]:
        return {row[0]: str(row[1]) for row in await self._stored(profile_id, list(dict.fromkeys(keys)))}
