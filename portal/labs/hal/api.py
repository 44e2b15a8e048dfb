from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from portal.labs.hal.discovery import get_device
from portal.labs.hal.models import MeasuredPeak
from portal.labs.hal.peaks import record_measured_peaks
from portal.labs.hal.queries import local_devices, local_unavailable, workers_with_telemetry
from portal.labs.hal.schemas import (
    DeviceOut,
    DevicesOut,
    ErrorOut,
    PeaksIn,
    PeaksOut,
    TelemetryOut,
    WorkerOut,
)
from portal.labs.hal.types import NoSuchDevice

router = Router()


@router.get("/devices", response=DevicesOut)
def list_devices(request: HttpRequest) -> dict[str, Any]:
    return {"devices": local_devices(), "unavailable": local_unavailable()}


@router.get("/devices/{key}", response={200: DeviceOut, 404: ErrorOut})
def device_detail(request: HttpRequest, key: str) -> Any:
    try:
        return get_device(key).describe()
    except NoSuchDevice as exc:
        return Status(404, {"detail": str(exc)})


@router.get("/devices/{key}/telemetry", response={200: TelemetryOut, 404: ErrorOut})
def device_telemetry(request: HttpRequest, key: str) -> Any:
    try:
        reading = get_device(key).telemetry()
    except NoSuchDevice as exc:
        return Status(404, {"detail": str(exc)})
    return {"key": key, "telemetry": reading.as_dict(), "reported": reading.reported()}


@router.get("/workers", response=list[WorkerOut])
def list_workers(request: HttpRequest) -> list[dict[str, Any]]:
    return workers_with_telemetry()


def _peaks_out(row: MeasuredPeak) -> dict[str, Any]:
    return {
        "id": row.pk,
        "model": row.model,
        "device_key": row.device_key,
        "figures": row.as_figures().as_dict(),
        "shared": row.shared,
        "measured_at": row.measured_at,
    }


@router.get("/peaks", response=list[PeaksOut])
def list_peaks(request: HttpRequest, limit: int = 50) -> Any:
    """Measured peaks, newest first: the shared ones (every user's roofline) and your own."""
    rows = MeasuredPeak.objects.visible_to(request.user).order_by("-measured_at", "-id")
    return [_peaks_out(row) for row in rows[: max(1, min(limit, 500))]]


@router.post("/peaks", response={201: PeaksOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def post_peaks(request: HttpRequest, payload: PeaksIn) -> Any:
    """Record measured peak figures (staff: they change what every user's pages show)."""
    if not request.user.is_staff:
        return Status(403, {"detail": "only staff may record measured peaks"})
    try:
        row = record_measured_peaks(**payload.dict(), owner=request.user, shared=True)
    except NoSuchDevice as exc:
        return Status(404, {"detail": str(exc)})
    except ValueError as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, _peaks_out(row))
