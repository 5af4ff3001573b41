"""`make bench`: start the stack on PostgreSQL (+ Redis), run each case, print ratios vs ceilings."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable
from pathlib import Path

from bench import ceilings, harness, packages, progress, resend, results, scaling, soak, sync
from devstack.registry import SPECS
from devstack.stack import Stack

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/14"
DSN = "postgresql://postgres@127.0.0.1:5432/test"
CASES = ("progress", "sync", "packages", "resend", "scaling")
ON_REQUEST = ("soak",)  # long: only when named (`make soak-bench`), never in .ci/run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per side (default 5)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="write cases: rounds, each between two measurements of the storage ceiling; the median "
        "round is judged (default 3)",
    )
    parser.add_argument(
        "--replicas", type=int, default=2, help="processes per service behind Envoy (default 2: one per core)"
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated cases to run (default all: {','.join(CASES)}; also {','.join(ON_REQUEST)}); "
        "a quick run: --cases resend",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=scaling.DEFAULT_SCALE,
        help=f"scaling: rows stored at its last point (default {scaling.DEFAULT_SCALE:.0e}; "
        "points at 0, 10^6 and this)",
    )
    parser.add_argument(
        "--soak-items",
        type=float,
        default=soak.ITEMS,
        help=f"soak: progress items and attempts each (default {soak.ITEMS:.0e})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every case briefly (1 s per side, 1 process per service): proves the harness works; "
        "its numbers are not judged and go to bench/results/quick/",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.replicas, args.rounds = 1.0, 1, 1
    cases = set(args.cases.split(","))
    if not cases <= set(CASES + ON_REQUEST):
        parser.error(f"--cases: choose from {','.join(CASES + ON_REQUEST)}")
    shape = scaling.Shape.quick() if args.quick else scaling.Shape.for_scale(int(args.scale))
    run_id = uuid.uuid4().hex[:6]
    env = {"REDIS_URL": REDIS, "STUDYSYNC_RATE_LIMIT_TOKENS": "1000000"}
    for spec in SPECS:
        env[f"{spec.name.upper()}_DATABASE_URL"] = POSTGRES
        env[f"{spec.name.upper()}_DB_SCHEMA"] = f"bench_{run_id}_{spec.name}"
    state = Path(tempfile.mkdtemp(prefix="studysync-bench-"))
    replicas = {name: args.replicas for name in ("progress", "packages", "sync")}
    stack = Stack.on_free_ports(
        state, env=env, log_dir=state / "logs", gateway={"rate_limit_tokens": 1_000_000}, replicas=replicas
    )
    stack.start()
    try:
        found: list[harness.Result] = []
        curves: dict[str, object] = {}
        if cases & {"progress", "sync"}:
            ceiling = asyncio.run(progress.raw_asyncpg_rate(DSN, f"bench_{run_id}_raw", args.seconds))

        def storage_progress() -> Awaitable[float]:
            return ceilings.progress_rate(POSTGRES, DSN, f"bench_{run_id}_ceiling_progress", args.seconds)

        def storage_sync() -> Awaitable[float]:
            return ceilings.sync_rate(POSTGRES, DSN, f"bench_{run_id}_ceiling_sync", args.seconds)

        for case in CASES + ON_REQUEST:
            if case not in cases:
                continue
            asyncio.run(_settle())
            if case == "progress":
                found += asyncio.run(
                    progress.run(stack, ceiling, storage_progress, args.seconds, args.rounds)
                )
            elif case == "sync":
                found += asyncio.run(sync.run(stack, ceiling, storage_sync, args.seconds, args.rounds))
            elif case == "packages":
                found += asyncio.run(packages.run(stack, args.seconds))
            elif case == "resend":
                found += asyncio.run(_resend(run_id, stack, args.seconds))
            elif case == "scaling":
                schemas = {name: f"bench_{run_id}_{name}" for name in ("progress", "sync")}
                points, rows = asyncio.run(scaling.curve(stack, DSN, schemas, shape, args.seconds))
                found += rows
                curves["scaling"] = scaling.curve_json(points, shape)
            else:
                rows, curves["soak"] = asyncio.run(soak.run(stack, int(args.soak_items)))
                found += rows
    finally:
        stack.stop()
        extra = ("raw", "ceiling_progress", "ceiling_sync")
        asyncio.run(_drop([f"bench_{run_id}_{name}" for name in [s.name for s in SPECS] + list(extra)]))
        asyncio.run(_forget(f"sync:bench_{run_id}_*"))
        asyncio.run(_forget(f"packages:{{bench_{run_id}_packages}}:*"))  # the bank version
    met = harness.report(found)
    folder = results.RESULTS / "quick" if args.quick else results.RESULTS
    settings: dict[str, object] = {
        "seconds": args.seconds,
        "replicas": args.replicas,
        "rounds": args.rounds,
        "cases": sorted(cases),
    }
    if "scaling" in cases:
        settings["scale"] = max(shape.sizes)
    saved = results.save(found, folder, settings, curves)
    print(f"\nresults: {saved}\nplot:    {results.plot(found, saved.with_suffix('.png'), curves)}")
    results.print_changes(saved, results.earlier_rows(folder, saved))
    return 0 if met or args.quick else 1


async def _resend(run_id: str, stack: Stack, seconds: float) -> list[harness.Result]:
    progress_schema, sync_schema = f"bench_{run_id}_progress", f"bench_{run_id}_sync"
    return [
        await resend.progress_case(stack, DSN, progress_schema, seconds),
        await resend.sync_case(stack, DSN, sync_schema, REDIS, seconds),
    ]


async def _settle(limit_seconds: float = 60.0) -> None:
    """Waits for PostgreSQL's autovacuum workers to finish: after a write-heavy case they take CPU
    from the next case (the 304 case read 0.64 right after sync, 0.92-0.96 on its own)."""
    import asyncpg

    conn = await asyncpg.connect(DSN)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_seconds
    query = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
    while loop.time() < deadline:
        if not await conn.fetchval(query):
            break
        await asyncio.sleep(0.5)
    await conn.close()


async def _drop(schemas: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(DSN)
    for schema in schemas:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


async def _forget(pattern: str) -> None:
    """The run's cache keys (sync namespaces them by schema); a run leaves ~10^5 with a 7-day TTL."""
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS)
    batch = []
    async for key in redis.scan_iter(match=pattern, count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            await redis.unlink(*batch)
            batch.clear()
    if batch:
        await redis.unlink(*batch)
    await redis.aclose()


if __name__ == "__main__":
    sys.exit(main())
