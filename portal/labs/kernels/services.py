"""Writes for the kernel lab: sweeps and their measured points."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.labs.kernels.models import Measurement, Sweep


def start_sweep(
    *,
    device: str,
    device_name: str,
    peaks: dict[str, Any],
    params: dict[str, Any],
    notes: list[str],
    run_id: int | None = None,
    source: str = Sweep.Source.LAB,
) -> Sweep:
    return Sweep.objects.create(
        device=device,
        device_name=device_name[:200],
        peaks=peaks,
        params=params,
        notes=notes,
        run_id=run_id,
        source=source,
    )


def record_point(*, sweep: Sweep, point: dict[str, Any]) -> Measurement:
    """Store one point at the end of the sweep's sequence (safe to call as points stream in)."""
    with transaction.atomic():
        # Lock the sweep row so concurrent writers cannot take the same seq.
        Sweep.objects.select_for_update().filter(pk=sweep.pk).first()
        last = sweep.measurements.aggregate(m=Max("seq"))["m"]
        return Measurement.objects.create(
            sweep=sweep,
            seq=0 if last is None else last + 1,
            kernel=str(point["kernel"])[:32],
            impl=str(point["impl"])[:32],
            dtype=str(point["dtype"])[:16],
            n=int(point["n"]),
            status=str(point["status"])[:12],
            median_ms=point.get("median_ms"),
            gbs=point.get("gbs"),
            tflops=point.get("tflops"),
            intensity=float(point.get("intensity") or 0.0),
            frac_roofline=point.get("frac_roofline"),
            data=point,
        )


def finish_sweep(*, sweep: Sweep, failed: bool = False, notes: Iterable[str] = ()) -> Sweep:
    sweep.status = Sweep.Status.FAILED if failed else Sweep.Status.FINISHED
    sweep.finished_at = timezone.now()
    sweep.notes = [*sweep.notes, *notes]
    sweep.save(update_fields=["status", "finished_at", "notes"])
    return sweep


def import_bench(*, payload: dict[str, Any]) -> Sweep:
    """Load the JSON written by `bench/kernels_gpu.py --json` as a finished sweep."""
    peaks = payload.get("peaks") or {}
    points = payload.get("points")
    if not isinstance(points, list) or not points:
        raise ValueError("the file has no points")
    with transaction.atomic():
        sweep = start_sweep(
            device=str(peaks.get("device") or payload.get("device") or "cuda"),
            device_name=str(peaks.get("name") or ""),
            peaks=peaks,
            params=payload.get("params") or {},
            notes=list(payload.get("notes") or []),
            source=Sweep.Source.BENCH,
        )
        for point in points:
            record_point(sweep=sweep, point=point)
        return finish_sweep(sweep=sweep)
