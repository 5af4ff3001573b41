"""BatchHistogram: a batch of observations at once, exposed exactly as prometheus_client's Histogram."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from services.runtime.batch_histogram import BatchHistogram
from services.runtime.interceptors.metrics import REPLAY_AGE_BUCKETS

VALUES = [0.0, 0.5, 1.0, 1.0000001, 10.0, 59.9, 3600.0, 86_400.0, 2_592_000.0, 2_592_000.5, 1e12]


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The samples, without the `_created` line only the stock Histogram writes."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def test_batches_expose_the_same_buckets_count_and_sum_as_one_observe_per_value():
    stock, batched = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("replay_age_seconds", "Age.", buckets=REPLAY_AGE_BUCKETS, registry=stock)
    histogram = BatchHistogram("replay_age_seconds", "Age.", REPLAY_AGE_BUCKETS, batched)
    for value in VALUES:
        reference.observe(value)
    histogram.observe_many(VALUES[:4])
    histogram.observe_many([])
    histogram.observe_many(iter(VALUES[4:]))  # any iterable, e.g. a generator
    assert _exposition(batched) == _exposition(stock)
    assert 'replay_age_seconds_bucket{le="1.0"} 3.0' in _exposition(batched)  # le: bound included
    assert "replay_age_seconds_count 11.0" in _exposition(batched)


def test_a_second_metric_of_the_same_name_is_refused_like_any_other():
    registry = CollectorRegistry()
    BatchHistogram("age_seconds", "Age.", (1, 10), registry)
    try:
        Histogram("age_seconds", "Age.", registry=registry)
    except ValueError as refused:
        assert "Duplicated timeseries" in str(refused)
    else:
        raise AssertionError("a duplicate name was accepted")
