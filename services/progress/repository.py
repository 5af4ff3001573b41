"""Storage of progress items: set-based statements, one transaction per batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from services.progress.domain import Stored, ValidItem
from services.progress.models import ProgressRow

T = ProgressRow.__table__


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    server_id: str
    profile_id: str
    idempotency_key: str
    activity_type: str
    content_id: str
    score: float
    duration_seconds: float | None
    meta_data: dict | None
    occurred_at: datetime
    server_received_at: datetime


class ProgressRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def record(self, profile_id: str, items: Sequence[ValidItem]) -> dict[str, tuple[Stored, bool]]:
        """Inserts the new keys in one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, then reads
        the rows of the keys that already existed. Per profile, batches take turns (an advisory lock
        on PostgreSQL, the single writer on SQLite), so `seq` grows in commit order and read-back
        cursors never skip an item."""
        received = datetime.now(UTC)
        insert = (postgresql.insert if self._postgres else sqlite.insert)(T)
        async with self._engine.begin() as conn:
            if self._postgres:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:p, 0))"), {"p": profile_id}
                )
            last_seq = (
                await conn.execute(
                    select(func.coalesce(func.max(T.c.seq), 0)).where(T.c.profile_id == profile_id)
                )
            ).scalar_one()
            rows = [
                {
                    "profile_id": profile_id,
                    "idempotency_key": item.idempotency_key,
                    "seq": last_seq + position,
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
            statement = insert.on_conflict_do_nothing(
                index_elements=["profile_id", "idempotency_key"]
            ).returning(T.c.idempotency_key)
            inserted = set((await conn.execute(statement, rows)).scalars())
            outcome = {
                row["idempotency_key"]: (
                    Stored(str(row["server_id"]), row["fingerprint"], row["occurred_at"]),
                    True,
                )
                for row in rows
                if row["idempotency_key"] in inserted
            }
            existing = [item.idempotency_key for item in items if item.idempotency_key not in inserted]
            if existing:
                found = await conn.execute(
                    select(T.c.idempotency_key, T.c.server_id, T.c.fingerprint, T.c.occurred_at).where(
                        T.c.profile_id == profile_id, T.c.idempotency_key.in_(existing)
                    )
                )
                for key, server_id, fingerprint, occurred_at in found:
                    outcome[key] = (Stored(str(server_id), fingerprint, _utc(occurred_at)), False)
        return outcome

    async def list_after(self, profile_id: str, after_seq: int, limit: int) -> list[StoredRecord]:
        async with self._engine.connect() as conn:
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
                    _utc(row.occurred_at),
                    _utc(row.server_received_at),
                )
                for row in result
            ]

    async def server_ids(self, profile_id: str, keys: Sequence[str]) -> dict[str, str]:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(T.c.idempotency_key, T.c.server_id).where(
                    T.c.profile_id == profile_id, T.c.idempotency_key.in_(set(keys))
                )
            )
            return {key: str(server_id) for key, server_id in result}
