"""Tables of the progress schema. Every key and unique constraint starts with the owner
(`profile_id`), so the schema shards by profile on a distributed PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Double, Index, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ProgressRow(Base):
    """One stored progress item. `seq` orders a profile's items for read-back cursors."""

    __tablename__ = "progress_items"

    profile_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    server_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    fingerprint: Mapped[str] = mapped_column(String(64))
    activity_type: Mapped[str] = mapped_column(String(128))
    content_id: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Double)
    duration_seconds: Mapped[float | None] = mapped_column(Double)
    meta_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    server_received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_progress_items_profile_seq", "profile_id", "seq", unique=True),)


class ProgressHead(Base):
    """A profile's last used `seq`. Every batch bumps it first, so a profile's batches take turns
    (the row lock) and `seq` grows in commit order: read-back cursors never skip an item."""

    __tablename__ = "progress_heads"

    profile_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
