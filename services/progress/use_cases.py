"""The progress use cases: what each RPC does, in domain terms (no gRPC, no SQL)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

from services.progress import domain
from services.progress.domain import ItemResult, ProgressItem, Rollout
from services.progress.metrics import ProgressMetrics
from services.progress.repository import ProgressRepository, StoredRecord
from services.runtime.auth import Principal


def rollout_from_env() -> Rollout:
    """PROGRESS_OFFLINE_ROLLOUT_PERCENT (0–100, default 100), PROGRESS_OFFLINE_ALLOW / _DENY (comma lists)."""

    def ids(name: str) -> frozenset[str]:
        return frozenset(filter(None, (p.strip() for p in os.environ.get(name, "").split(","))))

    return Rollout(
        percent=float(os.environ.get("PROGRESS_OFFLINE_ROLLOUT_PERCENT", "100")),
        allow=ids("PROGRESS_OFFLINE_ALLOW"),
        deny=ids("PROGRESS_OFFLINE_DENY"),
    )


class ProgressUseCases:
    def __init__(self, repository: ProgressRepository, rollout: Rollout, metrics: ProgressMetrics) -> None:
        self._repository = repository
        self._rollout = rollout
        self._metrics = metrics

    async def record_batch(
        self, principal: Principal, profile_id: str, items: Sequence[ProgressItem], retry: int = 0
    ) -> list[ItemResult]:
        results = await domain.record_batch(self._repository, principal, profile_id, items)
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
        found = await self._repository.list_after(profile_id, after, limit + 1)
        records = found[:limit]
        position = domain.encode_cursor(records[-1].seq if records else after)
        return records, position if len(found) > limit else "", position

    async def receipts(
        self, principal: Principal, profile_id: str, keys: Sequence[str]
    ) -> list[tuple[str, str | None]]:
        domain.check_profile(principal, profile_id)
        domain.check_receipt_keys(keys)
        found = await self._repository.server_ids(profile_id, keys)
        return [(key, found.get(key)) for key in keys]

    def offline_progress_enabled(self, principal: Principal, profile_id: str) -> bool:
        domain.check_profile(principal, profile_id)
        return self._rollout.enabled_for(profile_id)
