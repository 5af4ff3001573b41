"""A Prometheus histogram that takes a whole batch of observations in one call.

prometheus_client's Histogram takes a lock and scans its buckets in Python for every value: about
1 µs each, a hundred times per 100-item batch. This one bisects each value (C) and takes its lock
once per batch. It is exposed as a standard histogram (`_bucket`, `_count`, `_sum`), so dashboards
cannot tell the difference.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class BatchHistogram:
    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = sorted(float(b) for b in buckets)  # +Inf is the slot after the last bound
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()  # the metrics endpoint collects from its own thread
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        """Each value counts in the first bucket whose upper bound is ≥ it (Prometheus' `le`)."""
        slots = [0] * len(self._counts)
        total = 0.0
        for value in values:
            slots[bisect.bisect_left(self._bounds, value)] += 1
            total += value
        with self._lock:
            for slot, count in enumerate(slots):
                if count:
                    self._counts[slot] += count
            self._sum += total

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, count in zip([*self._bounds, math.inf], counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))  # as Histogram writes `le`
        yield HistogramMetricFamily(self._name, self._documentation, buckets=buckets, sum_value=total)

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self._name, self._documentation)
