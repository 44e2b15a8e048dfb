"""Knobs of the labs platform: Django settings when set, else the environment, else a default.

Tests override them with the `settings` fixture (in-process) or the environment
(worker subprocesses), so heartbeats and the reaper run fast there.
"""

from __future__ import annotations

from django.conf import settings

from portal.env import env_float, env_int

_DEFAULTS_FLOAT = {
    # How often the worker flushes buffered events (seconds); a batch also flushes when full.
    "LABS_FLUSH_INTERVAL_S": ("LABS_FLUSH_INTERVAL_S", 0.05),
    # How often a running run refreshes its heartbeat and polls for a cancel request.
    "LABS_HEARTBEAT_S": ("LABS_HEARTBEAT_S", 1.0),
    # A running run whose heartbeat is older than this is lost (its worker died).
    "LABS_LOST_AFTER_S": ("LABS_LOST_AFTER_S", 30.0),
    # How often beat runs the reaper.
    "LABS_REAPER_INTERVAL_S": ("LABS_REAPER_INTERVAL_S", 15.0),
    # After a cancel request, a lab that never polls cancelled() is stopped at its next ctx call.
    "LABS_CANCEL_GRACE_S": ("LABS_CANCEL_GRACE_S", 2.0),
    # How long the worker list (celery inspect) is cached.
    "LABS_WORKERS_CACHE_S": ("LABS_WORKERS_CACHE_S", 5.0),
}
_DEFAULTS_INT = {
    # Queued + running runs one user may have at once; past it launching answers 429.
    "LABS_MAX_ACTIVE_RUNS_PER_USER": ("LABS_MAX_ACTIVE_RUNS_PER_USER", 3),
    # Events per database transaction on the worker.
    "LABS_EVENT_BATCH": ("LABS_EVENT_BATCH", 500),
    # Events one run may store; past it the run fails (a runaway lab cannot fill the disk
    # or make its pages load millions of rows).
    "LABS_MAX_EVENTS_PER_RUN": ("LABS_MAX_EVENTS_PER_RUN", 200_000),
}


def setting_float(name: str) -> float:
    env_name, default = _DEFAULTS_FLOAT[name]
    value = getattr(settings, name, None)
    return float(value) if value is not None else env_float(env_name, default)


def setting_int(name: str) -> int:
    env_name, default = _DEFAULTS_INT[name]
    value = getattr(settings, name, None)
    return int(value) if value is not None else env_int(env_name, default)


def queue_for(route: str) -> str:
    """The Celery queue a device class (or `long`) maps to (settings.PORTAL_QUEUE_ROUTES)."""
    routes: dict[str, str] = settings.PORTAL_QUEUE_ROUTES
    return routes.get(route) or routes.get("any") or settings.CELERY_TASK_DEFAULT_QUEUE
