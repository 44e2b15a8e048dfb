"""Checks behind GET /healthz: the database (with pgvector), Redis, a Celery worker."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection


@dataclass
class Check:
    ok: bool
    detail: str


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
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        info = client.info("server")
    except (redis.RedisError, OSError) as exc:
        return Check(False, f"unreachable: {exc.__class__.__name__}: {exc}")
    return Check(True, f"redis {info.get('redis_version', '?')}")


def check_worker() -> Check:
    from portal.celery import app

    try:
        replies = app.control.ping(timeout=settings.HEALTHZ_WORKER_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - broker down surfaces here too
        return Check(False, f"cannot reach the broker: {exc.__class__.__name__}")
    if not replies:
        return Check(False, "no Celery worker answered")
    return Check(True, ", ".join(sorted(name for reply in replies for name in reply)))


def run_checks() -> dict[str, Check]:
    redis_check = check_redis()
    worker_check = check_worker() if redis_check.ok else Check(False, "skipped: Redis is down")
    return {"database": check_database(), "redis": redis_check, "worker": worker_check}
