"""What the device could do at best: the roof of the roofline.

Peaks come, in order of preference, from the HAL (`portal.labs.hal`: the newest
figures the system benchmark lab measured for this chip model, else its datasheet
table or estimate), from the HAL's chip table for a GPU the HAL cannot reach, or
from a quick measurement here. The device-to-device copy bandwidth is
always measured in the same run, because "fraction of achievable bandwidth" is
the honest yardstick for memory-bound kernels.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

# the one chip table and the host's facts: Django-free modules of the HAL
from portal.labs.hal.chips import lookup_peaks
from portal.labs.hal.host import cpu_model
from portal.labs.hal.types import PeakFigures

log = logging.getLogger(__name__)


@dataclass
class DevicePeaks:
    device: str
    name: str
    mem_gbs: float  # peak memory bandwidth, GB/s (1e9 bytes)
    tflops: dict[str, float]  # by dtype name
    source: str  # "hal/<PeakFigures.source>" (table, measured, estimate...), "table" or "measured"
    copy_gbs: float | None = None  # measured device-to-device copy, read + write bytes
    notes: list[str] = field(default_factory=list)

    def peak_tflops(self, dtype: str) -> float:
        return self.tflops.get(dtype) or self.tflops.get("float32") or 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_copy_bandwidth(
    device: torch.device, nbytes: int | None = None, reps: int = 10
) -> float:
    """GB/s of a large device-to-device copy, counting bytes read plus bytes written."""
    if nbytes is None:
        nbytes = 2 * 2**30 if device.type == "cuda" else 256 * 2**20
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up (page faults, first touch)
    times: list[float] = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(reps):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            dst.copy_(src)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
    else:
        for _ in range(max(3, reps // 2)):
            t0 = time.perf_counter()
            dst.copy_(src)
            times.append(time.perf_counter() - t0)
    return 2 * nbytes / statistics.median(times) / 1e9


def _measure_matmul_tflops(device: torch.device, n: int = 1024) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    # A CUDA matmul only enqueues a kernel: without synchronising before and after, the
    # wall clock measures the launch (microseconds) and the "peak" comes out absurd.
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / min(times) / 1e12


def _from_hal(device: torch.device) -> DevicePeaks | None:
    """The HAL's peak figures for the chip torch drives as `device`; None when it cannot say.

    `Accelerator.peaks()` already prefers the newest measurement (the system benchmark
    lab's `record_measured_peaks`) over the datasheet table, figure by figure. The
    figures may be partial (a CPU's estimate has no memory bandwidth): `device_peaks`
    fills the gaps by measuring.
    """
    try:
        from portal.labs.hal import device_for_torch

        accelerator = device_for_torch(str(device))
        if accelerator is None:
            return None
        figures = accelerator.peaks()
    except Exception:  # no HAL, no Django settings, a failing adapter: fall back quietly
        log.debug("HAL peaks unavailable for %s", device, exc_info=True)
        return None
    tflops = _tflops_by_dtype(figures)
    bandwidth = float(figures.memory_bandwidth_gbps or 0.0)
    if not bandwidth and not tflops:
        return None
    return DevicePeaks(
        device=str(device),
        name=accelerator.identity.model,
        mem_gbs=bandwidth,
        tflops=tflops,
        source=f"hal/{figures.source}",
        notes=[f"peaks from the HAL ({accelerator.key}, {figures.source}): {figures.note}"],
    )


def _tflops_by_dtype(figures: PeakFigures) -> dict[str, float]:
    return {
        dtype: float(value)
        for dtype, value in (
            ("bfloat16", figures.bf16_tflops),
            ("float16", figures.fp16_tflops),
            ("float32", figures.fp32_tflops),
        )
        if value
    }


def _from_chip_table(device: torch.device, name: str) -> DevicePeaks | None:
    """The HAL's datasheet row for a GPU the HAL itself could not reach (no NVML here)."""
    figures = lookup_peaks(name)
    if figures.source != "table":
        return None
    return DevicePeaks(
        str(device),
        name,
        float(figures.memory_bandwidth_gbps or 0.0),
        _tflops_by_dtype(figures),
        "table",
        notes=[figures.note],
    )


def device_peaks(device: torch.device, *, measure_copy: bool = True) -> DevicePeaks:
    peaks = _from_hal(device)
    if peaks is None and device.type == "cuda":
        peaks = _from_chip_table(device, torch.cuda.get_device_name(device))
    if peaks is None:
        # Unknown device: measured copy bandwidth and fp32 matmul rate stand in for peaks.
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
        copy = measure_copy_bandwidth(device)
        flops = _measure_matmul_tflops(device)
        peaks = DevicePeaks(
            str(device),
            name,
            copy,
            {"float32": flops, "bfloat16": flops, "float16": flops},
            "measured",
            copy_gbs=copy,
            notes=["peaks measured here (copy bandwidth, fp32 matmul), not from a datasheet"],
        )
    if not peaks.mem_gbs:
        # the HAL knows the compute peaks only: the measured copy is the memory roof
        peaks.copy_gbs = peaks.copy_gbs or measure_copy_bandwidth(device)
        peaks.mem_gbs = peaks.copy_gbs
        peaks.notes.append("memory roof: the copy bandwidth measured in this run")
    if not peaks.tflops:
        flops = _measure_matmul_tflops(device)
        peaks.tflops = {"float32": flops}
        peaks.notes.append("compute roof: an fp32 matmul measured in this run")
    if measure_copy and peaks.copy_gbs is None:
        peaks.copy_gbs = measure_copy_bandwidth(device)
    return peaks
