"""Tables of the sync schema. Every key starts with the owner (`user_id`), so the schema shards by
user; the unique keys are the idempotency truth (Redis only caches them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class SessionRow(Base):
    """A server session; an offline session id maps to exactly one (unique per user)."""

    __tablename__ = "sessions"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    offline_session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    year_id: Mapped[int | None] = mapped_column(BigInteger)
    block_id: Mapped[int | None] = mapped_column(BigInteger)
    theme_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("user_id", "offline_session_id", name="uq_sessions_offline"),)


class AttemptRow(Base):
    """One stored attempt, kept forever with its idempotency key (the idempotency record)."""

    __tablename__ = "attempts"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    server_attempt_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    client_attempt_id: Mapped[str] = mapped_column(String(36))
    question_id: Mapped[str] = mapped_column(String(36))
    selected_option_index: Mapped[int] = mapped_column(Integer)
    answered_at_text: Mapped[str] = mapped_column(String(64))  # exactly as sent (the hash covers it)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload_hash: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # payload + session reference + package
    package_id: Mapped[str | None] = mapped_column(String(36))
    is_correct: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionAnswerRow(Base):
    """The counting answer of each question in a session: the latest answered_at wins, so a question
    counts at most once however often or in whatever order its attempts arrive."""

    __tablename__ = "session_answers"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    question_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    server_attempt_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    selected_option_index: Mapped[int] = mapped_column(Integer)
    is_correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at_text: Mapped[str] = mapped_column(String(64))
    first_answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
