"""The services' Redis client (runtime.cache): commands packed by hiredis reach the real Redis intact."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio.connection
from redis.exceptions import DataError

from services.runtime.cache import HiredisPacking, create_redis
from tests.conftest import REDIS_URL


def test_packing_is_byte_for_byte_redis_pys() -> None:
    python_packer = redis.asyncio.connection.Connection()
    args = ("EVALSHA", "f" * 40, 2, "k:ü", b"raw", memoryview(b"view"), bytearray(b"array"), 7, 1.5)
    assert HiredisPacking().pack_command(*args) == [b"".join(python_packer.pack_command(*args))]
    # a command name holding literal arguments is sent as separate arguments, as redis-py does
    assert HiredisPacking().pack_command("CONFIG GET", "maxmemory") == python_packer.pack_command(
        "CONFIG", "GET", "maxmemory"
    )


@pytest.mark.parametrize("value", [None, True, object()])
def test_a_value_redis_cannot_hold_is_redis_pys_data_error(value: object) -> None:
    with pytest.raises(DataError):
        HiredisPacking().pack_command("SET", "key", value)


@pytest.mark.parametrize(
    "url", [REDIS_URL, "unix:///run/studysync-test-no-such.sock?db=1"], ids=["tcp", "unix"]
)
def test_every_connection_kind_packs_with_hiredis(url: str) -> None:
    client = create_redis(url)
    assert client is not None
    connection_class = client.connection_pool.connection_class
    assert issubclass(connection_class, HiredisPacking)
    kind = "UnixDomainSocketConnection" if url.startswith("unix") else "Connection"
    assert connection_class.__mro__[2].__name__ == kind


async def test_commands_and_pipelines_round_trip() -> None:
    client = create_redis(REDIS_URL)
    assert client is not None
    prefix = f"t_{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}:{{user}}:{n}" for n in range(150)]
    try:
        await client.mset({key: f"wert ✓ {n}" for n, key in enumerate(keys)})
        assert await client.mget(keys) == [f"wert ✓ {n}" for n in range(150)]
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(f"{prefix}:n", 41, ex=60)
            pipe.incr(f"{prefix}:n")
            pipe.ttl(f"{prefix}:n")
            assert (await pipe.execute())[:2] == [True, 42]
        script = client.register_script("return #KEYS + tonumber(ARGV[1])")
        assert await script(keys=keys, args=[2]) == 152  # type: ignore[misc]
    finally:
        await client.delete(*keys, f"{prefix}:n")
        await client.aclose()
