"""Progress metrics: items by status, batches, client retries, replay age."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.progress.domain import ItemResult
from services.runtime.batch_histogram import BatchHistogram
from services.runtime.interceptors.metrics import REPLAY_AGE_BUCKETS


class ProgressMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.items = Counter(
            "studysync_progress_items",
            "Progress items received, by status (ok/duplicate/error) and error reason.",
            ["status", "reason"],
            registry=registry,
        )
        self.batches = Counter("studysync_progress_batches", "Progress batches processed.", registry=registry)
        self.batch_size = Histogram(
            "studysync_progress_batch_size",
            "Items per progress batch.",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500),
            registry=registry,
        )
        self.client_retries = Counter(
            "studysync_progress_client_retries",
            "Batches that clients re-sent (header x-client-retry > 0), by retry number (capped at 10).",
            ["retry"],
            registry=registry,
        )
        self.replay_age = BatchHistogram(
            "studysync_progress_replay_age_seconds",
            "server_received_at - timestamp of newly stored items: how long items waited offline.",
            REPLAY_AGE_BUCKETS,
            registry,
        )

    def observe_batch(self, results: Sequence[ItemResult], retry: int, received_at: datetime) -> None:
        self.batches.inc()
        self.batch_size.observe(len(results))
        for (status, reason), count in collections.Counter(
            (r.status, r.error_code or "") for r in results
        ).items():
            self.items.labels(status, reason).inc(count)
        if retry > 0:
            self.client_retries.labels(str(min(retry, 10))).inc()
        self.replay_age.observe_many(
            max(0.0, (received_at - result.occurred_at).total_seconds())
            for result in results
            if result.occurred_at is not None
        )
