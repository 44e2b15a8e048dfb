"""Peak figures: the table of known chips (chips.py), overridable by measurement.

The system benchmark
lab measures what a chip really reaches and records it with
`record_measured_peaks`; `Accelerator.peaks()` then prefers the measurement.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from portal.labs.hal.chips import KNOWN_CHIPS, KnownChip, known_chip, lookup_peaks
from portal.labs.hal.types import DeviceIdentity, PeakFigures

log = logging.getLogger(__name__)

__all__ = [
    "KNOWN_CHIPS",
    "KnownChip",
    "known_chip",
    "lookup_peaks",
    "measured_peaks",
    "record_measured_peaks",
]


def measured_peaks(identity: DeviceIdentity) -> PeakFigures | None:
    """The latest shared measurement of this chip model, or None (also when no database).

    Only shared rows (staff runs, the staff API) count: another user's run must not move
    everyone's roofline."""
    try:
        from portal.labs.hal.models import MeasuredPeak

        row = MeasuredPeak.objects.shared().for_model(identity.model).first()
    except Exception as exc:  # no configured Django, no table yet, database down
        log.debug("no measured peaks for %s: %s", identity.model, exc)
        return None
    return row.as_figures() if row is not None else None


def record_measured_peaks(
    device_key: str,
    *,
    fp32_tflops: float | None = None,
    fp16_tflops: float | None = None,
    bf16_tflops: float | None = None,
    int8_tops: float | None = None,
    memory_bandwidth_gbps: float | None = None,
    note: str = "",
    model: str | None = None,
    owner: Any = None,
    shared: bool = True,
):
    """Store measured peak figures for the chip behind `device_key` on this host.

    Figures left as None keep their table value. `model` overrides the chip
    model name (needed only when the device is not present on this host).
    `shared=True` makes them the chip's peaks for every user: callers let only staff
    do that; `shared=False` keeps them `owner`'s own. Returns the stored `MeasuredPeak`.
    """
    from portal.labs.hal.discovery import get_device
    from portal.labs.hal.models import MeasuredPeak

    figures = {
        "fp32_tflops": fp32_tflops,
        "fp16_tflops": fp16_tflops,
        "bf16_tflops": bf16_tflops,
        "int8_tops": int8_tops,
        "memory_bandwidth_gbps": memory_bandwidth_gbps,
    }
    for name, value in figures.items():
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if all(value is None for value in figures.values()):
        raise ValueError("record at least one figure")
    if model is None:
        model = get_device(device_key).identity.model
    return MeasuredPeak.objects.create(
        device_key=device_key,
        model=model,
        hostname=socket.gethostname(),
        note=note,
        owner=owner,
        shared=shared,
        **figures,
    )
