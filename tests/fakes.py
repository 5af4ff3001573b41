"""In-memory fakes of the services' store interfaces (and other ports), for the use-case tests.

Each keeps what a real store guarantees (per its Protocol in services/<svc>/store.py) and records
the calls it got, so a test can tell that a refused request never reached storage.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.packages.domain import KnownPackage, Package, PackageSummary, Question, Scope, ScopeId
from services.progress.domain import Stored, StoredRecord, ValidItem
from services.runtime.errors import FailedPrecondition

# -- progress


class FakeProgressStore:
    """services.progress.store.ProgressStore in memory: a profile's records in `seq` order."""

    def __init__(self) -> None:
        self.records: dict[str, list[StoredRecord]] = {}
        self.fingerprints: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []

    async def record(self, profile_id: str, items: Sequence[ValidItem]) -> dict[str, tuple[Stored, bool]]:
        self.calls.append("record")
        assert len({item.idempotency_key for item in items}) == len(items), "keys must be distinct"
        rows = self.records.setdefault(profile_id, [])
        by_key = {row.idempotency_key: row for row in rows}
        received = datetime.now(UTC)
        outcome: dict[str, tuple[Stored, bool]] = {}
        for item in items:
            row = by_key.get(item.idempotency_key)
            if row is not None:
                fingerprint = self.fingerprints[(profile_id, item.idempotency_key)]
                outcome[item.idempotency_key] = (Stored(row.server_id, fingerprint, row.occurred_at), False)
                continue
            row = StoredRecord(
                seq=len(rows) + 1,
                server_id=str(uuid.uuid4()),
                profile_id=profile_id,
                idempotency_key=item.idempotency_key,
                activity_type=item.activity_type,
                content_id=item.content_id,
                score=item.score,
                duration_seconds=item.duration_seconds,
                meta_data=item.meta_data,
                occurred_at=item.occurred_at,
                server_received_at=received,
            )
            rows.append(row)
            self.fingerprints[(profile_id, item.idempotency_key)] = item.fingerprint
            outcome[item.idempotency_key] = (Stored(row.server_id, item.fingerprint, item.occurred_at), True)
        return outcome

    async def list_after(self, profile_id: str, after_seq: int, limit: int) -> list[StoredRecord]:
        self.calls.append("list_after")
        return [row for row in self.records.get(profile_id, []) if row.seq > after_seq][:limit]

    async def server_ids(self, profile_id: str, keys: Sequence[str]) -> dict[str, str]:
        self.calls.append("server_ids")
        rows = {row.idempotency_key: row.server_id for row in self.records.get(profile_id, [])}
        return {key: rows[key] for key in keys if key in rows}


# -- packages


class FakePackagesStore:
    """services.packages.store.PackagesStore in memory. Its clock ticks a second per write, so
    packages published one after another have distinct, ordered publication times."""

    def __init__(self) -> None:
        self.questions: dict[str, Question] = {}
        self.packages: dict[str, Package] = {}
        self.scope_keys: dict[str, str] = {}  # package id → Scope.key
        self.calls: list[str] = []
        self._now = datetime(2026, 1, 1, tzinfo=UTC)

    def _tick(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now

    def _published(self) -> list[Package]:
        return [p for p in self.packages.values() if p.is_published]

    @staticmethod
    def _matches(summary: PackageSummary, scope: str | None, filters: dict[str, Any] | None) -> bool:
        return (not scope or summary.scope == scope) and all(
            summary.scope_data.get(key) == value for key, value in (filters or {}).items()
        )

    async def upsert_questions(self, questions: Sequence[Question]) -> list[Question]:
        self.calls.append("upsert_questions")
        now = self._tick()
        stored = [dataclasses.replace(q, updated_at=now) for q in questions]
        self.questions.update((q.question_id, q) for q in stored)
        return stored

    async def questions_by_id(self, ids: Sequence[str]) -> dict[str, Question]:
        self.calls.append("questions_by_id")
        return {i: self.questions[i] for i in ids if i in self.questions}

    async def bank_matching(self, scope: Scope) -> list[Question]:
        self.calls.append("bank_matching")
        return sorted(
            (q for q in self.questions.values() if scope.matches(q.tags())),
            key=lambda q: uuid.UUID(q.question_id),
        )

    async def validator(self, package_id: uuid.UUID) -> str | None:
        self.calls.append("validator")
        package = self.packages.get(str(package_id))
        return package.summary.version_hash if package is not None and package.is_published else None

    async def package(self, package_id: uuid.UUID) -> Package | None:
        self.calls.append("package")
        return self.packages.get(str(package_id))

    async def list_published(
        self, scope: str | None, filters: dict[str, Any], limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[PackageSummary]:
        self.calls.append("list_published")
        found = sorted(
            (p.summary for p in self._published() if self._matches(p.summary, scope, filters)),
            key=lambda s: (s.published_at, uuid.UUID(s.package_id)),
            reverse=True,
        )
        if after is not None:
            found = [s for s in found if (s.published_at, uuid.UUID(s.package_id)) < after]
        return found[:limit]

    async def summaries_by_id(self, ids: Sequence[uuid.UUID]) -> dict[str, KnownPackage]:
        self.calls.append("summaries_by_id")
        known = (self.packages.get(str(i)) for i in ids)
        return {
            p.summary.package_id: KnownPackage(
                p.summary, p.is_published, self.scope_keys[p.summary.package_id]
            )
            for p in known
            if p is not None
        }

    async def latest_published(
        self,
        scope: str | None = None,
        filters: dict[str, Any] | None = None,
        scope_keys: Sequence[ScopeId] | None = None,
    ) -> dict[ScopeId, PackageSummary]:
        self.calls.append("latest_published")
        latest: dict[ScopeId, PackageSummary] = {}
        for package in self._published():
            summary = package.summary
            scope_id = (summary.scope, self.scope_keys[summary.package_id])
            if not self._matches(summary, scope, filters):
                continue
            if scope_keys is not None and scope_id not in scope_keys:
                continue
            if scope_id not in latest or latest[scope_id].version < summary.version:
                latest[scope_id] = summary
        return latest

    def _versions(self, kind: str, key: str) -> list[Package]:
        return sorted(
            (
                p
                for p in self.packages.values()
                if p.summary.scope == kind and self.scope_keys[p.summary.package_id] == key
            ),
            key=lambda p: p.summary.version,
            reverse=True,
        )

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
        self.calls.append("add_version")
        versions = self._versions(scope.kind, scope.key)
        if reuse_published:
            published = next((p for p in versions if p.is_published), None)
            if published is not None and published.summary.version_hash == version_hash:
                return published, False
        now = self._tick()
        summary = PackageSummary(
            str(uuid.uuid4()),
            name,
            scope.kind,
            scope.data,
            (versions[0].summary.version if versions else 0) + 1,
            version_hash,
            len(snapshots),
            now if publish else None,
            now,
        )
        package = Package(summary, description, snapshots, publish, created_by, now)
        self.packages[summary.package_id] = package
        self.scope_keys[summary.package_id] = scope.key
        return package, True

    async def publish(self, package_id: uuid.UUID) -> Package | None:
        self.calls.append("publish")
        draft = self.packages.get(str(package_id))
        if draft is None or draft.is_published:
            return draft
        summary = draft.summary
        newer = [
            p.summary.version
            for p in self._versions(summary.scope, self.scope_keys[summary.package_id])
            if p.is_published and p.summary.version > summary.version
        ]
        if newer:
            raise FailedPrecondition("a newer version is published", reason="STALE_DRAFT", field="package_id")
        now = self._tick()
        published = dataclasses.replace(
            draft, summary=dataclasses.replace(summary, published_at=now, updated_at=now), is_published=True
        )
        self.packages[summary.package_id] = published
        return published
