"""The Redis side of sync: idempotency results and offline-session mappings, cached after commit.

Fail-open: Redis down, slow or flushed only costs database reads; each failure is counted. After a few
failures in a row a circuit breaker skips Redis until a background probe finds it answering again, so
a frozen Redis (connections accepted, nothing answered) costs each batch nothing rather than two
timeouts.

A user's entries live in one hash, namespaced by the database schema with the user in a hash tag
(one Redis Cluster slot): a batch reads them with one HMGET and writes them with one HSET, and the
hash lives TTL_SECONDS after the user's last write. One command for a batch's 100 entries costs
Redis about a third of what 100 keys of their own did (an MGET and a Lua script of 100 SETs). The
bank version packages publishes (another slot) is read in the same round trip, pipelined with the
HMGET. A hash that has grown past MAX_ENTRIES starts over: the oldest entries' attempts are
answered from the database instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from services.runtime.breaker import CircuitBreaker
from services.sync.domain import BankVersionKeys, Stored, usable_bank_version

log = logging.getLogger("studysync.sync.cache")
TTL_SECONDS = 7 * 24 * 3600  # after the user's last write
MAX_ENTRIES = 20_000  # per user: a few MB at most; a batch adds at most 200 (attempts and sessions)


class SyncCache:
    def __init__(
        self, redis: Redis | None, namespace: str, events: Counter, breaker: CircuitBreaker | None = None
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._events = events  # labels: event = hit | miss | fail_open | skipped
        self._breaker = breaker

    def _entries(self, user_id: str) -> str:
        """The user's hash: fields "i:<idempotency key>" and "o:<offline session id>"."""
        return f"sync:{self._namespace}:{{{user_id}}}"

    async def lookup(
        self,
        user_id: str,
        keys: Sequence[str],
        offline_sessions: Sequence[str],
        bank: BankVersionKeys | None = None,
    ) -> tuple[dict[str, Stored], dict[str, str], int | None]:
        """Cached idempotency results by key, cached session ids by offline session id, and (with
        `bank`) the bank version kept bank questions may be used at. A value that cannot be read
        counts as a miss: the database (or packages) answers instead."""
        if self._redis is None or not (keys or offline_sessions) or self._skipping():
            return {}, {}, None
        entries = self._entries(user_id)
        fields = [f"i:{k}" for k in keys] + [f"o:{o}" for o in offline_sessions]
        bank_version = None
        try:
            # decode_responses=True (runtime.cache): values are text or None
            if bank is None:
                values = cast(list[str | None], await self._redis.hmget(entries, fields))
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hmget(entries, fields)
                    pipe.mget([bank.version, bank.writers])
                    values, (version, writers) = await pipe.execute()
                bank_version = usable_bank_version(version, writers)
        except (RedisError, OSError) as error:
            self._fail_open(error)
            return {}, {}, None
        self._answered()
        results = {
            k: stored for k, v in zip(keys, values[: len(keys)], strict=True) if (stored := _stored(v))
        }
        sessions = {o: v for o, v in zip(offline_sessions, values[len(keys) :], strict=True) if v}
        self._events.labels("hit").inc(len(results))
        self._events.labels("miss").inc(len(keys) - len(results))
        return results, sessions, bank_version

    async def remember(self, user_id: str, results: dict[str, Stored], sessions: dict[str, str]) -> None:
        """Called only after the database commit, so the cache never knows more than the database."""
        if self._redis is None or not (results or sessions) or self._skipping():
            return  # a skipped write only costs a database read later: the cache never knows more
        entries = self._entries(user_id)
        fields: dict[FieldT, EncodableT] = {
            f"i:{k}": f"{s.server_attempt_id} {s.session_id} {s.fingerprint}" for k, s in results.items()
        }
        fields.update((f"o:{o}", session_id) for o, session_id in sessions.items())
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hset(entries, mapping=fields)
                pipe.expire(entries, TTL_SECONDS)
                pipe.hlen(entries)
                _, _, count = await pipe.execute()
            if count > MAX_ENTRIES:
                await self._redis.unlink(entries)  # freed in the background: a big hash takes a while
        except (RedisError, OSError) as error:
            self._fail_open(error)
            return
        self._answered()

    def _skipping(self) -> bool:
        if self._breaker is not None and self._breaker.is_open:
            self._events.labels("skipped").inc()
            return True
        return False

    def _answered(self) -> None:
        if self._breaker is not None:
            self._breaker.succeeded()

    def _fail_open(self, error: BaseException) -> None:
        self._events.labels("fail_open").inc()
        log.warning("redis unavailable, continuing with the database only: %r", error)
        if self._breaker is not None:
            self._breaker.failed()


def _stored(value: str | None) -> Stored | None:
    """An idempotency result as cached: "<server_attempt_id> <session_id> <fingerprint>"."""
    if not value:
        return None
    parts = value.split(" ")
    if len(parts) != 3:
        log.warning("unreadable idempotency cache entry, reading the database instead")
        return None
    return Stored(parts[0], parts[1], parts[2], False)
