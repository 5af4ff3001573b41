"""Storage of the question bank and the test packages (the SQL PackagesStore)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, exc, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.packages.domain import KnownPackage, Package, PackageSummary, Question, Scope, ScopeId
from services.packages.models import BankVersionRow, PackageRow, QuestionRow
from services.runtime.db import among, as_utc, driver_connection, reader, runs_to_completion
from services.runtime.errors import FailedPrecondition

# The word the freeze trigger (migration 0001) puts in its error, on PostgreSQL and SQLite alike.
FROZEN = "PACKAGE_IMMUTABLE"

Q = cast(Table, QuestionRow.__table__)
P = cast(Table, PackageRow.__table__)
V = cast(Table, BankVersionRow.__table__)
SCOPE_COLUMNS = {
    "program": P.c.scope_program,
    "year_id": P.c.scope_year_id,
    "block_id": P.c.scope_block_id,
    "theme_id": P.c.scope_theme_id,
}
SUMMARY_COLUMNS = (
    P.c.package_id,
    P.c.name,
    P.c.scope,
    P.c.scope_data,
    P.c.version,
    P.c.version_hash,
    P.c.question_count,
    P.c.published_at,
    P.c.updated_at,
)


# Columns in Question's field order; options (JSON) as text for json.loads (_driver_question).
_QUESTION_COLUMNS = (
    "q.question_id::text, q.stem, q.options::text, q.correct_index, q.explanation, q.program, q.year_id,"
    " q.block_id, q.theme_id, q.updated_at"
)
_QUESTIONS_BY_ID = f"SELECT {_QUESTION_COLUMNS} FROM questions q WHERE q.question_id = ANY($1::uuid[])"
# The bank version and the questions in one statement, so one snapshot: the version labels exactly
# the content read. The LEFT JOIN keeps the version's row when no id is found.
_VERSIONED_QUESTIONS_BY_ID = (
    f"SELECT {_QUESTION_COLUMNS}, v.version FROM bank_version v"
    " LEFT JOIN questions q ON q.question_id = ANY($1::uuid[])"
)


def _driver_question(row: Any) -> Question:
    """A Question from a row of _QUESTION_COLUMNS read on the driver."""
    return Question(row[0], row[1], json.loads(row[2]), *row[3:10])


# Every bank write raises the version first: the row lock also makes bank writes commit one at a
# time, so versions are committed in order.
_RAISE_BANK_VERSION = update(V).values(version=V.c.version + 1).returning(V.c.version)


def _question(row: Any) -> Question:
    return Question(
        str(row.question_id),
        row.stem,
        list(row.options),
        row.correct_index,
        row.explanation,
        row.program,
        row.year_id,
        row.block_id,
        row.theme_id,
        as_utc(row.updated_at),
    )


def _summary(row: Any) -> PackageSummary:
    return PackageSummary(
        str(row.package_id),
        row.name,
        row.scope,
        row.scope_data,
        row.version,
        row.version_hash,
        row.question_count,
        as_utc(row.published_at),
        as_utc(row.updated_at),
    )


def _package(row: Any) -> Package:
    """From a PackageRow or a result row with its columns."""
    return Package(
        _summary(row),
        row.description,
        list(row.questions),
        row.is_published,
        row.created_by,
        as_utc(row.created_at),
    )


class PackagesRepository:
    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = engine
        self._reader = reader(engine)
        self._sessions = sessions
        self._postgres = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction on the packages tables. The database refuses any change to a published
        package (a trigger); that refusal surfaces as FAILED_PRECONDITION, never as a 500."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except exc.DBAPIError as error:
            if FROZEN in str(error.orig):
                raise FailedPrecondition(
                    "a published test package never changes; generate a new version instead",
                    reason=FROZEN,
                ) from None
            raise

    # -- question bank

    @runs_to_completion
    async def upsert_questions(self, questions: Sequence[Question]) -> tuple[list[Question], int]:
        now = datetime.now(UTC)
        rows = [{**q.__dict__, "question_id": uuid.UUID(q.question_id), "updated_at": now} for q in questions]
        insert = (postgresql.insert if self._postgres else sqlite.insert)(Q)
        statement = insert.on_conflict_do_update(
            index_elements=["question_id"],
            set_={
                c: insert.excluded[c]
                for c in (
                    "stem",
                    "options",
                    "correct_index",
                    "explanation",
                    "program",
                    "year_id",
                    "block_id",
                    "theme_id",
                    "updated_at",
                )
            },
        )
        async with self._engine.begin() as conn:
            version = (await conn.execute(_RAISE_BANK_VERSION)).scalar_one()
            await conn.execute(statement, rows)
        return [Question(**{**q.__dict__, "updated_at": now}) for q in questions], version

    async def bank_version(self) -> int:
        async with self._reader.connect() as conn:
            return (await conn.execute(select(V.c.version))).scalar_one()

    async def versioned_questions(self, ids: Sequence[str]) -> tuple[int, dict[str, Question]]:
        """The bank version and the bank's questions among `ids`; on PostgreSQL one prepared
        statement (sync asks this once per batch it cannot answer from its cache)."""
        if self._postgres:
            async with driver_connection(self._engine) as conn:
                rows = await conn.fetch(_VERSIONED_QUESTIONS_BY_ID, ids)
            return rows[0][-1], {row[0]: _driver_question(row) for row in rows if row[0]}
        # SQLite, in autocommit: the version is read first, so the content is of it or newer.
        version = await self.bank_version()
        return version, await self.questions_by_id(ids)

    async def questions_by_id(self, ids: Sequence[str]) -> dict[str, Question]:
        """Bank questions by id (canonical UUID text). Sync asks this once per batch, so on PostgreSQL
        it is one prepared statement on the driver."""
        if not ids:
            return {}
        if self._postgres:
            async with driver_connection(self._engine) as conn:
                rows = await conn.fetch(_QUESTIONS_BY_ID, ids)
            return {row[0]: _driver_question(row) for row in rows}
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(Q).where(among(self._engine, Q.c.question_id, [uuid.UUID(i) for i in ids]))
            )
            return {str(row.question_id): _question(row) for row in result}

    async def bank_matching(self, scope: Scope) -> list[Question]:
        """The bank's questions tagged with every key of the scope, in question_id order."""
        conditions = [Q.c[key] == value for key, value in scope.data.items()]
        async with self._reader.connect() as conn:
            result = await conn.execute(select(Q).where(*conditions).order_by(Q.c.question_id))
            return [_question(row) for row in result]

    # -- packages

    async def validator(self, package_id: uuid.UUID) -> str | None:
        """The published package's version_hash, reading nothing else (the 304 path)."""
        async with self._reader.connect() as conn:
            return (
                await conn.execute(
                    select(P.c.version_hash).where(P.c.package_id == package_id, P.c.is_published.is_(True))
                )
            ).scalar_one_or_none()

    async def package(self, package_id: uuid.UUID) -> Package | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(select(P).where(P.c.package_id == package_id))).first()
            return _package(row) if row is not None else None

    async def list_published(
        self, scope: str | None, filters: dict[str, Any], limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[PackageSummary]:
        query = select(*SUMMARY_COLUMNS).where(P.c.is_published.is_(True))
        if scope:
            query = query.where(P.c.scope == scope)
        for key, value in filters.items():
            query = query.where(SCOPE_COLUMNS[key] == value)
        if after is not None:
            query = query.where(tuple_(P.c.published_at, P.c.package_id) < tuple_(*after))
        query = query.order_by(P.c.published_at.desc(), P.c.package_id.desc()).limit(limit)
        async with self._reader.connect() as conn:
            return [_summary(row) for row in await conn.execute(query)]

    async def summaries_by_id(self, ids: Sequence[uuid.UUID]) -> dict[str, KnownPackage]:
        if not ids:
            return {}
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(*SUMMARY_COLUMNS, P.c.is_published, P.c.scope_key).where(P.c.package_id.in_(ids))
            )
            return {
                str(row.package_id): KnownPackage(_summary(row), row.is_published, row.scope_key)
                for row in result
            }

    async def latest_published(
        self,
        scope: str | None = None,
        filters: dict[str, Any] | None = None,
        scope_keys: Sequence[ScopeId] | None = None,
    ) -> dict[ScopeId, PackageSummary]:
        """(scope, scope_key) → the newest published version, for matching scopes. Reads one row per
        scope, however many versions it has had (the unique index serves the NOT EXISTS)."""
        newer = P.alias("newer")
        query = select(*SUMMARY_COLUMNS, P.c.scope_key).where(
            P.c.is_published.is_(True),
            ~select(newer.c.version)
            .where(
                newer.c.scope == P.c.scope,
                newer.c.scope_key == P.c.scope_key,
                newer.c.version > P.c.version,
                newer.c.is_published.is_(True),
            )
            .exists(),
        )
        if scope:
            query = query.where(P.c.scope == scope)
        for key, value in (filters or {}).items():
            query = query.where(SCOPE_COLUMNS[key] == value)
        if scope_keys is not None:
            if not scope_keys:
                return {}
            query = query.where(tuple_(P.c.scope, P.c.scope_key).in_(list(scope_keys)))
        async with self._reader.connect() as conn:
            return {(row.scope, row.scope_key): _summary(row) for row in await conn.execute(query)}

    @runs_to_completion
    async def add_version(
        self,
        scope: Scope,
        name: str,
        description: str,
        snapshots: list[dict[str, Any]],
        version_hash: str,
        created_by: str,
        publish: bool,
        reuse_published: bool,
    ) -> tuple[Package, bool]:
        """Adds the next version of a scope. With `reuse_published`, returns the latest published
        version instead when its hash is the same. Versions of one scope are made one at a time (an
        advisory lock on PostgreSQL; SQLite has a single writer), so concurrent calls never produce
        two versions with one number or, when reusing, one content."""
        now = datetime.now(UTC)
        async with self.writing() as session:
            await self._lock_scope(session, scope.kind, scope.key)
            rows = (
                await session.execute(
                    select(
                        PackageRow.version,
                        PackageRow.version_hash,
                        PackageRow.is_published,
                        PackageRow.package_id,
                    )
                    .where(PackageRow.scope == scope.kind, PackageRow.scope_key == scope.key)
                    .order_by(PackageRow.version.desc())
                )
            ).all()
            if reuse_published:
                published = next((r for r in rows if r.is_published), None)
                if published is not None and published.version_hash == version_hash:
                    existing = await session.get(PackageRow, published.package_id)
                    return _package(existing), False
            row = PackageRow(
                package_id=uuid.uuid4(),
                name=name,
                description=description,
                scope=scope.kind,
                scope_data=scope.data,
                scope_key=scope.key,
                **{f"scope_{key}": scope.data.get(key) for key in SCOPE_COLUMNS},
                version=(rows[0].version if rows else 0) + 1,
                version_hash=version_hash,
                questions=snapshots,
                question_count=len(snapshots),
                is_published=publish,
                published_at=now if publish else None,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        return _package(row), True

    async def _lock_scope(self, session: AsyncSession, scope: str, scope_key: str) -> None:
        """Versions of one scope are made and published one at a time (SQLite has a single writer)."""
        if self._postgres:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"{scope}:{scope_key}"}
            )

    @runs_to_completion
    async def publish(self, package_id: uuid.UUID) -> Package | None:
        """Publishes a draft; a published package is returned unchanged (never updated: the trigger).
        A draft older than a published version of its scope is refused, so the newest published
        version is always the newest content. Under the scope's lock, as versions are made."""
        now = datetime.now(UTC)
        async with self.writing() as session:
            draft = (
                await session.execute(
                    select(
                        PackageRow.scope, PackageRow.scope_key, PackageRow.version, PackageRow.is_published
                    ).where(PackageRow.package_id == package_id)
                )
            ).one_or_none()
            if draft is None:
                return None
            if not draft.is_published:
                await self._lock_scope(session, draft.scope, draft.scope_key)
                newer = await session.scalar(
                    select(func.max(PackageRow.version)).where(
                        PackageRow.scope == draft.scope,
                        PackageRow.scope_key == draft.scope_key,
                        PackageRow.is_published.is_(True),
                        PackageRow.version > draft.version,
                    )
                )
                if newer is not None:
                    raise FailedPrecondition(
                        f"version {newer} of this scope is already published and this draft is version "
                        f"{draft.version}: publish a newer draft, or generate the scope again",
                        reason="STALE_DRAFT",
                        field="package_id",
                    )
                await session.execute(
                    update(PackageRow)
                    .where(PackageRow.package_id == package_id)
                    .values(is_published=True, published_at=now, updated_at=now)
                )
        return await self.package(package_id)
