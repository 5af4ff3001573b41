"""The sync use cases: one method per RPC, in domain terms, over the ports in store (no gRPC, no SQL,
no Redis here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from services.runtime.auth import Principal
from services.runtime.errors import NotFound
from services.runtime.validation import parse_uuid
from services.sync import domain
from services.sync.domain import (
    ACKED,
    DUPLICATE,
    REJECTED,
    AttemptInput,
    AttemptResult,
    Candidate,
    PackageNotPublished,
    Rejection,
    SessionView,
    Stored,
    ValidAttempt,
)
from services.sync.metrics import SyncMetrics
from services.sync.store import QuestionLookup, ResultCache, SyncStore

NOT_PUBLISHED = Rejection("PACKAGE_NOT_PUBLISHED", "package_id: the package is not published")
REUSED = Rejection("IDEMPOTENCY_KEY_REUSED", "idempotency_key: already used for a different attempt")


class SyncUseCases:
    def __init__(
        self, store: SyncStore, cache: ResultCache, questions: QuestionLookup, metrics: SyncMetrics
    ) -> None:
        self._store = store
        self._cache = cache
        self._questions = questions
        self._metrics = metrics

    async def sync_batch(self, principal: Principal, attempts: Sequence[AttemptInput]) -> list[AttemptResult]:
        domain.check_batch(len(attempts))
        domain.check_user(principal.sub)
        user = principal.sub
        # 1. verify each attempt and its payload_hash
        checked: list[ValidAttempt | Rejection] = []
        first: dict[str, ValidAttempt] = {}
        now = datetime.now(UTC)
        for attempt in attempts:
            try:
                valid = domain.validate_attempt(attempt, now)
            except Rejection as rejection:
                checked.append(rejection)
                continue
            checked.append(valid)
            first.setdefault(valid.idempotency_key, valid)
        # 2. Redis idempotency cache, and cached offline-session mappings
        offline = sorted({a.offline_session_id for a in first.values() if a.offline_session_id})
        # ... and the bank version, in the same round trip, when bank questions may be scored
        bank = self._questions.bank_version_keys
        if bank is not None and all(a.package_id for a in first.values()):
            bank = None
        cached, sessions, bank_version = await self._cache.lookup(user, list(first), offline, bank)
        outcome: dict[str, Stored | Rejection] = dict(cached)
        # 3-7 happen in the store, atomically: sessions, database idempotency, the new attempts and
        # their answers, one commit. Questions are looked up first, outside any transaction.
        fresh = [a for key, a in first.items() if key not in outcome]
        candidates = await self._score(fresh, outcome, bank_version)
        self._metrics.session_mappings.labels("cache").inc(len(sessions))
        self._metrics.session_mappings.labels("database").inc(
            len(
                {c.attempt.offline_session_id for c in candidates if c.attempt.offline_session_id}
                - set(sessions)
            )
        )
        refused = [a.idempotency_key for a in fresh if isinstance(outcome.get(a.idempotency_key), Rejection)]
        if candidates or refused:
            outcome.update(await self._store.store(user, candidates, sessions, refused))
        results = self._results(attempts, checked, outcome)
        await self._cache.remember(
            user,
            {key: o for key, o in outcome.items() if isinstance(o, Stored) and key not in cached},
            {
                a.offline_session_id: o.session_id
                for a in first.values()
                if a.offline_session_id
                and isinstance(o := outcome.get(a.idempotency_key), Stored)
                and o.is_new
            },
        )
        self._observe(results, first, outcome)
        return results

    async def _score(
        self, fresh: list[ValidAttempt], outcome: dict[str, Stored | Rejection], bank_version: int | None
    ) -> list[Candidate]:
        """At most one BatchGetQuestions per question source (the bank, or each package), never per
        attempt; none for questions kept at the bank's current version."""
        sources: dict[str | None, list[ValidAttempt]] = {}
        for attempt in fresh:
            sources.setdefault(attempt.package_id, []).append(attempt)
        candidates = []
        for package_id, group in sources.items():
            try:
                facts = await self._questions.fetch(
                    sorted({a.question_id for a in group}), package_id, bank_version
                )
            except PackageNotPublished:
                for attempt in group:
                    outcome[attempt.idempotency_key] = NOT_PUBLISHED
                continue
            for attempt in group:
                fact = facts.get(attempt.question_id)
                if fact is None:
                    where = "in this package" if package_id else "in the question bank"
                    outcome[attempt.idempotency_key] = Rejection(
                        "QUESTION_NOT_FOUND", f"question_id: not {where}"
                    )
                elif attempt.selected_option_index >= fact.option_count:
                    outcome[attempt.idempotency_key] = Rejection(
                        "INVALID_OPTION_INDEX",
                        f"selected_option_index: the question has {fact.option_count} options",
                    )
                else:
                    candidates.append(
                        Candidate(attempt, attempt.selected_option_index == fact.correct_index, fact.scope)
                    )
        return candidates

    @staticmethod
    def _results(
        attempts: Sequence[AttemptInput],
        checked: list[ValidAttempt | Rejection],
        outcome: dict[str, Stored | Rejection],
    ) -> list[AttemptResult]:
        """In request order. A key repeated in one batch behaves as if the copies came one after another."""
        results, answered = [], set()
        for attempt, check in zip(attempts, checked, strict=True):
            found = outcome.get(check.idempotency_key) if isinstance(check, ValidAttempt) else check
            if isinstance(found, Stored) and found.fingerprint != check.fingerprint:  # type: ignore[union-attr]
                found = REUSED
            if found is None:  # every valid key has an outcome; never drop an attempt by rejecting it
                raise RuntimeError(f"no outcome for attempt {attempt.client_attempt_id!r}")
            if isinstance(found, Rejection):
                rejection = found
                results.append(
                    AttemptResult(
                        attempt.client_attempt_id,
                        attempt.idempotency_key,
                        REJECTED,
                        error_code=rejection.code,
                        error_message=rejection.message,
                    )
                )
                continue
            key = check.idempotency_key  # type: ignore[union-attr]
            status = ACKED if found.is_new and key not in answered else DUPLICATE
            answered.add(key)
            results.append(
                AttemptResult(
                    attempt.client_attempt_id,
                    attempt.idempotency_key,
                    status,
                    found.server_attempt_id,
                    found.session_id,
                )
            )
        return results

    def _observe(
        self,
        results: list[AttemptResult],
        first: dict[str, ValidAttempt],
        outcome: dict[str, Stored | Rejection],
    ) -> None:
        self._metrics.batch_size.observe(len(results))
        for (status, reason), count in Counter((r.status, r.error_code or "") for r in results).items():
            self._metrics.attempts.labels(status, reason).inc(count)
        now = datetime.now(UTC)
        self._metrics.replay_age.observe_many(
            max(0.0, (now - attempt.answered_at).total_seconds())
            for key, attempt in first.items()
            if isinstance(stored := outcome.get(key), Stored) and stored.is_new
        )

    async def session(self, principal: Principal, session_id: str) -> tuple[SessionView, int, int]:
        """The caller's session with its score. Another user's session is simply not found."""
        domain.check_user(principal.sub)
        view = await self._store.session(principal.sub, parse_uuid("session_id", session_id))
        if view is None:
            raise NotFound("no such session", reason="SESSION_NOT_FOUND", field="session_id")
        return view, len(view.answers), sum(1 for a in view.answers if a["is_correct"])

    async def receipts(
        self, principal: Principal, keys: list[str]
    ) -> list[tuple[str, tuple[str, str] | None]]:
        domain.check_user(principal.sub)
        canonical = domain.check_receipt_keys(keys)
        found = await self._store.receipts(principal.sub, canonical)
        return [(key, found.get(key_c)) for key, key_c in zip(keys, canonical, strict=True)]
