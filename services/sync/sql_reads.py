"""The reads both sync stores make: SQLAlchemy Core on the autocommit reader, the same on either
dialect (only storing a batch differs between them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.db import among, as_utc
from services.runtime.scope import SCOPE_IDS
from services.sync.domain import SessionView
from services.sync.models import AttemptRow, SessionAnswerRow, SessionRow

A = AttemptRow.__table__
S = SessionRow.__table__
SA = SessionAnswerRow.__table__


async def session(reader: AsyncEngine, user_id: str, session_id: uuid.UUID) -> SessionView | None:
    async with reader.connect() as conn:
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


async def receipts(reader: AsyncEngine, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
    async with reader.connect() as conn:
        result = await conn.execute(
            select(A.c.idempotency_key, A.c.server_attempt_id, A.c.session_id).where(
                A.c.user_id == user_id, among(reader, A.c.idempotency_key, sorted(set(keys)))
            )
        )
        return {row.idempotency_key: (str(row.server_attempt_id), str(row.session_id)) for row in result}
