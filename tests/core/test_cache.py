"""The cache keeps one Redis client per process, even though ASGI gives every request its own
context (Django's stock RedisCache opened a new connection per request)."""

import asyncio
import contextvars
import gc

from django.core.cache import caches

from portal.core.health import redis_client


def connected_clients() -> int:
    return int(redis_client().info("clients")["connected_clients"])


def test_request_contexts_share_one_redis_connection_pool():
    async def one_request(i: int) -> object:
        cache = caches["default"]  # a new cache object in each task's context, as under ASGI
        cache.set(f"cache-test-{i}", i, 30)
        assert cache.get(f"cache-test-{i}") == i
        return cache

    async def fifty() -> list:
        return await asyncio.gather(*(asyncio.create_task(one_request(i)) for i in range(50)))

    caches["default"].get("warm")  # this context's client and connection exist first
    before = connected_clients()
    # Each request starts from the server's bare context, as a connection task of uvicorn does.
    cache_objects = contextvars.Context().run(asyncio.run, fifty())

    assert len({id(c) for c in cache_objects}) > 1  # Django really made several cache objects
    assert len({id(c._cache) for c in cache_objects}) == 1  # ... sharing one client
    assert connected_clients() - before <= 1
    del cache_objects
    gc.collect()
