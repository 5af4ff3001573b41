"""Storage of sessions and attempts, set-based. PostgreSQL stores a batch with one statement on the
driver (pg_store); SQLite with a few statements in one transaction here."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.runtime.db import among, as_utc, reader, runs_to_completion
from services.runtime.scope import SCOPE_IDS
from services.sync import pg_store
from services.sync.domain import SESSION_NOT_FOUND, Candidate, Rejection, Stored
from services.sync.models import AttemptRow, SessionAnswerRow, SessionRow

A = AttemptRow.__table__
S = SessionRow.__table__
SA = SessionAnswerRow.__table__

_ANSWER_FIELDS = (
    "server_attempt_id",
    "idempotency_key",
    "selected_option_index",
    "is_correct",
    "answered_at",
    "answered_at_text",
)


@dataclass(frozen=True)
class SessionView:
    session_id: str
    offline_session_id: str | None
    status: str
    mode: str
    scope: dict[str, int | None]
    created_at: datetime
    updated_at: datetime
    answers: list[dict[str, Any]]


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


def _new_session_scopes(
    candidates: Sequence[Candidate], known: dict[str, str]
) -> dict[str, dict[str, int | None]]:
    """The scope of each offline session not known yet, should it need creating: the tags its
    questions in this batch agree on."""
    scopes: dict[str, dict[str, int | None]] = {}
    for candidate in candidates:
        offline = candidate.attempt.offline_session_id
        if offline and offline not in known:
            scopes[offline] = _agreed_scope(scopes.get(offline), candidate.scope)
    return scopes


def _agreed_scope(so_far: dict[str, int | None] | None, scope: dict[str, int | None]) -> dict:
    """The scope tags a session's questions agree on; a tag they differ on is left unset."""
    if so_far is None:
        return {tag: scope.get(tag) for tag in SCOPE_IDS}
    return {tag: value if value == scope.get(tag) else None for tag, value in so_far.items()}


class SyncRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reader(engine)
        self._postgres = engine.dialect.name == "postgresql"

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
        """Stores the candidates whose keys are new, atomically; returns every key's outcome, and the
        stored attempt of any `also_check` key (attempts refused before the store that may have been
        stored by an earlier try: those are duplicates, not rejections).

        The unique keys are the truth: sessions are created with ON CONFLICT DO NOTHING and read back,
        attempts are inserted with ON CONFLICT DO NOTHING and only those inserted are counted, so
        copies of one batch racing each other store and count everything once. PostgreSQL: one
        statement (pg_store). SQLite: one transaction here, which has the single writer to itself."""
        now = datetime.now(UTC)
        if self._postgres:
            scopes = _new_session_scopes(candidates, known_sessions)
            return await pg_store.store(
                self._engine, user_id, candidates, known_sessions, also_check, scopes, now
            )
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
        referenced are this user's. A new session starts ACTIVE in TUTOR mode, with the scope its
        questions in this batch agree on."""
        mapping = {
            offline: known[offline] for c in fresh if (offline := c.attempt.offline_session_id) in known
        }
        scopes = _new_session_scopes(fresh, known)
        if scopes:
            created = await conn.execute(
                sqlite.insert(S).on_conflict_do_nothing().returning(S.c.offline_session_id, S.c.session_id),
                [
                    {
                        "user_id": user_id,
                        "session_id": session_id,
                        "offline_session_id": uuid.UUID(offline),
                        "status": "ACTIVE",
                        "mode": "TUTOR",
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
            if best is None or (row["answered_at"], row["idempotency_key"]) > (
                best["answered_at"],
                best["idempotency_key"],
            ):
                counting[place] = row
        if counting:
            statement = sqlite.insert(SA)
            statement = statement.on_conflict_do_update(
                index_elements=["user_id", "session_id", "question_id"],
                set_={field: statement.excluded[field] for field in _ANSWER_FIELDS},
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
                        **{field: row[field] for field in _ANSWER_FIELDS},
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
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(select(S).where(S.c.user_id == user_id, S.c.session_id == session_id))
            ).first()
            if row is None:
                return None
            answers = await conn.execute(
                select(SA)
                .where(SA.c.user_id == user_id, SA.c.session_id == session_id)
                .order_by(SA.c.first_answered_at, SA.c.question_id)
            )
            return SessionView(
                str(row.session_id),
                str(row.offline_session_id) if row.offline_session_id else None,
                row.status,
                row.mode,
                {tag: getattr(row, tag) for tag in SCOPE_IDS},
                as_utc(row.created_at),
                as_utc(row.updated_at),
                [
                    {
                        "question_id": a.question_id,
                        "selected_option_index": a.selected_option_index,
                        "is_correct": a.is_correct,
                        "answered_at": a.answered_at_text,
                        "server_attempt_id": str(a.server_attempt_id),
                    }
                    for a in answers
                ],
            )

    async def receipts(self, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(A.c.idempotency_key, A.c.server_attempt_id, A.c.session_id).where(
                    A.c.user_id == user_id, among(self._engine, A.c.idempotency_key, sorted(set(keys)))
                )
            )
            return {row.idempotency_key: (str(row.server_attempt_id), str(row.session_id)) for row in result}
