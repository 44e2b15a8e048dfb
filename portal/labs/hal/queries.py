"""Reads shared by the pages and the API: devices here and workers' devices."""

from __future__ import annotations

from typing import Any

from portal.labs.hal.discovery import discovery_report
from portal.labs.hal.models import WorkerHost
from portal.labs.hal.services import worker_telemetry


def local_devices() -> list[dict[str, Any]]:
    return [d.describe() for d in discovery_report().devices]


def local_unavailable() -> dict[str, str]:
    return dict(discovery_report().unavailable)


def workers_with_telemetry() -> list[dict[str, Any]]:
    """Every worker that reported its devices, each device with its latest cached telemetry."""
    out = []
    for host in WorkerHost.objects.recent():
        readings = worker_telemetry(host.hostname)
        devices = [
            {**device, "telemetry": readings.get(device["identity"]["key"])}
            for device in host.devices
        ]
        out.append({**host.summary(), "devices": devices, "live": bool(readings)})
    return out
