"""The bank version in Redis, where the sync service reads it in the round trip it makes per batch, so
it can keep bank questions and still score the very next batch after an edit by the new content.

Two keys, in one Redis Cluster slot (a hash tag) so one script can change both:
- `version`: the highest committed bank version (decimal text). Only ever raised.
- `writers`: bank writes begun and not yet published. Sync keeps using its questions only while
  this is absent or 0, so a write whose version could not be published keeps sync asking packages.

The protocol, correct under concurrent writers and Redis failures:
1. Before a write: INCR `writers` (with a TTL, so a crashed writer stops counting after a while).
   If Redis is configured and that fails, the write is refused (503, retryable; nothing written):
   written anyway, Redis could come back still holding the old version with no writer counted, and
   sync would score by the old content after the edit's response.
2. After the commit, one script: version = max(version, V) and writers -= 1 (deleted at 0 or
   below). After a failed write the same with the database's version, read again: a commit whose
   outcome the write never learnt (a connection lost at COMMIT) is published too; if even that read
   fails, only the decrement (the repair loop publishes it within REPAIR_SECONDS). If the script
   fails, it is retried in the background until it succeeds; meanwhile `writers` > 0 keeps sync off
   its cache.
3. A repair loop (at start-up and every few seconds) raises `version` to the database's (never
   lowers it, never touches `writers`): a flushed or restarted Redis gets its version back.
Left open: a write whose publication stays impossible longer than WRITERS_TTL_SECONDS while
Redis still answers sync; the repair loop closes that gap within REPAIR_SECONDS of Redis answering.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.packages.domain import BankVersionKeys
from services.packages.store import PackagesStore
from services.runtime.errors import Unavailable

log = logging.getLogger("studysync.packages.bank_versions")
WRITERS_TTL_SECONDS = 600  # longer than any bank write; a crashed writer's mark ends with it
REPAIR_SECONDS = 2.0
RETRY_MAX_SECONDS = 2.0

_BEGIN = """
local writers = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return writers
"""
# KEYS: version, writers; ARGV: a committed version (0: none), writes ended. Text that is not a
# number is replaced rather than trusted.
_PUBLISH = """
local version = tonumber(ARGV[1])
if version > 0 and version > (tonumber(redis.call('GET', KEYS[1]) or '') or -1) then
  redis.call('SET', KEYS[1], version)
end
local ended = tonumber(ARGV[2])
if ended > 0 then
  local writers = tonumber(redis.call('GET', KEYS[2]) or '0')
  if writers == nil or writers - ended <= 0 then
    redis.call('DEL', KEYS[2])
  else
    redis.call('DECRBY', KEYS[2], ended)
  end
end
return 1
"""
# The repair: raises the version to the database's, never lowers it; 1 if it had to. 0 is set too
# (a bank never written), so sync can keep questions from the first one on.
_REPAIR = """
if tonumber(ARGV[1]) > (tonumber(redis.call('GET', KEYS[1]) or '') or -1) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


def bank_version_keys(namespace: str) -> BankVersionKeys:
    """Namespaced by the service's database schema, so stacks sharing one Redis never collide."""
    tag = f"packages:{{{namespace}}}:bank"
    return BankVersionKeys(f"{tag}:version", f"{tag}:writers")


class RedisBankVersions:
    """BankVersions on Redis; with no Redis it publishes nothing and refuses nothing."""

    def __init__(self, redis: Redis | None, namespace: str, store: PackagesStore, events: Counter) -> None:
        self._redis = redis
        self._keys = bank_version_keys(namespace) if redis is not None else None
        self._store = store
        self._events = events  # labels: event = published | publish_failed | write_refused | repaired
        if redis is not None:
            self._begin = redis.register_script(_BEGIN)
            self._publish = redis.register_script(_PUBLISH)
            self._repair = redis.register_script(_REPAIR)
        # What could not be published yet: the highest version and the number of writes ended.
        self._unpublished_version = 0
        self._unpublished_ends = 0
        self._retrier: asyncio.Task[None] | None = None
        self._repairer: asyncio.Task[None] | None = None

    @property
    def keys(self) -> BankVersionKeys | None:
        return self._keys

    async def before_write(self) -> None:
        if self._keys is None:
            return
        try:
            await self._begin(keys=[self._keys.writers], args=[WRITERS_TTL_SECONDS])
        except (RedisError, OSError) as error:
            self._events.labels("write_refused").inc()
            log.warning("bank write refused: its version could not be marked pending in Redis: %r", error)
            raise Unavailable(
                "the question bank cannot be changed while its cache is unreachable, retry later",
                reason="BANK_VERSION_UNAVAILABLE",
            ) from None

    async def after_write(self, version: int | None) -> None:
        if self._keys is None:
            return
        if version is None:
            try:
                version = await self._store.bank_version()
            except Exception as error:  # the database is what failed the write: the repair loop follows
                log.warning("bank version unknown after a failed bank write: %r", error)
        try:
            await self._publish(keys=[self._keys.version, self._keys.writers], args=[version or 0, 1])
        except (RedisError, OSError) as error:
            self._events.labels("publish_failed").inc()
            log.warning("bank version %s not published, retrying in the background: %r", version, error)
            self._unpublished_version = max(self._unpublished_version, version or 0)
            self._unpublished_ends += 1
            if self._retrier is None:
                self._retrier = asyncio.get_running_loop().create_task(self._publish_until_done())
            return
        self._events.labels("published").inc()

    async def _publish_until_done(self) -> None:
        delay = 0.1
        assert self._keys is not None
        while self._unpublished_ends:
            await asyncio.sleep(delay)
            version, ends = self._unpublished_version, self._unpublished_ends
            try:
                await self._publish(keys=[self._keys.version, self._keys.writers], args=[version, ends])
            except (RedisError, OSError):
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            self._events.labels("published").inc()
            self._unpublished_ends -= ends  # writes that ended meanwhile wait for the next round
        self._retrier = None

    async def repair(self) -> None:
        """Raises the published version to the database's (a flushed or restarted Redis)."""
        if self._keys is None:
            return
        if await self._repair(keys=[self._keys.version], args=[await self._store.bank_version()]):
            self._events.labels("repaired").inc()

    def start(self) -> None:
        """Starts the repair loop (now, then every REPAIR_SECONDS); nothing to do without Redis."""
        if self._keys is not None and self._repairer is None:
            self._repairer = asyncio.get_running_loop().create_task(self._repair_forever())

    async def _repair_forever(self) -> None:
        while True:
            try:
                await self.repair()
            except Exception as error:  # the database or Redis is down: the next round tries again
                log.warning("bank version repair failed, trying again: %r", error)
            await asyncio.sleep(REPAIR_SECONDS)

    async def close(self) -> None:
        for task in (self._repairer, self._retrier):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._repairer = self._retrier = None
