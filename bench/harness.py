"""Timing loops and the report the cases share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# wrk runs start with this many unmeasured seconds: first connections, prepared statements and
# script loads are start-up costs, not throughput.
WARMUP_SECONDS = 2.0


@dataclass(frozen=True)
class Rate:
    units: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.units / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


async def measure(
    workers: int, seconds: float, step: Callable[[int, int], Awaitable[int]], warmup: float = 1.0
) -> Rate:
    """Runs `step(worker, iteration) -> units done` in `workers` concurrent loops; counts after warm-up."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    counting_from = start + warmup
    stop_at = counting_from + seconds
    units = 0
    latencies: list[float] = []

    async def worker(number: int) -> None:
        nonlocal units
        iteration = 0
        while loop.time() < stop_at:
            began = time.perf_counter()
            done = await step(number, iteration)
            iteration += 1
            if loop.time() >= counting_from:
                units += done
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(n) for n in range(workers)))
    return Rate(units, seconds, latencies)


@dataclass(frozen=True)
class Alternated:
    """A case measured in rounds between measurements of its ceiling: ceiling, case, ceiling, …,
    case, ceiling. The machine's speed drifts over minutes (other tenants, autovacuum, caches), so
    each round is judged against the ceilings right before and after it, and the case by the
    median round: one disturbed phase moves the ratio little."""

    ceilings: list[float]  # one more than the rounds
    rates: list[float]
    p99s: list[float]

    def _median_round(self) -> int:
        ratios = self.ratios
        return sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]

    @property
    def ratios(self) -> list[float]:
        return [rate / ((self.ceilings[n] + self.ceilings[n + 1]) / 2) for n, rate in enumerate(self.rates)]

    @property
    def ratio(self) -> float:
        return self.ratios[self._median_round()]

    @property
    def rate(self) -> float:
        return self.rates[self._median_round()]

    @property
    def p99(self) -> float:
        return self.p99s[self._median_round()]

    @property
    def ceiling(self) -> float:
        """The median round's ceiling (the mean of its two sides)."""
        n = self._median_round()
        return (self.ceilings[n] + self.ceilings[n + 1]) / 2

    def ceilings_text(self) -> str:
        return "|".join(f"{c:,.0f}" for c in self.ceilings)


async def alternate(
    ceiling: Callable[[], Awaitable[float]],
    case: Callable[[], Awaitable[tuple[float, float]]],
    rounds: int,
) -> Alternated:
    """`case` answers (rate, p99); `ceiling` a rate of the same unit."""
    ceilings, rates, p99s = [await ceiling()], [], []
    for _ in range(rounds):
        rate, p99 = await case()
        rates.append(rate)
        p99s.append(p99)
        ceilings.append(await ceiling())
    return Alternated(ceilings, rates, p99s)


@dataclass(frozen=True)
class Result:
    case: str
    measured: str
    ceiling: str
    ratio: float
    target: float | None  # None: shown for context, no target

    @property
    def ok(self) -> bool:
        return self.target is None or self.ratio >= self.target


def report(results: list[Result]) -> bool:
    print(f"\n{'case':44s} {'measured':>22s} {'ceiling':>22s} {'ratio':>7s} {'target':>7s}")
    for r in results:
        verdict = "info" if r.target is None else "PASS" if r.ok else "FALL SHORT"
        target = "-" if r.target is None else f"≥{r.target}"
        print(f"{r.case:44s} {r.measured:>22s} {r.ceiling:>22s} {r.ratio:7.2f} {target:>7s}  {verdict}")
    return all(r.ok for r in results)
