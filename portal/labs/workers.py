"""Which Celery workers are up and which queues they serve (their heartbeats, cached briefly)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache

from portal.labs.conf import setting_float

_CACHE_KEY = "labs:workers"


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: list[str]
    running: list[int] = field(default_factory=list)  # run ids this worker is running

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _from_heartbeats() -> dict[str, list[str]]:
    """The workers beating now (portal.core.health) with the queues each consumes.

    Read from Redis, not `celery inspect`: a broadcast per page view costs up to its timeout,
    and kombu's reply consumer is not safe to share, so fifty page views at once missing the
    cache together hung (every /labs/ request timed out under load, holding a connection each).
    """
    import redis

    from portal.core.health import live_workers, worker_info

    try:
        names = sorted(live_workers())
        infos = worker_info(names)
    except (redis.RedisError, OSError):  # a broker outage means "no workers"
        return {}
    return {name: sorted(infos.get(name, {}).get("queues", [])) for name in names}


def worker_queues(*, refresh: bool = False) -> dict[str, list[str]]:
    """{worker name: [queues it consumes]}; cached for settings.LABS_WORKERS_CACHE_S."""
    if not refresh:
        cached = cache.get(_CACHE_KEY)
        if cached is not None:
            return cached
    found = _from_heartbeats()
    cache.set(_CACHE_KEY, found, timeout=setting_float("LABS_WORKERS_CACHE_S"))
    return found


def served_queues() -> set[str]:
    return {q for queues in worker_queues().values() for q in queues}


def list_workers() -> list[WorkerInfo]:
    from portal.labs.models import Run, RunStatus

    running: dict[str, list[int]] = {}
    for pk, worker in Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", "worker"):
        running.setdefault(worker, []).append(pk)
    return [
        WorkerInfo(name=name, queues=queues, running=running.get(name, []))
        for name, queues in sorted(worker_queues().items())
    ]


def workers_with_devices() -> list[dict[str, Any]]:
    """The Labs page's worker list: each worker with the devices it reported (the HAL) and
    their latest telemetry.

    Workers whose heartbeat is current come first, with their queues and running runs;
    a worker that reported its devices and still publishes telemetry but has no current
    heartbeat is listed too, as not answering.
    """
    from portal.labs.hal.queries import workers_with_telemetry

    reported = {host["hostname"]: host for host in workers_with_telemetry()}
    rows: list[dict[str, Any]] = []
    for worker in list_workers():
        host = reported.pop(worker.name, None)
        rows.append(_worker_row(worker.as_dict(), host, answering=True))
    for name, host in sorted(reported.items()):
        if host["live"]:
            rows.append(
                _worker_row({"name": name, "queues": host["queues"], "running": []}, host, False)
            )
    return rows


def _worker_row(worker: dict[str, Any], host: dict[str, Any] | None, answering: bool) -> dict:
    return {
        **worker,
        "answering": answering,
        "reported": host is not None,
        "live": bool(host and host["live"]),
        "devices": host["devices"] if host else [],
        "unavailable": host["unavailable"] if host else {},
    }
