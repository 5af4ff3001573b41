"""Sync's Redis cache (services.sync.cache) against the real Redis: a user's entries in one hash."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis
from prometheus_client import CollectorRegistry, Counter

from services.runtime.cache import create_redis
from services.sync import cache as sync_cache
from services.sync.cache import SyncCache
from services.sync.domain import Stored
from tests.conftest import REDIS_URL


def stored(n: int) -> Stored:
    return Stored(str(uuid.uuid4()), str(uuid.uuid4()), f"{n:064x}", True)


@pytest.fixture
async def cache() -> AsyncIterator[tuple[SyncCache, redis.Redis, str]]:
    """A cache under a namespace of this test's own; its keys removed after."""
    namespace = f"t_{uuid.uuid4().hex[:8]}"
    client = create_redis(REDIS_URL)
    events = Counter("sync_cache", "test", ["event"], registry=CollectorRegistry())
    reader = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield SyncCache(client, namespace, events), reader, namespace
    for name in reader.scan_iter(f"sync:{namespace}:*"):
        reader.delete(name)
    reader.close()
    assert client is not None
    await client.aclose()


async def test_what_is_remembered_is_found_for_that_user_only(cache) -> None:
    sync, reader, namespace = cache
    results = {f"key-{n}": stored(n) for n in range(100)}
    offline = str(uuid.uuid4())
    await sync.remember("ana", results, {offline: "session-1"})
    found, sessions, _ = await sync.lookup("ana", [*results, "never-sent"], [offline, "other"])
    assert found == {
        k: Stored(s.server_attempt_id, s.session_id, s.fingerprint, False) for k, s in results.items()
    }
    assert sessions == {offline: "session-1"}
    assert await sync.lookup("bob", list(results), [offline]) == ({}, {}, None)
    # one hash per user, in the user's own Cluster slot, living a week after the last write
    [entries] = reader.scan_iter(f"sync:{namespace}:*{{ana}}*")
    assert entries == f"sync:{namespace}:{{ana}}"
    assert reader.hlen(entries) == 101
    assert 0 < reader.ttl(entries) <= sync_cache.TTL_SECONDS


async def test_a_key_that_looks_like_a_session_field_is_still_only_a_key(cache) -> None:
    sync, _, _ = cache
    await sync.remember("ana", {"o:x": stored(1)}, {"x": "session-1"})
    found, sessions, _ = await sync.lookup("ana", ["o:x", "x"], ["x", "o:x"])
    assert list(found) == ["o:x"] and sessions == {"x": "session-1"}


async def test_a_hash_grown_past_its_bound_starts_over(cache, monkeypatch) -> None:
    sync, reader, namespace = cache
    monkeypatch.setattr(sync_cache, "MAX_ENTRIES", 250)
    entries = f"sync:{namespace}:{{ana}}"
    batches = [{f"b{b}-{n}": stored(n) for n in range(100)} for b in range(3)]
    await sync.remember("ana", batches[0], {})
    await sync.remember("ana", batches[1], {})
    assert reader.hlen(entries) == 200
    await sync.remember("ana", batches[2], {})  # 300 > 250: the hash is dropped
    assert reader.exists(entries) == 0
    assert (await sync.lookup("ana", list(batches[0]), []))[0] == {}  # misses: the database answers
    await sync.remember("ana", batches[0], {})
    assert reader.hlen(entries) == 100
