"""Tables of the packages schema: the question bank and the versioned test packages cut from it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class QuestionRow(Base):
    __tablename__ = "questions"

    question_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    correct_index: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    program: Mapped[str | None] = mapped_column(String(128))
    year_id: Mapped[int | None] = mapped_column(BigInteger)
    block_id: Mapped[int | None] = mapped_column(BigInteger)
    theme_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BankVersionRow(Base):
    """The bank's version: one row, raised by every bank write in that write's transaction."""

    __tablename__ = "bank_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("id = 1", name="ck_bank_version_one_row"),)


class PackageRow(Base):
    """A test package. `scope_key` is the canonical (RFC 8785) text of `scope_data`, so key
    order or spacing can never make a second "same" scope; the scope ids are copied into columns
    for filtering. Published rows are frozen by a database trigger."""

    __tablename__ = "test_packages"

    package_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))
    scope_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    scope_key: Mapped[str] = mapped_column(String(512))
    scope_program: Mapped[str | None] = mapped_column(String(128))
    scope_year_id: Mapped[int | None] = mapped_column(BigInteger)
    scope_block_id: Mapped[int | None] = mapped_column(BigInteger)
    scope_theme_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    question_count: Mapped[int] = mapped_column(Integer)
    is_published: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("scope", "scope_key", "version", name="uq_test_packages_scope_version"),
        Index("ix_test_packages_published", "is_published", "published_at"),
        Index("ix_test_packages_version_hash", "version_hash"),
    )
