"""The progress use cases: what each RPC does, in domain terms (no gRPC, no SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.progress import domain
from services.progress.domain import ItemResult, ProgressItem, Rollout, StoredRecord
from services.progress.metrics import ProgressMetrics
from services.progress.store import ProgressStore
from services.runtime.auth import Principal
from services.runtime.errors import DomainError


class ProgressUseCases:
    def __init__(self, store: ProgressStore, rollout: Rollout, metrics: ProgressMetrics) -> None:
        self._store = store
        self._rollout = rollout
        self._metrics = metrics

    async def record_batch(
        self, principal: Principal, profile_id: str, items: Sequence[ProgressItem], retry: int = 0
    ) -> list[ItemResult]:
        """One result per item, in request order. A key repeated inside the batch behaves as if the
        copies came in separate batches, in order: the first decides, the later ones compare to it.
        `retry`: how many times the client sent this batch before (for the metrics)."""
        domain.check_batch(principal, profile_id, len(items))
        checked = domain.check_items(items, datetime.now(UTC))
        first = domain.first_of_each_key(checked)
        stored = await self._store.record(profile_id, first) if first else {}

        results: list[ItemResult] = []
        answered: set[str] = set()
        for item, outcome in zip(items, checked, strict=True):
            if isinstance(outcome, DomainError):
                results.append(domain.error_result(item.idempotency_key, outcome))
                continue
            row, is_new = stored[outcome.idempotency_key]
            results.append(domain.stored_result(outcome, row, is_new, outcome.idempotency_key in answered))
            answered.add(outcome.idempotency_key)
        self._metrics.observe_batch(results, retry, datetime.now(UTC))
        return results

    async def list_progress(
        self, principal: Principal, profile_id: str, page_size: int, page_token: str, resume_token: str = ""
    ) -> tuple[list[StoredRecord], str, str]:
        """A page in server order, the next page's token (empty on the last page, AIP-158) and the
        resume token (always set) for later calls that want only what is new."""
        domain.check_profile(principal, profile_id)
        if page_token and resume_token:
            raise domain.InvalidField("resume_token", "set page_token or resume_token, not both")
        after = (
            domain.decode_cursor(page_token)
            if page_token
            else domain.decode_cursor(resume_token, "resume_token")
        )
        limit = domain.page_size(page_size)
        found = await self._store.list_after(profile_id, after, limit + 1)
        records = found[:limit]
        position = domain.encode_cursor(records[-1].seq if records else after)
        return records, position if len(found) > limit else "", position

    async def receipts(
        self, principal: Principal, profile_id: str, keys: Sequence[str]
    ) -> list[tuple[str, str | None]]:
        domain.check_profile(principal, profile_id)
        domain.check_receipt_keys(keys)
        found = await self._store.server_ids(profile_id, keys)
        return [(key, found.get(key)) for key in keys]

    def offline_progress_enabled(self, principal: Principal, profile_id: str) -> bool:
        domain.check_profile(principal, profile_id)
        return self._rollout.enabled_for(profile_id)
