"""A circuit breaker for an optional dependency (the Redis cache): after a few failures in a row it
opens and callers skip the dependency, instead of each paying a timeout against one that accepts
connections but never answers; a background probe closes it once the dependency answers again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Counter, Gauge

log = logging.getLogger("studysync.breaker")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        probe: Callable[[], Awaitable[object]],
        trips: Counter,
        open_gauge: Gauge,
        threshold: int = 3,
        probe_interval: float = 1.0,
        probe_timeout: float = 0.5,
    ) -> None:
        self.name = name
        self._probe = probe
        self._trips = trips
        self._open_gauge = open_gauge
        self._threshold = threshold
        self._probe_interval = probe_interval
        self._probe_timeout = probe_timeout
        self._failures = 0
        self._prober: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._prober is not None

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self) -> None:
        """One more failure in a row; the `threshold`-th opens the breaker and starts probing."""
        self._failures += 1
        if self._failures >= self._threshold and not self.is_open:
            log.warning(
                "%s failed %d times in a row: skipping it until it answers again", self.name, self._failures
            )
            self._trips.inc()
            self._open_gauge.set(1)
            self._prober = asyncio.get_running_loop().create_task(self._probe_until_healthy())

    async def _probe_until_healthy(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval)
            try:
                await asyncio.wait_for(self._probe(), self._probe_timeout)
            except Exception:  # any failure of the probe means: still unhealthy
                continue
            log.info("%s answers again: using it", self.name)
            self._failures = 0
            self._open_gauge.set(0)
            self._prober = None
            return

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.gather(self._prober, return_exceptions=True)
            self._prober = None
