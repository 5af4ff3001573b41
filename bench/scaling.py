"""Cost as the work grows (issue 15 §5): batch throughput and p99 of progress and sync through Envoy
with 0, 10^6 and 10^7 rows already stored, and the read-back page latency at the start, middle and
end of one deep history. Cost must stay flat: every statement is an index probe by owner and key, or
an index range by owner and seq, so no request should grow with the table or with its owner's history.

The history is spread over OWNERS profiles (progress) and users (sync), plus one hot owner holding
HOT_ROWS of its own. It is bulk-loaded with COPY (asyncpg's binary copy_records_to_table) straight
into the services' tables, in their schemas, keeping what the services rely on: progress's per-profile
`seq` continues from its head row and the head is moved past the loaded rows; sync's attempts sit in
sessions of up to 100 attempts with their counting answers (the latest attempt of each question), as
the service stores them. Then VACUUM ANALYZE, as autovacuum would do after such a load (done here, so
it does not run in the middle of a measurement).

Writes go to a mix: one batch in every CLIENTS (8 for progress, 32 for sync, as their own cases) goes
to the hot owner, the others to owners drawn at random from the history; wrk sends them, so the load
generator takes little of the cores it measures. Each size is measured after loading up to it, so the table grows between points.
The case runs last: its tables also hold what the run's earlier cases wrote (a few 10^5 rows at
"0"), which each point's `table_rows` records.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import httpx

from bench import progress, sync, wrk
from bench.harness import WARMUP_SECONDS, Rate, Result, measure
from devstack.stack import Stack
from services.progress.domain import encode_cursor

DEFAULT_SCALE = 10_000_000
OWNERS = 10_000
HOT_ROWS = 100_000
PAGE_SIZE = 500  # what the web client asks for (clients/web/src/api.ts listProgress)
PAGE_SAMPLES = 40  # sequential reads per position
CHUNK = 100_000  # rows per COPY: bounded memory, whatever the size
QUESTIONS_PER_SESSION = 50  # as bench.sync's bodies: 100 attempts over 50 questions
SESSION_ATTEMPTS = 100
WHEN = datetime(2026, 1, 28, 10, 0, tzinfo=UTC)
FINGERPRINT = "0" * 64


async def settle_writes(conn: asyncpg.Connection) -> None:
    """CHECKPOINT after a load: writing a few GB of loaded rows out otherwise lands, as a checkpoint
    PostgreSQL starts on its own, in the middle of the next measurement (a 10^7 point once read p99
    350 ms against 54 ms at 0 for that reason alone). The bench's role is a superuser's."""
    await conn.execute("CHECKPOINT")


@dataclass(frozen=True)
class Shape:
    """How big the history gets: the stored rows at each measured point, over how many owners."""

    sizes: tuple[int, ...]
    owners: int = OWNERS
    hot_rows: int = HOT_ROWS
    page_samples: int = PAGE_SAMPLES

    @classmethod
    def for_scale(cls, scale: int) -> Shape:
        """0, 10^6 and `scale` (10^7 by the issue; smaller when asked), in order."""
        return cls(tuple(sorted({0, min(1_000_000, scale), scale})))

    @classmethod
    def quick(cls) -> Shape:
        """A tiny history: proves the case works in seconds (QUICK=1, CI), numbers not judged."""
        return cls((0, 20_000), owners=100, hot_rows=2_000, page_samples=5)

    def per_owner(self, size: int) -> int:
        """Rows of each ordinary owner at `size`: what is left after the hot owner's, spread evenly."""
        return max(0, size - self.hot_rows) // self.owners


@dataclass
class Point:
    rows: int
    load_seconds: float = 0.0
    progress: dict[str, float] = field(default_factory=dict)
    sync: dict[str, float] = field(default_factory=dict)
    pages: dict[str, dict[str, float]] = field(default_factory=dict)
    # What the tables held when measured (PostgreSQL's estimate after ANALYZE): the loaded history
    # plus what earlier cases of the run and earlier points wrote.
    table_rows: dict[str, int] = field(default_factory=dict)


def _uuid_texts() -> Iterator[str]:
    """Distinct UUID texts, cheaper than uuid4() per row (10^7 of them)."""
    prefix = str(uuid.uuid4())[:23]
    counter = 0
    while True:
        counter += 1
        yield f"{prefix}-{counter:012x}"


class Progress:
    """The progress history: OWNERS profiles + one hot profile, loaded up to each size in turn."""

    def __init__(self, conn: asyncpg.Connection, shape: Shape, run: str) -> None:
        self.conn, self.shape = conn, shape
        self.hot = f"hot-{run}"
        self.owners = [f"p-{run}-{n}" for n in range(shape.owners)]
        self.loaded: dict[str, int] = {}  # rows loaded so far, per profile

    async def grow(self, size: int) -> None:
        wanted = {self.hot: min(self.shape.hot_rows, size)} | dict.fromkeys(
            self.owners, self.shape.per_owner(size)
        )
        heads = dict(
            await self.conn.fetch(
                "SELECT profile_id, last_seq FROM progress_heads WHERE profile_id = ANY($1::varchar[])",
                list(wanted),
            )
        )
        ids, stage = _uuid_texts(), uuid.uuid4().hex[:6]
        chunk: list[tuple[object, ...]] = []
        new_heads: dict[str, int] = {}
        for profile, rows in wanted.items():
            adding, head = rows - self.loaded.get(profile, 0), heads.get(profile, 0)
            for seq in range(head + 1, head + adding + 1):
                chunk.append(
                    (profile, f"h{stage}-{seq}", seq, next(ids), FINGERPRINT, "letter_trace", "letter-a")
                    + (0.5, None, None, WHEN, WHEN)
                )
                if len(chunk) >= CHUNK:
                    await self._copy(chunk)
            if adding > 0:
                new_heads[profile], self.loaded[profile] = head + adding, rows
        await self._copy(chunk)
        # The head is the next batch's base: it must sit past every loaded seq (a unique index).
        await self.conn.execute(
            "INSERT INTO progress_heads (profile_id, last_seq) SELECT * FROM unnest($1::varchar[], $2::int8[])"
            " ON CONFLICT (profile_id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
            list(new_heads),
            list(new_heads.values()),
        )
        for table in ("progress_items", "progress_heads"):
            await self.conn.execute(f"VACUUM ANALYZE {table}")
        await settle_writes(self.conn)

    async def _copy(self, chunk: list[tuple[object, ...]]) -> None:
        if chunk:
            await self.conn.copy_records_to_table(
                "progress_items",
                records=chunk,
                columns=[
                    "profile_id",
                    "idempotency_key",
                    "seq",
                    "server_id",
                    "fingerprint",
                    "activity_type",
                    "content_id",
                    "score",
                    "duration_seconds",
                    "meta_data",
                    "occurred_at",
                    "server_received_at",
                ],
            )
            chunk.clear()

    async def head(self) -> int:
        return int(
            await self.conn.fetchval("SELECT last_seq FROM progress_heads WHERE profile_id = $1", self.hot)
            or 0
        )


class Sync:
    """The sync history: OWNERS users + one hot user, attempts in sessions with their answers."""

    def __init__(self, conn: asyncpg.Connection, shape: Shape, run: str) -> None:
        self.conn, self.shape = conn, shape
        self.hot = f"hot-{run}"
        self.owners = [f"u-{run}-{n}" for n in range(shape.owners)]
        self.loaded: dict[str, int] = {}

    async def grow(self, size: int) -> None:
        wanted = {self.hot: min(self.shape.hot_rows, size)} | dict.fromkeys(
            self.owners, self.shape.per_owner(size)
        )
        ids, stage = _uuid_texts(), uuid.uuid4().hex[:6]
        sessions: list[tuple[object, ...]] = []
        attempts: list[tuple[object, ...]] = []
        answers: list[tuple[object, ...]] = []
        for user, rows in wanted.items():
            adding = rows - self.loaded.get(user, 0)
            for first in range(0, adding, SESSION_ATTEMPTS):
                session = next(ids)
                sessions.append(
                    (user, session, next(ids), "ACTIVE", "TUTOR", None, sync.BLOCK, None, WHEN, WHEN)
                )
                latest: dict[str, tuple[object, ...]] = {}
                for n in range(first, min(first + SESSION_ATTEMPTS, adding)):
                    key, attempt_id = f"h{stage}-{n}", next(ids)
                    question = f"00000000-0000-4000-8000-{n % QUESTIONS_PER_SESSION:012x}"
                    attempts.append(
                        (user, key, attempt_id, session, attempt_id, question, 0, "2026-01-28T10:00:00Z")
                        + (WHEN, FINGERPRINT, FINGERPRINT, None, True, WHEN)
                    )
                    latest[question] = (user, session, question, attempt_id, key, 0, True, WHEN)
                answers.extend(row + ("2026-01-28T10:00:00Z", WHEN) for row in latest.values())
                if len(attempts) >= CHUNK:
                    await self._copy(sessions, attempts, answers)
            self.loaded[user] = rows
        await self._copy(sessions, attempts, answers)
        for table in ("sessions", "attempts", "session_answers"):
            await self.conn.execute(f"VACUUM ANALYZE {table}")
        await settle_writes(self.conn)

    async def _copy(self, *tables: list[tuple[object, ...]]) -> None:
        for name, rows in zip(("sessions", "attempts", "session_answers"), tables, strict=True):
            if rows:
                await self.conn.copy_records_to_table(name, records=rows)
                rows.clear()


async def curve(
    stack: Stack, dsn: str, schemas: dict[str, str], shape: Shape, seconds: float
) -> tuple[list[Point], list[Result]]:
    """Every point of the curve, and the rows that judge it (the largest size against 0)."""
    run_id = uuid.uuid4().hex[:6]
    progress_conn = await asyncpg.connect(dsn, server_settings={"search_path": schemas["progress"]})
    sync_conn = await asyncpg.connect(dsn, server_settings={"search_path": schemas["sync"]})
    history = Progress(progress_conn, shape, run_id), Sync(sync_conn, shape, run_id)
    question_ids, _ = await sync._bank(stack, stack.token("bench-admin", roles=["admin"]))
    points = []
    try:
        for size in shape.sizes:
            began = time.perf_counter()
            await asyncio.gather(*(part.grow(size) for part in history))  # one connection each: both cores
            point = Point(size, time.perf_counter() - began)
            point.table_rows = {
                "progress_items": await _estimate(progress_conn, "progress_items"),
                "attempts": await _estimate(sync_conn, "attempts"),
            }
            print(f"scaling: {size:,} rows stored (loaded in {point.load_seconds:.0f} s)", flush=True)
            if not points:  # first connections and prepared statements are start-up, not history
                await _progress_writes(stack, history[0], WARMUP_SECONDS)
                await _sync_writes(stack, history[1], question_ids, WARMUP_SECONDS)
            point.progress = await _progress_writes(stack, history[0], seconds)
            point.sync = await _sync_writes(stack, history[1], question_ids, seconds)
            point.pages = await _pages(stack, history[0], shape.page_samples)
            points.append(point)
    finally:
        await progress_conn.close()
        await sync_conn.close()
    return points, _judge(points, shape)


async def _estimate(conn: asyncpg.Connection, table: str) -> int:
    """The table's row count as the planner knows it (exact enough after VACUUM ANALYZE, and free)."""
    return int(await conn.fetchval("SELECT reltuples::int8 FROM pg_class WHERE oid = $1::regclass", table))


def _owner(n: int, history: Progress | Sync, pick: random.Random, clients: int) -> str:
    """One request in `clients` (as if one client) goes to the hot owner; the rest to any owner."""
    return history.hot if n % clients == 0 else pick.choice(history.owners)


def _send_wrk(
    stack: Stack, path: str, bodies: list[tuple[bytes, str]], clients: int, seconds: float
) -> dict[str, float]:
    """Items/s and p99 from wrk (C: the load costs little of the cores it measures)."""
    result = wrk.post_prepared(
        stack.http_url, path, [body for body, _ in bodies], [token for _, token in bodies], seconds, clients
    )
    assert result.bad_responses == 0, result
    return {"per_second": result.requests_per_second * progress.BATCH, "p99_ms": result.p99_seconds * 1000}


async def _send(
    stack: Stack, path: str, bodies: list[tuple[bytes, str]], clients: int, seconds: float
) -> dict[str, float]:
    """Each prepared (body, token) once, from `clients` connections: wrk when installed, else httpx
    (which takes CPU from the stack it measures: the ratios between points still hold)."""
    if wrk.available():
        return _send_wrk(stack, path, bodies, clients, seconds)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=stack.http_url, limits=limits, timeout=60) as client:

        async def step(worker: int, iteration: int) -> int:
            body, token = bodies.pop()
            headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
            (await client.post(path, content=body, headers=headers)).raise_for_status()
            return progress.BATCH

        rate = await measure(clients, seconds, step)
    return {"per_second": rate.per_second, "p99_ms": rate.percentile(0.99) * 1000}


async def _progress_writes(stack: Stack, history: Progress, seconds: float) -> dict[str, float]:
    """100 new keys per batch, each batch to its owner; bodies and tokens made before the clock."""
    pick, stage = random.Random(), uuid.uuid4().hex[:6]
    tokens: dict[str, str] = {}
    item = (
        '{"idempotency_key":"s%s-%d-%d","activity_type":"letter_trace","content_id":"letter-a",'
        '"score":0.5,"timestamp":"2026-01-29T10:00:00Z"}'
    )
    bodies = []
    for n in range(int(seconds * 600) + 200):  # more than the stack takes in `seconds`: each used once
        profile = _owner(n, history, pick, progress.CLIENTS)
        if profile not in tokens:
            tokens[profile] = stack.token("bench", [profile])
        items = ",".join(item % (stage, n, k) for k in range(progress.BATCH))
        bodies.append((f'{{"profile_id":"{profile}","items":[{items}]}}'.encode(), tokens[profile]))
    return await _send(stack, "/api/v1/progress/batch", bodies, progress.CLIENTS, seconds)


async def _sync_writes(
    stack: Stack, history: Sync, question_ids: list[str], seconds: float
) -> dict[str, float]:
    """100 new attempts in a new offline session per batch, as bench.sync sends them."""
    pick = random.Random()
    tokens: dict[str, str] = {}
    bodies = []
    for n in range(int(seconds * 300) + 200):
        user = _owner(n, history, pick, sync.CLIENTS)
        if user not in tokens:
            tokens[user] = stack.token(user)
        bodies.append((sync._body(question_ids), tokens[user]))
    return await _send(stack, "/api/v1/sync/attempts:batch", bodies, sync.CLIENTS, seconds)


async def _pages(stack: Stack, history: Progress, samples: int) -> dict[str, dict[str, float]]:
    """p50/p99 of one page of the hot profile's read-back, resumed at its start, middle and end."""
    head = await history.head()
    positions = {"start": 0, "middle": head // 2, "end": max(0, head - PAGE_SIZE)}
    headers = {"Authorization": f"Bearer {stack.token('bench', [history.hot])}"}
    found = {}
    async with httpx.AsyncClient(base_url=stack.http_url, headers=headers, timeout=60) as client:
        for name, after in positions.items():
            params = {"profile_id": history.hot, "page_size": str(PAGE_SIZE)}
            if after:
                params["resume_token"] = encode_cursor(after)
            latencies = []
            for _ in range(samples + 1):  # the first read warms the connection and caches
                began = time.perf_counter()
                response = await client.get("/api/v1/progress", params=params)
                response.raise_for_status()
                latencies.append(time.perf_counter() - began)
            rate = Rate(samples, 1.0, latencies[1:])
            found[name] = {
                "after_seq": after,
                "p50_ms": rate.percentile(0.5) * 1000,
                "p99_ms": rate.percentile(0.99) * 1000,
            }
    return found


def _judge(points: list[Point], shape: Shape) -> list[Result]:
    """Throughput at the largest size against 0 rows (target 0.8: flat, within noise), and the
    deep history's last page against its first (info: 40 sequential reads on a shared machine)."""
    empty, full = points[0], points[-1]
    rows = f"{full.rows:.0e}".replace("+0", "")
    results = []
    for service, unit in (("progress", "items/s"), ("sync", "attempts/s")):
        then, now = getattr(empty, service), getattr(full, service)
        results.append(
            Result(
                f"{service} via Envoy with {rows} rows stored vs 0",
                f"{now['per_second']:,.0f} {unit}, p99 {now['p99_ms']:.0f} ms",
                f"{then['per_second']:,.0f}, p99 {then['p99_ms']:.0f} ms at 0",
                now["per_second"] / then["per_second"] if then["per_second"] else 0.0,
                0.8,
            )
        )
    start, middle, end = (full.pages[k]["p99_ms"] for k in ("start", "middle", "end"))
    results.append(
        Result(
            f"progress page of {PAGE_SIZE} at the end of a deep history vs its start (p99)",
            f"{end:,.1f} ms (middle {middle:,.1f})",
            f"{start:,.1f} ms at the start",
            start / end if end else 0.0,
            None,
        )
    )
    return results


def curve_json(points: list[Point], shape: Shape) -> dict[str, object]:
    """The curve as the results file stores it (bench.results plots it)."""
    return {
        "owners": shape.owners,
        "hot_rows": shape.hot_rows,
        "page_size": PAGE_SIZE,
        "points": [
            {
                "rows": p.rows,
                "table_rows": p.table_rows,
                "load_seconds": p.load_seconds,
                "progress": p.progress,
                "sync": p.sync,
                "pages": p.pages,
            }
            for p in points
        ],
    }
