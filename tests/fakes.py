"""In-memory fakes of the services' store interfaces (and other ports), for the use-case tests.

Each keeps what a real store guarantees (per its Protocol in services/<svc>/store.py) and records
the calls it got, so a test can tell that a refused request never reached storage.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.packages.domain import KnownPackage, Package, PackageSummary, Question, Scope, ScopeId
from services.progress.domain import Stored, StoredRecord, ValidItem
from services.runtime.errors import FailedPrecondition
from services.sync import domain as sync_domain

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
        self.version = 0  # the bank version: raised by each upsert_questions
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

    async def upsert_questions(self, questions: Sequence[Question]) -> tuple[list[Question], int]:
        self.calls.append("upsert_questions")
        now = self._tick()
        stored = [dataclasses.replace(q, updated_at=now) for q in questions]
        self.questions.update((q.question_id, q) for q in stored)
        self.version += 1
        return stored, self.version

    async def bank_version(self) -> int:
        self.calls.append("bank_version")
        return self.version

    async def questions_by_id(self, ids: Sequence[str]) -> dict[str, Question]:
        self.calls.append("questions_by_id")
        return {i: self.questions[i] for i in ids if i in self.questions}

    async def versioned_questions(self, ids: Sequence[str]) -> tuple[int, dict[str, Question]]:
        self.calls.append("versioned_questions")
        return self.version, {i: self.questions[i] for i in ids if i in self.questions}

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


# -- sync


@dataclasses.dataclass
class _FakeSession:
    offline_session_id: str | None
    status: str
    mode: str
    scope: dict[str, int | None]
    created_at: datetime
    updated_at: datetime
    answers: dict[str, dict] = dataclasses.field(default_factory=dict)  # question id → the counting answer


class FakeSyncStore:
    """SyncStore in memory. `calls` lists the methods called, in order (a refused request must
    leave it empty); `sessions` is keyed by (user, server session id)."""

    def __init__(self) -> None:
        self.attempts: dict[tuple[str, str], sync_domain.Stored] = {}
        self.sessions: dict[tuple[str, str], _FakeSession] = {}
        self.calls: list[str] = []
        self._order = itertools.count()  # first-answered order of session answers

    def add_session(self, user_id: str, offline_session_id: str | None = None) -> str:
        """A session of this user made outside a batch (e.g. online); returns its server id."""
        session_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        self.sessions[(user_id, session_id)] = _FakeSession(
            offline_session_id, sync_domain.NEW_SESSION_STATUS, sync_domain.NEW_SESSION_MODE, {}, now, now
        )
        return session_id

    async def store(
        self,
        user_id: str,
        candidates: Sequence[sync_domain.Candidate],
        known_sessions: dict[str, str],
        also_check: Sequence[str] = (),
    ) -> dict[str, sync_domain.Stored | sync_domain.Rejection]:
        self.calls.append("store")
        now = datetime.now(UTC)
        outcome: dict[str, sync_domain.Stored | sync_domain.Rejection] = {}
        for key in [c.attempt.idempotency_key for c in candidates] + list(also_check):
            if (stored := self.attempts.get((user_id, key))) is not None:
                outcome[key] = sync_domain.Stored(
                    stored.server_attempt_id, stored.session_id, stored.fingerprint, False
                )
        fresh = [c for c in candidates if c.attempt.idempotency_key not in outcome]
        mapping = dict(known_sessions)
        for offline, scope in sync_domain.new_session_scopes(fresh, known_sessions).items():
            mapping[offline] = self._offline_session(user_id, offline, scope, now)
        for candidate in fresh:
            attempt = candidate.attempt
            if attempt.offline_session_id:
                session_id = mapping[attempt.offline_session_id]
            elif (user_id, attempt.session_id) in self.sessions:
                session_id = attempt.session_id
            else:
                outcome[attempt.idempotency_key] = sync_domain.SESSION_NOT_FOUND
                continue
            stored = sync_domain.Stored(str(uuid.uuid4()), session_id, attempt.fingerprint, True)
            self.attempts[(user_id, attempt.idempotency_key)] = stored
            outcome[attempt.idempotency_key] = stored
            self._count(self.sessions[(user_id, session_id)], candidate, stored, now)
        return outcome

    def _offline_session(
        self, user_id: str, offline: str, scope: dict[str, int | None], now: datetime
    ) -> str:
        for (owner, session_id), session in self.sessions.items():
            if owner == user_id and session.offline_session_id == offline:
                return session_id
        session_id = str(uuid.uuid4())
        self.sessions[(user_id, session_id)] = _FakeSession(
            offline, sync_domain.NEW_SESSION_STATUS, sync_domain.NEW_SESSION_MODE, scope, now, now
        )
        return session_id

    def _count(
        self,
        session: _FakeSession,
        candidate: sync_domain.Candidate,
        stored: sync_domain.Stored,
        now: datetime,
    ) -> None:
        attempt = candidate.attempt
        answer = {
            "server_attempt_id": stored.server_attempt_id,
            "idempotency_key": attempt.idempotency_key,
            "selected_option_index": attempt.source.selected_option_index,
            "is_correct": candidate.is_correct,
            "answered_at": attempt.answered_at,
            "answered_at_text": attempt.source.answered_at,
        }
        assert set(answer) == set(sync_domain.ANSWER_FIELDS)
        current = session.answers.get(attempt.question_id)
        if current is None:
            session.answers[attempt.question_id] = {**answer, "first": next(self._order)}
        elif sync_domain.answer_rank(attempt.answered_at, attempt.idempotency_key) > sync_domain.answer_rank(
            current["answered_at"], current["idempotency_key"]
        ):
            current.update(answer)
        session.updated_at = now

    async def session(self, user_id: str, session_id: uuid.UUID) -> sync_domain.SessionView | None:
        self.calls.append("session")
        session = self.sessions.get((user_id, str(session_id)))
        if session is None:
            return None
        answers = sorted(session.answers.items(), key=lambda item: (item[1]["first"], item[0]))
        return sync_domain.SessionView(
            str(session_id),
            session.offline_session_id,
            session.status,
            session.mode,
            dict(session.scope),
            session.created_at,
            session.updated_at,
            [
                {
                    "question_id": question_id,
                    "selected_option_index": a["selected_option_index"],
                    "is_correct": a["is_correct"],
                    "answered_at": a["answered_at_text"],
                    "server_attempt_id": a["server_attempt_id"],
                }
                for question_id, a in answers
            ],
        )

    async def receipts(self, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        self.calls.append("receipts")
        return {
            key: (stored.server_attempt_id, stored.session_id)
            for key in keys
            if (stored := self.attempts.get((user_id, key))) is not None
        }


class FakeQuestions:
    """QuestionLookup in memory: the bank's questions, and packages (None: a draft). `fetches` lists
    each call as (question ids, package id)."""

    def __init__(
        self,
        bank: dict[str, sync_domain.QuestionFacts] | None = None,
        packages: dict[str, dict[str, sync_domain.QuestionFacts] | None] | None = None,
    ) -> None:
        self.bank = dict(bank or {})
        self.packages = dict(packages or {})
        self.fetches: list[tuple[list[str], str | None]] = []
        self.bank_version_keys: sync_domain.BankVersionKeys | None = None  # bank questions not kept

    async def fetch(
        self, question_ids: list[str], package_id: str | None, bank_version: int | None = None
    ) -> dict[str, sync_domain.QuestionFacts]:
        self.fetches.append((list(question_ids), package_id))
        if package_id is None:
            return {q: self.bank[q] for q in question_ids if q in self.bank}
        if package_id not in self.packages:
            return {}
        snapshot = self.packages[package_id]
        if snapshot is None:
            raise sync_domain.PackageNotPublished()
        return dict(snapshot)


class FakeResultCache:
    """ResultCache in memory; `remembered` lists what each remember call was given."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, str], sync_domain.Stored] = {}
        self.sessions: dict[tuple[str, str], str] = {}
        self.remembered: list[tuple[dict[str, sync_domain.Stored], dict[str, str]]] = []

    async def lookup(
        self,
        user_id: str,
        keys: Sequence[str],
        offline_sessions: Sequence[str],
        bank: sync_domain.BankVersionKeys | None = None,
    ) -> tuple[dict[str, sync_domain.Stored], dict[str, str], int | None]:
        results = {
            key: sync_domain.Stored(s.server_attempt_id, s.session_id, s.fingerprint, False)
            for key in keys
            if (s := self.results.get((user_id, key))) is not None
        }
        sessions = {o: s for o in offline_sessions if (s := self.sessions.get((user_id, o))) is not None}
        return results, sessions, None

    async def remember(
        self, user_id: str, results: dict[str, sync_domain.Stored], sessions: dict[str, str]
    ) -> None:
        self.remembered.append((dict(results), dict(sessions)))
        self.results.update({(user_id, key): stored for key, stored in results.items()})
        self.sessions.update({(user_id, offline): session for offline, session in sessions.items()})
