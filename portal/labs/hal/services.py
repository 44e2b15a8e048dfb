"""Writes of the HAL app: what a worker reports about its devices."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from portal.labs.hal.discovery import discovery_report
from portal.labs.hal.models import WorkerHost

log = logging.getLogger(__name__)

TELEMETRY_CACHE_KEY = "hal:telemetry:{hostname}"


def worker_telemetry_interval_s() -> float:
    return float(os.environ.get("PORTAL_HAL_WORKER_TELEMETRY_S", "2"))


def report_worker_devices(*, hostname: str, queues: list[str] | None = None) -> WorkerHost:
    """Record (or refresh) the devices this process's host offers, under a worker's name."""
    report = discovery_report(refresh=True)
    now = timezone.now()
    with transaction.atomic():
        host, _ = WorkerHost.objects.update_or_create(
            hostname=hostname,
            defaults={
                "queues": sorted(queues or []),
                "devices": [d.describe(with_telemetry=False) for d in report.devices],
                "unavailable": report.unavailable,
                "started_at": now,
                "seen_at": now,
            },
        )
    return host


def publish_worker_telemetry(*, hostname: str) -> dict[str, Any]:
    """Put this host's current telemetry where the web process reads it (short-lived cache key)."""
    readings = {d.key: d.telemetry().as_dict() for d in discovery_report().devices}
    ttl = max(10, int(worker_telemetry_interval_s() * 5))
    cache.set(TELEMETRY_CACHE_KEY.format(hostname=hostname), readings, timeout=ttl)
    return readings


def worker_telemetry(hostname: str) -> dict[str, Any]:
    return cache.get(TELEMETRY_CACHE_KEY.format(hostname=hostname)) or {}


class WorkerTelemetryLoop(threading.Thread):
    """Runs in a Celery worker: device telemetry into the cache every few seconds, seen_at
    bumped; the devices are reported again if the worker's row went missing (deleted by an
    admin, a database restored or flushed), so the Labs pages never lose a live worker."""

    def __init__(self, hostname: str, interval_s: float, queues: list[str] | None = None) -> None:
        super().__init__(name="hal-worker-telemetry", daemon=True)
        self.hostname = hostname
        self.interval_s = interval_s
        self.queues = list(queues or [])
        self.stopped = threading.Event()

    def beat(self) -> None:
        publish_worker_telemetry(hostname=self.hostname)
        seen = WorkerHost.objects.filter(hostname=self.hostname).update(seen_at=timezone.now())
        if not seen:
            report_worker_devices(hostname=self.hostname, queues=self.queues)

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                self.beat()
            except Exception as exc:  # Redis or the database restarting: try again next beat
                log.debug("worker telemetry failed: %s", exc)


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    """celery.signals.worker_ready: report the devices, then keep their telemetry fresh."""
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    try:
        queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values())
    except Exception:
        queues = []
    try:
        report_worker_devices(hostname=hostname, queues=queues)
        publish_worker_telemetry(hostname=hostname)
    except Exception:
        log.exception("could not report this worker's devices")
        return
    interval = worker_telemetry_interval_s()
    if interval > 0:
        WorkerTelemetryLoop(hostname, interval, queues).start()
