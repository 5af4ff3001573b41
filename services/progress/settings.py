"""The progress service's own settings (the shared ones are in services.runtime.settings)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.progress.domain import Rollout


def _ids(name: str) -> frozenset[str]:
    return frozenset(filter(None, (p.strip() for p in os.environ.get(name, "").split(","))))


@dataclass(frozen=True)
class ProgressSettings:
    offline_rollout: Rollout  # who gets the `offline_progress` flag

    @classmethod
    def from_env(cls) -> ProgressSettings:
        """PROGRESS_OFFLINE_ROLLOUT_PERCENT (0–100, default 100), PROGRESS_OFFLINE_ALLOW / _DENY (comma lists)."""
        return cls(
            offline_rollout=Rollout(
                percent=float(os.environ.get("PROGRESS_OFFLINE_ROLLOUT_PERCENT", "100")),
                allow=_ids("PROGRESS_OFFLINE_ALLOW"),
                deny=_ids("PROGRESS_OFFLINE_DENY"),
            )
        )
