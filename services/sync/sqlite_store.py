"""Storage of sessions and attempts on SQLite: a batch in a few set-based statements in one
transaction, which has the database's single writer to itself."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.runtime.db import among, reader, runs_to_completion
from services.sync import sql_reads
from services.sync.domain import (
    ANSWER_FIELDS,
    NEW_SESSION_MODE,
    NEW_SESSION_STATUS,
    SESSION_NOT_FOUND,
    Candidate,
    Rejection,
    SessionView,
    Stored,
    answer_rank,
    new_session_scopes,
)
from services.sync.models import AttemptRow, SessionAnswerRow, SessionRow

A = cast(Table, AttemptRow.__table__)
S = cast(Table, SessionRow.__table__)
SA = cast(Table, SessionAnswerRow.__table__)


def _random_uuids(count: int) -> list[uuid.UUID]:
    """Version-4 UUIDs from one urandom call (uuid.uuid4() per id shows up in profiles)."""
    raw = int.from_bytes(os.urandom(16 * count), "big") if count else 0
    ids = []
    for _ in range(count):
        value = raw & ((1 << 128) - 1)
        raw >>= 128
        value = (value & ~(0xF000 << 64)) | (4 << 76)  # version 4
        value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        ids.append(uuid.UUID(int=value))
    return ids


class SqliteSyncStore:
    """The SyncStore on SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reader(engine)

    async def _existing(self, conn: AsyncConnection, user_id: str, keys: Sequence[str]) -> dict[str, Stored]:
        if not keys:
            return {}
        result = await conn.execute(
            select(A.c.idempotency_key, A.c.server_attempt_id, A.c.session_id, A.c.fingerprint).where(
                A.c.user_id == user_id, among(self._engine, A.c.idempotency_key, sorted(set(keys)))
            )
        )
        return {
            r.idempotency_key: Stored(str(r.server_attempt_id), str(r.session_id), r.fingerprint, False)
            for r in result
        }

    @runs_to_completion
    async def store(
        self,
        user_id: str,
        candidates: Sequence[Candidate],
        known_sessions: dict[str, str],
        also_check: Sequence[str] = (),
    ) -> dict[str, Stored | Rejection]:
        """See SyncStore.store. The unique keys are the truth: sessions are created with ON CONFLICT DO
        NOTHING and read back, attempts are inserted with ON CONFLICT DO NOTHING and only those
        inserted are counted, so copies of one batch racing each other store and count everything
        once."""
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            outcome: dict[str, Stored | Rejection] = dict(
                await self._existing(
                    conn, user_id, [c.attempt.idempotency_key for c in candidates] + list(also_check)
                )
            )
            fresh = [c for c in candidates if c.attempt.idempotency_key not in outcome]
            if not fresh:
                return outcome
            mapping, owned = await self._sessions_for(conn, user_id, fresh, known_sessions, now)
            rows = []
            for candidate, attempt_id in zip(fresh, _random_uuids(len(fresh)), strict=True):
                attempt = candidate.attempt
                if attempt.offline_session_id:
                    session_id = mapping[attempt.offline_session_id]
                elif attempt.session_id in owned:
                    session_id = attempt.session_id
                else:
                    outcome[attempt.idempotency_key] = SESSION_NOT_FOUND
                    continue
                rows.append(self._attempt_row(user_id, candidate, attempt_id, session_id, now))
            if rows:
                inserted = await self._insert_counted(conn, user_id, rows, now)
                for row in rows:
                    if row["idempotency_key"] in inserted:
                        outcome[row["idempotency_key"]] = Stored(
                            str(row["server_attempt_id"]), str(row["session_id"]), row["fingerprint"], True
                        )
        return outcome

    async def _sessions_for(
        self,
        conn: AsyncConnection,
        user_id: str,
        fresh: Sequence[Candidate],
        known: dict[str, str],
        now: datetime,
    ) -> tuple[dict[str, str], set[str]]:
        """Offline session id → server session id, creating the sessions not seen before (INSERT … ON
        CONFLICT DO NOTHING, then read back the ones that existed); and which of the server session ids
        referenced are this user's. A new session starts as domain.NEW_SESSION_STATUS/MODE say, with
        the scope its questions in this batch agree on."""
        mapping = {
            offline: known[offline] for c in fresh if (offline := c.attempt.offline_session_id) in known
        }
        scopes = new_session_scopes(fresh, known)
        if scopes:
            created = await conn.execute(
                sqlite.insert(S).on_conflict_do_nothing().returning(S.c.offline_session_id, S.c.session_id),
                [
                    {
                        "user_id": user_id,
                        "session_id": session_id,
                        "offline_session_id": uuid.UUID(offline),
                        "status": NEW_SESSION_STATUS,
                        "mode": NEW_SESSION_MODE,
                        **scope,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for (offline, scope), session_id in zip(
                        scopes.items(), _random_uuids(len(scopes)), strict=True
                    )
                ],
            )
            mapping.update({str(r.offline_session_id): str(r.session_id) for r in created})
        existed = [o for o in scopes if o not in mapping]
        server = sorted({c.attempt.session_id for c in fresh if c.attempt.session_id})
        owned: set[str] = set()
        if existed or server:
            found, owned = await self._read_sessions(conn, user_id, existed, server)
            mapping.update(found)
        return mapping, owned

    async def _read_sessions(
        self, conn: AsyncConnection, user_id: str, offline: Sequence[str], server: Sequence[str]
    ) -> tuple[dict[str, str], set[str]]:
        """One read: the sessions of these offline ids, and which of these server ids exist."""
        wanted = []
        if offline:
            wanted.append(among(self._engine, S.c.offline_session_id, [uuid.UUID(o) for o in offline]))
        if server:
            wanted.append(among(self._engine, S.c.session_id, [uuid.UUID(s) for s in server]))
        mapping, owned = {}, set()
        for row in await conn.execute(
            select(S.c.offline_session_id, S.c.session_id).where(S.c.user_id == user_id, or_(*wanted))
        ):
            session_id = str(row.session_id)
            if row.offline_session_id is not None and str(row.offline_session_id) in offline:
                mapping[str(row.offline_session_id)] = session_id
            if session_id in server:
                owned.add(session_id)
        return mapping, owned

    async def _insert_counted(
        self, conn: AsyncConnection, user_id: str, rows: list[dict[str, Any]], now: datetime
    ) -> set[str]:
        """Inserts the attempts that are new and counts those in their sessions; returns their keys."""
        result = await conn.execute(
            sqlite.insert(A).on_conflict_do_nothing().returning(A.c.idempotency_key), rows
        )
        inserted = {r.idempotency_key for r in result}
        counting: dict[tuple[Any, str], dict[str, Any]] = {}
        for row in rows:
            if row["idempotency_key"] not in inserted:
                continue
            place = (row["session_id"], row["question_id"])
            best = counting.get(place)
            if best is None or answer_rank(row["answered_at"], row["idempotency_key"]) > answer_rank(
                best["answered_at"], best["idempotency_key"]
            ):
                counting[place] = row
        if counting:
            statement = sqlite.insert(SA)
            statement = statement.on_conflict_do_update(
                index_elements=["user_id", "session_id", "question_id"],
                set_={field: statement.excluded[field] for field in ANSWER_FIELDS},
                # domain.answer_rank, in SQL: the stored answer gives way only to a later one.
                where=tuple_(statement.excluded.answered_at, statement.excluded.idempotency_key)
                > tuple_(SA.c.answered_at, SA.c.idempotency_key),
            )
            await conn.execute(
                statement,
                [
                    {
                        "user_id": row["user_id"],
                        "session_id": row["session_id"],
                        "question_id": row["question_id"],
                        **{field: row[field] for field in ANSWER_FIELDS},
                        "first_answered_at": row["received_at"],
                    }
                    for row in counting.values()
                ],
            )
            await conn.execute(
                update(S)
                .where(S.c.user_id == user_id, S.c.session_id.in_({s for s, _ in counting}))
                .values(updated_at=now)
            )
        return inserted

    @staticmethod
    def _attempt_row(
        user_id: str, c: Candidate, attempt_id: uuid.UUID, session_id: str, now: datetime
    ) -> dict:
        a = c.attempt
        return {
            "user_id": user_id,
            "idempotency_key": a.idempotency_key,
            "server_attempt_id": attempt_id,
            "session_id": uuid.UUID(session_id),
            "client_attempt_id": a.client_attempt_id,
            "question_id": a.question_id,
            "selected_option_index": a.source.selected_option_index,
            "answered_at_text": a.source.answered_at,
            "answered_at": a.answered_at,
            "payload_hash": a.source.payload_hash,
            "fingerprint": a.fingerprint,
            "package_id": a.package_id,
            "is_correct": c.is_correct,
            "received_at": now,
        }

    async def session(self, user_id: str, session_id: uuid.UUID) -> SessionView | None:
        return await sql_reads.session(self._reader, user_id, session_id)

    async def receipts(self, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        return await sql_reads.receipts(self._reader, user_id, keys)
