"""Which Celery workers are up and which queues they serve (celery inspect, cached briefly)."""

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


def _inspect() -> dict[str, list[str]]:
    from portal.celery import app

    try:
        replies = app.control.inspect(timeout=0.5).active_queues() or {}
    except Exception:  # noqa: BLE001 - a broker outage means "no workers"
        return {}
    return {name: sorted(q["name"] for q in queues) for name, queues in replies.items()}


def worker_queues(*, refresh: bool = False) -> dict[str, list[str]]:
    """{worker name: [queues it consumes]}; cached for settings.LABS_WORKERS_CACHE_S."""
    if not refresh:
        cached = cache.get(_CACHE_KEY)
        if cached is not None:
            return cached
    found = _inspect()
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
