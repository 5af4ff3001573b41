"""The optional Redis idempotency cache. Unset `REDIS_URL` → no cache; services run DB-only."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str | None) -> Redis | None:
    if not url:
        return None
    # Short timeouts: a slow or dead cache must fail open quickly, never hold a request.
    return Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25, decode_responses=True)
