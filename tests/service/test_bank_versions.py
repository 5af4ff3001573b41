"""The bank version protocol of packages (bank_versions) against a real Redis: concurrent writers,
rollbacks, a publication that fails after the commit, the repair loop. What sync concludes from the
two keys is domain.usable_bank_version, checked here on what Redis really holds."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry, Counter

from devstack.stack import free_port
from services.packages.bank_versions import WRITERS_TTL_SECONDS, RedisBankVersions
from services.runtime.cache import create_redis
from services.runtime.errors import Unavailable
from services.sync.domain import usable_bank_version
from tests.conftest import REDIS_URL
from tests.fakes import FakePackagesStore
from tests.helpers import redis_answers, redis_server_command, wait_until, wait_until_async


def events() -> Counter:
    return Counter("bank_version", "test", ["event"], registry=CollectorRegistry())


@pytest.fixture
async def shared() -> AsyncIterator[tuple[RedisBankVersions, redis.Redis, FakePackagesStore]]:
    """Versions under a namespace of this test's own in the shared Redis; its keys removed after."""
    store = FakePackagesStore()
    client = create_redis(REDIS_URL)
    versions = RedisBankVersions(client, f"t_{uuid.uuid4().hex[:8]}", store, events())
    reader = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield versions, reader, store
    assert versions.keys is not None
    reader.delete(versions.keys.version, versions.keys.writers)
    reader.close()
    await versions.close()
    await client.aclose()


def seen_by_sync(reader: redis.Redis, versions: RedisBankVersions) -> int | None:
    assert versions.keys is not None
    return usable_bank_version(reader.get(versions.keys.version), reader.get(versions.keys.writers))


async def test_concurrent_writers_keep_sync_off_until_the_last_one_published(shared):
    versions, reader, _ = shared
    await versions.before_write()
    await versions.before_write()
    await versions.after_write(5)  # the later write committed and published first
    assert seen_by_sync(reader, versions) is None
    await versions.after_write(4)
    assert seen_by_sync(reader, versions) == 5  # never lowered by the slower one
    assert reader.get(versions.keys.writers) is None


async def test_a_failed_write_ends_its_mark_and_publishes_the_stores_version(shared):
    versions, reader, store = shared
    await versions.before_write()
    await versions.after_write(3)
    await versions.before_write()
    assert 0 < reader.ttl(versions.keys.writers) <= WRITERS_TTL_SECONDS  # a crashed writer expires
    store.version = 3  # rolled back
    await versions.after_write(None)
    assert seen_by_sync(reader, versions) == 3
    await versions.before_write()
    store.version = 4  # committed, though the write saw its connection fail at COMMIT
    await versions.after_write(None)
    assert seen_by_sync(reader, versions) == 4


async def test_the_repair_raises_the_version_to_the_databases_and_never_lowers_it(shared):
    versions, reader, store = shared
    store.version = 7
    await versions.repair()
    assert seen_by_sync(reader, versions) == 7
    reader.set(versions.keys.version, 9)  # a write committed after the repair read the database
    await versions.repair()
    assert seen_by_sync(reader, versions) == 9
    reader.set(versions.keys.version, "not a number")
    await versions.repair()
    assert seen_by_sync(reader, versions) == 7
    reader.incr(versions.keys.writers)  # a write in progress: the repair leaves its mark alone
    await versions.repair()
    assert reader.get(versions.keys.writers) == "1"


async def test_the_repair_loop_runs_at_start_up(shared):
    versions, reader, store = shared
    store.version = 2
    versions.start()

    async def published() -> bool:
        return seen_by_sync(reader, versions) == 2

    await wait_until_async(published, within=10, what="the repair loop's first round")


# -- a Redis of the test's own, frozen between the mark and the publication


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    process = subprocess.Popen(redis_server_command(port, tmp_path), stdout=subprocess.DEVNULL)
    wait_until(lambda: redis_answers(port), within=30, what="the private Redis to answer")
    yield process, port
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait()


async def test_a_publication_that_fails_after_the_commit_is_retried_and_sync_never_sees_the_old_version(
    private_redis,
):
    process, port = private_redis
    client = create_redis(f"redis://127.0.0.1:{port}/0")
    counted = events()
    versions = RedisBankVersions(client, "t_private", FakePackagesStore(), counted)
    reader = redis.Redis(port=port, decode_responses=True)
    try:
        await versions.before_write()
        await versions.after_write(1)
        await versions.before_write()
        process.send_signal(signal.SIGSTOP)  # frozen after the mark, before the publication
        await versions.after_write(2)  # must not raise: the write is committed
        assert counted.labels("publish_failed")._value.get() == 1
        await asyncio.sleep(0.5)  # the background retry fails too while Redis is frozen
        process.send_signal(signal.SIGCONT)
        assert seen_by_sync(reader, versions) in (None, 2)  # a pending mark, or the new version

        async def published() -> bool:
            return seen_by_sync(reader, versions) == 2

        await wait_until_async(published, within=30, what="the background retry to publish")
        assert reader.get(versions.keys.writers) is None
    finally:
        process.send_signal(signal.SIGCONT)
        reader.close()
        await versions.close()
        await client.aclose()


async def test_a_write_is_refused_when_its_mark_cannot_be_made(private_redis):
    process, port = private_redis
    process.kill()
    process.wait()
    client = create_redis(f"redis://127.0.0.1:{port}/0")
    counted = events()
    versions = RedisBankVersions(client, "t_dead", FakePackagesStore(), counted)
    with pytest.raises(Unavailable) as caught:
        await versions.before_write()
    assert caught.value.reason == "BANK_VERSION_UNAVAILABLE"
    assert counted.labels("write_refused")._value.get() == 1
    await client.aclose()
