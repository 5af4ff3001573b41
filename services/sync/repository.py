"""Storage of sessions and attempts: one transaction per batch, set-based statements inside it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.runtime.db import as_utc, reader, unnest_insert
from services.sync.domain import Rejection, ValidAttempt
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
_PG_INSERT_ATTEMPTS, _attempt_params = unnest_insert(A, "ON CONFLICT DO NOTHING")
_PG_UPSERT_ANSWERS, _answer_params = unnest_insert(
    SA,
    "ON CONFLICT (user_id, session_id, question_id) DO UPDATE SET "
    + ", ".join(f"{f} = EXCLUDED.{f}" for f in _ANSWER_FIELDS)
    + " WHERE (EXCLUDED.answered_at, EXCLUDED.idempotency_key)"
    " > (session_answers.answered_at, session_answers.idempotency_key)",
)


@dataclass(frozen=True)
class Candidate:
    """A new attempt ready to store: validated, scored, with its question's scope tags."""

    attempt: ValidAttempt
    is_correct: bool
    scope: dict[str, int | None]


@dataclass(frozen=True)
class Stored:
    server_attempt_id: str
    session_id: str
    fingerprint: str
    is_new: bool


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


class SyncRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reader(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert

    async def _existing(self, conn: AsyncConnection, user_id: str, keys: Sequence[str]) -> dict[str, Stored]:
        result = await conn.execute(
            select(A.c.idempotency_key, A.c.server_attempt_id, A.c.session_id, A.c.fingerprint).where(
                A.c.user_id == user_id, A.c.idempotency_key.in_(keys)
            )
        )
        return {
            r.idempotency_key: Stored(str(r.server_attempt_id), str(r.session_id), r.fingerprint, False)
            for r in result
        }

    async def store(
        self,
        user_id: str,
        candidates: Sequence[Candidate],
        known_sessions: dict[str, str],
        also_check: Sequence[str] = (),
    ) -> dict[str, Stored | Rejection]:
        """Stores the candidates whose keys are new, in one transaction; returns every key's outcome,
        and the stored attempt of any `also_check` key (attempts refused before the store that may have
        been stored by an earlier try: those are duplicates, not rejections).
        A user's batches take turns (advisory lock on PostgreSQL; SQLite has one writer), so copies of
        one batch racing each other still store each attempt and each session once."""
        now = datetime.now(UTC)
        outcome: dict[str, Stored | Rejection] = {}
        async with self._engine.begin() as conn:
            if self._postgres:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:u, 1))"), {"u": user_id}
                )
            outcome.update(
                await self._existing(
                    conn, user_id, [c.attempt.idempotency_key for c in candidates] + list(also_check)
                )
            )
            fresh = [c for c in candidates if c.attempt.idempotency_key not in outcome]
            sessions = await self._sessions_for(conn, user_id, fresh, known_sessions, now)
            new_ids = iter(_random_uuids(len(fresh)))
            rows, answers = [], {}
            for candidate in fresh:
                attempt = candidate.attempt
                session_id = sessions.get(attempt.offline_session_id or attempt.session_id or "")
                if session_id is None:
                    outcome[attempt.idempotency_key] = Rejection(
                        "SESSION_NOT_FOUND", "session_id: no such session of this user"
                    )
                    continue
                server_attempt_id = next(new_ids)
                rows.append(self._attempt_row(user_id, candidate, server_attempt_id, session_id, now))
                answer = self._answer_row(user_id, candidate, server_attempt_id, session_id, now)
                best = answers.get((session_id, attempt.question_id))
                if best is None or (answer["answered_at"], answer["idempotency_key"]) > (
                    best["answered_at"],
                    best["idempotency_key"],
                ):
                    answers[(session_id, attempt.question_id)] = answer
                outcome[attempt.idempotency_key] = Stored(
                    str(server_attempt_id), session_id, attempt.fingerprint, True
                )
            if rows:
                await self._insert_attempts(conn, rows)
                await self._count_answers(conn, list(answers.values()))
                await conn.execute(
                    update(S)
                    .where(S.c.user_id == user_id, S.c.session_id.in_({r["session_id"] for r in rows}))
                    .values(updated_at=now)
                )
        return outcome

    async def _sessions_for(
        self,
        conn: AsyncConnection,
        user_id: str,
        fresh: Sequence[Candidate],
        known: dict[str, str],
        now: datetime,
    ) -> dict[str, str]:
        """Reference (offline or server session id) → server session id, creating the offline sessions
        not seen before. A new session takes its scope from its first question, ACTIVE, TUTOR mode."""
        found = {ref: known[ref] for c in fresh if (ref := c.attempt.offline_session_id) and ref in known}
        offline = {c.attempt.offline_session_id: c for c in reversed(fresh) if c.attempt.offline_session_id}
        missing = [uuid.UUID(o) for o in offline if o not in found]
        if missing:
            for row in await conn.execute(
                select(S.c.offline_session_id, S.c.session_id).where(
                    S.c.user_id == user_id, S.c.offline_session_id.in_(missing)
                )
            ):
                found[str(row.offline_session_id)] = str(row.session_id)
        new = [
            {
                "user_id": user_id,
                "session_id": uuid.uuid4(),
                "offline_session_id": uuid.UUID(o),
                "status": "ACTIVE",
                "mode": "TUTOR",
                **c.scope,
                "created_at": now,
                "updated_at": now,
            }
            for o, c in offline.items()
            if o not in found
        ]
        if new:
            await conn.execute(self._insert(S), new)
            found.update({str(r["offline_session_id"]): str(r["session_id"]) for r in new})
        server = {c.attempt.session_id for c in fresh if c.attempt.session_id}
        if server:
            for row in await conn.execute(
                select(S.c.session_id).where(
                    S.c.user_id == user_id, S.c.session_id.in_([uuid.UUID(s) for s in server])
                )
            ):
                found[str(row.session_id)] = str(row.session_id)
        return found

    async def _insert_attempts(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        if self._postgres:
            await conn.execute(_PG_INSERT_ATTEMPTS, _attempt_params(rows))
        else:
            await conn.execute(self._insert(A).on_conflict_do_nothing(), rows)

    async def _count_answers(self, conn: AsyncConnection, answers: list[dict[str, Any]]) -> None:
        """Each question counts once per session: the answer with the latest answered_at (ties: the
        larger idempotency key, so arrival order never matters)."""
        if not answers:
            return
        if self._postgres:
            await conn.execute(_PG_UPSERT_ANSWERS, _answer_params(answers))
            return
        statement = self._insert(SA)
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "session_id", "question_id"],
            set_={
                c: statement.excluded[c]
                for c in (
                    "server_attempt_id",
                    "idempotency_key",
                    "selected_option_index",
                    "is_correct",
                    "answered_at",
                    "answered_at_text",
                )
            },
            where=tuple_(statement.excluded.answered_at, statement.excluded.idempotency_key)
            > tuple_(SA.c.answered_at, SA.c.idempotency_key),
        )
        await conn.execute(statement, answers)

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
            "client_attempt_id": a.source.client_attempt_id,
            "question_id": a.question_id,
            "selected_option_index": a.source.selected_option_index,
            "answered_at_text": a.source.answered_at,
            "answered_at": a.answered_at.astimezone(UTC),
            "payload_hash": a.source.payload_hash,
            "fingerprint": a.fingerprint,
            "package_id": a.package_id,
            "is_correct": c.is_correct,
            "received_at": now,
        }

    @staticmethod
    def _answer_row(
        user_id: str, c: Candidate, attempt_id: uuid.UUID, session_id: str, now: datetime
    ) -> dict:
        a = c.attempt
        return {
            "user_id": user_id,
            "session_id": uuid.UUID(session_id),
            "question_id": a.question_id,
            "server_attempt_id": attempt_id,
            "idempotency_key": a.idempotency_key,
            "selected_option_index": a.source.selected_option_index,
            "is_correct": c.is_correct,
            "answered_at": a.answered_at.astimezone(UTC),
            "answered_at_text": a.source.answered_at,
            "first_answered_at": now,
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
                {"year_id": row.year_id, "block_id": row.block_id, "theme_id": row.theme_id},
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
                    A.c.user_id == user_id, A.c.idempotency_key.in_(set(keys))
                )
            )
            return {row.idempotency_key: (str(row.server_attempt_id), str(row.session_id)) for row in result}
