"""Packages metrics: package downloads (full or not modified) and generate outcomes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class PackagesMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.downloads = Counter(
            "studysync_package_downloads",
            "Package GETs by HTTP result (200 full, 304 not modified).",
            ["result"],
            registry=registry,
        )
        self.generated = Counter(
            "studysync_package_generate",
            "Generate calls by outcome (created / unchanged).",
            ["outcome"],
            registry=registry,
        )
        self.bank_version = Counter(
            "studysync_packages_bank_version",
            "The bank version in Redis: published, publish_failed (retried in the background), "
            "write_refused (Redis unreachable before a bank write: 503), repaired (raised to the "
            "database's by the repair loop).",
            ["event"],
            registry=registry,
        )
