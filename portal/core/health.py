"""Checks behind GET /healthz: the database (with pgvector), Redis, a live Celery worker.

Worker liveness comes from a heartbeat each worker writes to Redis (a sorted set of
hostname -> last beat), not from a synchronous `celery inspect` per request, so the
endpoint answers in milliseconds and a busy broker cannot slow it down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "aicp:workers:heartbeat"
HEARTBEAT_INFO_KEY = "aicp:workers:heartbeat-info"


@dataclass
class Check:
    ok: bool
    detail: str


@lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    import redis

    # Short timeouts: a health check that hangs is worse than one that says "down".
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def redis_client() -> Any:
    return _redis(settings.REDIS_URL)


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any driver failure means "down"
        return Check(False, f"unreachable: {exc.__class__.__name__}: {str(exc).strip()[:200]}")
    if row is None:
        return Check(False, "connected, but the pgvector extension is not installed (run migrate)")
    return Check(True, f"postgresql {connection.pg_version // 10000}, pgvector {row[0]}")


def check_redis() -> Check:
    import redis

    try:
        info = redis_client().info("server")
    except (redis.RedisError, OSError) as exc:
        return Check(False, f"unreachable: {exc.__class__.__name__}: {exc}")
    return Check(True, f"redis {info.get('redis_version', '?')}")


def live_workers(now: float | None = None) -> dict[str, float]:
    """{worker hostname: seconds since its last heartbeat} for workers beating recently."""
    now = time.time() if now is None else now
    ttl = float(settings.HEALTHZ_HEARTBEAT_TTL)
    beats = redis_client().zrangebyscore(HEARTBEAT_KEY, now - ttl, "+inf", withscores=True)
    return {name.decode(): max(0.0, now - score) for name, score in beats}


def worker_info(names: list[str]) -> dict[str, dict]:
    """{hostname: what its heartbeat said (queues)} for these workers."""
    if not names:
        return {}
    infos = redis_client().hmget(HEARTBEAT_INFO_KEY, names)
    return {name: json.loads(info) for name, info in zip(names, infos, strict=True) if info}


def check_worker() -> Check:
    import redis

    try:
        workers = live_workers()
    except (redis.RedisError, OSError) as exc:
        return Check(False, f"cannot read worker heartbeats: {exc.__class__.__name__}")
    if not workers:
        return Check(
            False, f"no Celery worker sent a heartbeat in {settings.HEALTHZ_HEARTBEAT_TTL:g} s"
        )
    names = sorted(workers)
    try:
        infos = worker_info(names)
    except (redis.RedisError, OSError):
        infos = {}
    parts = []
    for name in names:
        queues = ",".join(infos[name].get("queues", [])) if name in infos else "?"
        parts.append(f"{name} (queues {queues}; beat {workers[name]:.0f} s ago)")
    return Check(True, ", ".join(parts))


def run_checks() -> dict[str, Check]:
    redis_check = check_redis()
    worker_check = check_worker() if redis_check.ok else Check(False, "skipped: Redis is down")
    return {"database": check_database(), "redis": redis_check, "worker": worker_check}


# --- the worker side: one beat every HEALTHZ_HEARTBEAT_S from a daemon thread --------------------


def beat(hostname: str, queues: list[str]) -> None:
    client = redis_client()
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zadd(HEARTBEAT_KEY, {hostname: now})
    # Forget workers silent for much longer than anyone asks about.
    pipe.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - 10 * float(settings.HEALTHZ_HEARTBEAT_TTL))
    pipe.hset(HEARTBEAT_INFO_KEY, hostname, json.dumps({"queues": queues}))
    pipe.execute()


def forget(hostname: str) -> None:
    client = redis_client()
    client.zrem(HEARTBEAT_KEY, hostname)
    client.hdel(HEARTBEAT_INFO_KEY, hostname)


class Heartbeat(threading.Thread):
    """Started by the worker_ready signal; survives Redis outages (it keeps trying)."""

    def __init__(self, hostname: str, queues: list[str]) -> None:
        super().__init__(name="portal-heartbeat", daemon=True)
        self.hostname, self.queues = hostname, queues
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                beat(self.hostname, self.queues)
            except Exception as exc:  # noqa: BLE001 - keep beating once Redis is back
                log.warning("worker heartbeat failed: %s", exc.__class__.__name__)
            self.stopped.wait(float(settings.HEALTHZ_HEARTBEAT_S))


_heartbeat: Heartbeat | None = None


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    """celery.signals.worker_ready: start beating for this worker."""
    global _heartbeat
    hostname = str(getattr(sender, "hostname", "") or "worker")
    try:
        queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values())
    except Exception:  # noqa: BLE001 - the queue list is only informative
        queues = []
    _heartbeat = Heartbeat(hostname, queues)
    _heartbeat.start()


def on_worker_shutdown(sender: Any = None, **_: Any) -> None:
    """celery.signals.worker_shutdown: stop beating and drop the entry at once."""
    if _heartbeat is None:
        return
    _heartbeat.stopped.set()
    try:
        forget(_heartbeat.hostname)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not remove the worker heartbeat: %s", exc.__class__.__name__)
