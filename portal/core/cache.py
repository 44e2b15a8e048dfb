"""Django's Redis cache with one client, and so one connection pool, per process.

Django keeps cache objects per async context. Under ASGI each request runs in a fresh
context, so the stock `RedisCache` built a new client and a new connection pool for every
request, and every page opened (and left to the garbage collector) a new Redis socket. Under
load that was a connect per request. Here the client is shared by every cache object of the
process with the same servers and options; redis-py's pool is thread-safe and rebuilds itself
after a fork.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property

_clients: dict[tuple[tuple[str, ...], str], Any] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> Any:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
