"""The services the stack runs, in start order (packages before sync, which calls it)."""

from __future__ import annotations

from services.packages.wiring import SPEC as PACKAGES
from services.progress.wiring import SPEC as PROGRESS
from services.runtime.server import ServiceSpec
from services.sync.wiring import SPEC as SYNC

SPECS: tuple[ServiceSpec, ...] = (PROGRESS, PACKAGES, SYNC)
