"""The sync service's own settings (the shared ones are in services.runtime.settings)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class SyncSettings:
    packages_address: str  # where the packages service answers gRPC: host:port or a gRPC target

    @classmethod
    def from_env(cls) -> SyncSettings:
        return cls(packages_address=os.environ.get("PACKAGES_ADDR", "127.0.0.1:50052"))
