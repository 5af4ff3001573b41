"""What the packages use cases need from storage; repository.PackagesRepository is the SQL one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from services.packages.domain import (
    BankVersionKeys,
    KnownPackage,
    Package,
    PackageSummary,
    Question,
    Scope,
    ScopeId,
)


class PackagesStore(Protocol):
    """The question bank and the versioned packages. A published package never changes: the store
    refuses any change to one (FailedPrecondition, reason PACKAGE_IMMUTABLE)."""

    # -- question bank

    async def upsert_questions(self, questions: Sequence[Question]) -> tuple[list[Question], int]:
        """Adds the questions, or replaces the bank's question of the same id, all in one
        transaction (a retry stores the same again) that also raises the bank version by one;
        returns them with the `updated_at` they got, and the version that transaction committed.
        Bank writes commit one at a time, in version order. Runs to its end even if the caller is
        cancelled."""
        ...

    async def bank_version(self) -> int:
        """The bank version last committed (0 before the first bank write)."""
        ...

    async def versioned_questions(self, ids: Sequence[str]) -> tuple[int, dict[str, Question]]:
        """The bank version and the bank's questions among `ids` (as questions_by_id), the version
        read with the questions or before them, never after: the content is of that version or
        newer."""
        ...

    async def questions_by_id(self, ids: Sequence[str]) -> dict[str, Question]:
        """The bank's questions among `ids` (canonical UUID text), by id; unknown ids are absent."""
        ...

    async def bank_matching(self, scope: Scope) -> list[Question]:
        """The bank's questions tagged with every key of the scope, in question_id order."""
        ...

    # -- packages

    async def validator(self, package_id: uuid.UUID) -> str | None:
        """The published package's version_hash (None for a draft or an unknown id), reading
        nothing else: a revalidation loads no questions."""
        ...

    async def package(self, package_id: uuid.UUID) -> Package | None:
        """The package, draft or published; None for an unknown id."""
        ...

    async def list_published(
        self, scope: str | None, filters: dict[str, Any], limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[PackageSummary]:
        """At most `limit` published packages of the scope kind (any if None) whose scope ids equal
        `filters`, newest first by (published_at, package_id), starting after `after`."""
        ...

    async def summaries_by_id(self, ids: Sequence[uuid.UUID]) -> dict[str, KnownPackage]:
        """The packages among `ids`, drafts included, by package id text; unknown ids are absent."""
        ...

    async def latest_published(
        self,
        scope: str | None = None,
        filters: dict[str, Any] | None = None,
        scope_keys: Sequence[ScopeId] | None = None,
    ) -> dict[ScopeId, PackageSummary]:
        """The newest published version of each scope that matches: of the scope kind (any if
        None), whose scope ids equal `filters`, and among `scope_keys` when given (none if empty)."""
        ...

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
        """Adds the scope's next version (published now if `publish`), and says True. With
        `reuse_published`, returns the latest published version instead, and False, when it has the
        same hash. The versions of one scope are made one at a time, so concurrent calls never make
        two versions with one number or, when reusing, two with one content. Runs to its end even if
        the caller is cancelled."""
        ...

    async def publish(self, package_id: uuid.UUID) -> Package | None:
        """Publishes a draft, or returns a published package unchanged; None for an unknown id.
        Raises FailedPrecondition (STALE_DRAFT) for a draft older than a published version of its
        scope, so the newest published version is always the newest content. Under the scope's
        one-at-a-time rule, as versions are made. Runs to its end even if the caller is cancelled."""
        ...


class BankVersions(Protocol):
    """Publishes the committed bank version where the sync service reads it with each batch, so sync
    may keep bank questions until the bank changes. Every bank write runs between before_write and
    after_write."""

    @property
    def keys(self) -> BankVersionKeys | None:
        """Where the version is published; None when it is not (sync then keeps no bank question)."""
        ...

    async def before_write(self) -> None:
        """Marks a bank write as pending. Raises Unavailable when the mark cannot be made: the write
        must then not happen."""
        ...

    async def after_write(self, version: int | None) -> None:
        """Publishes the version a bank write committed (None: the write failed, maybe after its
        commit, so the store's version is published) and ends its mark. Never raises: what cannot
        be published now is published in the background."""
        ...
