"""Reads of sweeps and points shaped for the page, the API and the charts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portal.labs.kernels.models import Measurement, Sweep

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def latest_sweeps(user: AbstractBaseUser | AnonymousUser, limit: int = 20) -> list[Sweep]:
    return list(Sweep.objects.visible_to(user).with_points().latest_first()[:limit])


def chart_payload(sweep: Sweep) -> dict[str, Any]:
    """What static/kernels/roofline.js draws: the roof (peaks) and the timed points."""
    points = [
        {
            "kernel": m.kernel,
            "impl": m.impl,
            "dtype": m.dtype,
            "n": m.n,
            "intensity": m.intensity,
            "tflops": m.tflops,
            "gbs": m.gbs,
            "median_ms": m.median_ms,
            "frac_roofline": m.frac_roofline,
        }
        for m in sweep.measurements.filter(status="ok", median_ms__isnull=False)
    ]
    peaks = sweep.peaks or {}
    return {
        "device": sweep.device_name or sweep.device,
        "mem_gbs": peaks.get("mem_gbs"),
        "copy_gbs": peaks.get("copy_gbs"),
        "tflops": peaks.get("tflops") or {},
        "source": peaks.get("source", ""),
        "points": points,
    }


def measurements(sweep: Sweep) -> list[Measurement]:
    return list(sweep.measurements.all())
