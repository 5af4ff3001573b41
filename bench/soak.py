"""A soak (issue 15 §5): 10^6 progress items and 10^6 attempts through Envoy, with the resident
memory (RSS) of every process of the stack sampled every few seconds. A process whose memory keeps
growing under steady work leaks (a cache without a bound, a list of every request), and on a
device fleet it runs for weeks: growth after warm-up must stay under 10 %.

Both flows run at once, as in production: progress batches of 100 new keys to a few profiles, and
sync batches of 100 attempts from a new user each (a device). Warm-up is the first WARMUP_SHARE of
the work (pools filled, code paths and caches warm); growth compares the last samples with the ones
at the end of warm-up, per process (with its children: Envoy's wrapper and its binary count as one).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import psutil

from bench import progress, sync
from bench.harness import Result
from devstack.stack import Stack

ITEMS = 1_000_000  # of each flow
SAMPLE_SECONDS = 2.0
WARMUP_SHARE = 0.2
LIMIT = 0.10  # growth after warm-up
TAIL = 3  # samples averaged at each end


def _rss(process: psutil.Process) -> int:
    """The process's resident memory and its children's (bytes); 0 once it is gone."""
    try:
        return process.memory_info().rss + sum(
            child.memory_info().rss for child in process.children(recursive=True)
        )
    except psutil.Error:
        return 0


class Sampler:
    """RSS of each of the stack's processes every SAMPLE_SECONDS, with the work done at that time."""

    def __init__(self, stack: Stack) -> None:
        self.processes = {name: psutil.Process(p.pid) for name, p in stack.processes.items()}
        self.series: dict[str, list[float]] = {name: [] for name in self.processes}
        self.times: list[float] = []
        self.done: list[float] = []  # share of the whole work finished at each sample
        self.progress = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        began = time.perf_counter()
        while not stop.is_set():
            self.times.append(time.perf_counter() - began)
            self.done.append(self.progress)
            for name, process in self.processes.items():
                self.series[name].append(_rss(process) / 2**20)
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            except TimeoutError:
                pass

    def growth(self) -> dict[str, float]:
        """Per process: mean of the last TAIL samples over the TAIL samples from the end of warm-up."""
        warm = next((n for n, share in enumerate(self.done) if share >= WARMUP_SHARE), len(self.done) - 1)
        found = {}
        for name, values in self.series.items():
            after = values[warm : warm + TAIL]
            last = values[-TAIL:]
            base = sum(after) / len(after) if after else 0.0
            found[name] = (sum(last) / len(last)) / base - 1 if base else 0.0
        return found


async def run(stack: Stack, items: int = ITEMS) -> tuple[list[Result], dict[str, object]]:
    """The soak's rows (worst process judged; every process shown) and its RSS series."""
    batches = items // progress.BATCH
    sampler = Sampler(stack)
    counts = {"progress": 0, "sync": 0}
    question_ids, _ = await sync._bank(stack, stack.token("bench-admin", roles=["admin"]))
    profiles = [f"soak-{uuid.uuid4().hex[:8]}-{n}" for n in range(64)]
    progress_headers = {
        "Authorization": f"Bearer {stack.token('bench', profiles)}",
        "content-type": "application/json",
    }
    item = (
        '{"idempotency_key":"%d-%d","activity_type":"letter_trace","content_id":"letter-a",'
        '"score":0.5,"timestamp":"2026-01-29T10:00:00Z"}'
    )
    clients = progress.CLIENTS + sync.CLIENTS
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=stack.http_url, limits=limits, timeout=60) as client:

        async def progress_worker() -> None:
            while counts["progress"] < batches:
                batch = counts["progress"]
                counts["progress"] += 1
                items_text = ",".join(item % (batch, n) for n in range(progress.BATCH))
                body = f'{{"profile_id":"{profiles[batch % len(profiles)]}","items":[{items_text}]}}'
                response = await client.post(
                    "/api/v1/progress/batch", content=body.encode(), headers=progress_headers
                )
                response.raise_for_status()
                sampler.progress = sum(counts.values()) / (2 * batches)

        async def sync_worker() -> None:
            while counts["sync"] < batches:
                counts["sync"] += 1
                response = await client.post(
                    "/api/v1/sync/attempts:batch",
                    content=sync._body(question_ids),
                    headers={
                        "Authorization": f"Bearer {stack.token(f'soak-device-{uuid.uuid4().hex[:12]}')}",
                        "content-type": "application/json",
                    },
                )
                response.raise_for_status()
                sampler.progress = sum(counts.values()) / (2 * batches)

        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(stop))
        began = time.perf_counter()
        await asyncio.gather(
            *(progress_worker() for _ in range(progress.CLIENTS)),
            *(sync_worker() for _ in range(sync.CLIENTS)),
        )
        elapsed = time.perf_counter() - began
        await asyncio.sleep(SAMPLE_SECONDS)  # one more sample after the last batch
        stop.set()
        await sampling

    growth = sampler.growth()
    worst = max(growth, key=lambda name: growth[name])
    results = [
        Result(
            f"soak: RSS growth after warm-up, worst process ({worst})",
            f"{growth[worst]:+.1%}",
            f"{LIMIT:.0%} limit",
            LIMIT / max(growth[worst], LIMIT / 10),  # ≥ 1.0 passes; capped at 10 for no growth at all
            1.0,
        ),
        Result(
            f"soak: {2 * batches * progress.BATCH:,} items + attempts through Envoy",
            f"{2 * batches * progress.BATCH / elapsed:,.0f} /s",
            f"{elapsed:,.0f} s",
            1.0,
            None,
        ),
    ] + [
        Result(
            f"soak: RSS of {name} ({sampler.series[name][0]:.0f} → {sampler.series[name][-1]:.0f} MiB)",
            f"{growth[name]:+.1%}",
            "after warm-up",
            1 + growth[name],
            None,
        )
        for name in sampler.series
    ]
    series = {
        "sample_seconds": SAMPLE_SECONDS,
        "warmup_share": WARMUP_SHARE,
        "items_per_flow": batches * progress.BATCH,
        "seconds": sampler.times,
        "done": sampler.done,
        "rss_mib": sampler.series,
        "growth": growth,
    }
    return results, series
