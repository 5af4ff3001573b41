"""The sync service's Prometheus metrics: attempts by outcome, batch sizes, the cache and replay age."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.runtime.batch_histogram import BatchHistogram
from services.runtime.interceptors.metrics import REPLAY_AGE_BUCKETS


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "studysync_sync_attempts",
            "Attempts by status and rejection reason.",
            ["status", "reason"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "studysync_sync_batch_size",
            "Attempts per batch.",
            buckets=(1, 5, 10, 25, 50, 100),
            registry=registry,
        )
        self.cache = Counter(
            "studysync_sync_cache",
            "Redis idempotency cache: hit, miss, fail_open, skipped (circuit breaker open).",
            ["event"],
            registry=registry,
        )
        self.cache_breaker_trips = Counter(
            "studysync_sync_cache_breaker_trips",
            "Times the Redis circuit breaker opened (Redis skipped until a probe gets an answer).",
            registry=registry,
        )
        self.cache_breaker_open = Gauge(
            "studysync_sync_cache_breaker_open", "1 while Redis is being skipped.", registry=registry
        )
        self.bank_questions = Counter(
            "studysync_sync_bank_questions",
            "Bank question ids a batch needed: cached (kept at the bank's current version) or "
            "fetched (asked of packages).",
            ["event"],
            registry=registry,
        )
        self.session_mappings = Counter(
            "studysync_sync_session_mappings",
            "Offline session ids resolved, by source (cache / database).",
            ["source"],
            registry=registry,
        )
        self.replay_age = BatchHistogram(
            "studysync_sync_replay_age_seconds",
            "received - answered_at of newly stored attempts.",
            REPLAY_AGE_BUCKETS,
            registry,
        )
