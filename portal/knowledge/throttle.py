"""Per-user rate limit on questions: a fixed window counted in the Redis cache.

Login throttling (portal.core.ratelimit) locks a username after failures; this one
counts every question, so one user cannot tie up the embedder and the CPU for
everyone. If the cache is unreachable questions are let through (logged).
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

from portal.knowledge import conf

log = logging.getLogger(__name__)


def ask_retry_after(user_key: str) -> int:
    """Count one question by `user_key`; seconds to wait when over the limit, else 0."""
    limit, window = conf.ask_rate()
    if limit <= 0:
        return 0
    now = int(time.time())
    start = now - now % window
    key = f"kb-ask:{user_key}:{start}"
    try:
        cache.add(key, 0, timeout=window + 1)
        count = cache.incr(key)
    except Exception as exc:  # noqa: BLE001 - fail open, see the module doc
        log.warning("question rate limit unavailable: %s", exc.__class__.__name__)
        return 0
    return max(1, start + window - now) if count > limit else 0
