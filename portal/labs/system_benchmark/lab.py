"""The system benchmark lab: memory bandwidth and matmul throughput on the worker's device.

What it measures is recorded into the HAL (`record_measured_peaks`) for the chip it ran
on, so the pages and the kernel lab's roofline use measured peaks over datasheet ones.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field

from portal.labs.context import RunContext
from portal.labs.registry import DeviceClass, Lab, LabResult, ResultPart

Dtype = Literal["float32", "bfloat16", "float16"]

# A copy this large leaves every cache level of current chips (H200: 50 MB L2; CPUs: tens
# of MB of L3), so its rate is the memory's; smaller copies would overstate the roof.
MIN_BANDWIDTH_COPY_MIB = 64
# A matmul this large keeps the compute units busy; smaller ones measure launch and cache
# effects (N=8 would "measure" a GPU at a few GFLOP/s), so only these sizes set peaks.
MIN_PEAK_MATMUL_N = {"gpu": 2048, "cpu": 512}
# dtype name of the sweep -> PeakFigures field
PEAK_FIELDS = {"float32": "fp32_tflops", "bfloat16": "bf16_tflops", "float16": "fp16_tflops"}


class SystemBenchmarkParams(BaseModel):
    # Item bounds are validated, not only shown: a huge size would take the worker's memory.
    copy_sizes_mib: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        title=_("Copy sizes (MiB)"),
        default=[1, 4, 16, 64, 256],
        min_length=1,
        max_length=12,
        description=_(
            "Buffer sizes (MiB) for the copy-bandwidth sweep; each copy reads and writes the buffer once."
        ),
    )
    matmul_sizes: list[Annotated[int, Field(ge=8, le=8192)]] = Field(
        title=_("Matrix sizes"),
        default=[128, 256, 512, 1024],
        min_length=1,
        max_length=12,
        description=_(
            "Square matrix sizes N for the N×N @ N×N throughput sweep (2·N³ FLOP each).",
        ),
    )
    dtypes: list[Dtype] = Field(
        title=_("Element types"),
        default=["float32", "bfloat16"],
        min_length=1,
        description=_("Element types for the matmul sweep (float16 is slow on most CPUs)."),
    )
    repeats: int = Field(
        title=_("Repetitions"),
        default=5,
        ge=1,
        le=100,
        description=_("Timed repetitions per point; the median is reported."),
    )
    warmup: int = Field(
        title=_("Warm-up repetitions"),
        default=1,
        ge=0,
        le=10,
        description=_("Untimed repetitions before timing."),
    )
    record_peaks: bool = Field(
        title=_("Record the peaks"),
        default=True,
        description=(
            _(
                "Record the measured peaks into the hardware abstraction layer for this chip model: "
                "the newest measurement replaces the datasheet figures on the device pages and in "
                "the kernel lab's roofline. Memory bandwidth is recorded only from a copy of at "
                "least 64 MiB, matmul throughput only from N of at least 512 on a CPU and 2048 "
                "on a GPU. Only a staff member's run sets the shared peaks; anyone else's are "
                "kept as theirs."
                # MIN_BANDWIDTH_COPY_MIB, MIN_PEAK_MATMUL_N (a msgid cannot hold a variable)
            )
        ),
    )


class RecordedPeaks(ResultPart):
    """What the run stored as the HAL's measured peaks of its chip."""

    id: int
    device_key: str
    model: str
    figures: dict[str, float]


class SystemBenchmarkResult(LabResult):
    device: str
    recorded_peaks: RecordedPeaks | None = None
    peak_copy_bandwidth_gbps: float
    largest_copy_bandwidth_gbps: float
    peak_matmul_gflops: dict[str, float]
    best_dtype: str
    # FLOP per byte at which this device turns from memory- to compute-bound
    ridge_point_flop_per_byte: float | None = None


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _median_time(fn: Any, *, device: str, repeats: int, warmup: int) -> float:
    for _i in range(warmup):
        fn()
    _sync(device)
    times = []
    for _i in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


class _Steps:
    """Progress over both sweeps: one step per copy size and per matmul size and dtype."""

    def __init__(self, ctx: RunContext, params: SystemBenchmarkParams) -> None:
        self.ctx = ctx
        self.total = len(params.copy_sizes_mib) + len(params.matmul_sizes) * len(params.dtypes)
        self.done = 0

    def step(self, note: str) -> None:
        self.done += 1
        self.ctx.progress(self.done / self.total, note)


def _copy_sweep(
    params: SystemBenchmarkParams, ctx: RunContext, steps: _Steps, rows: list[dict[str, Any]]
) -> tuple[float, float]:
    """Copy bandwidth over the buffer sizes, ascending: (best, largest buffer's) GB/s."""
    import torch

    device = ctx.device
    best_bw = 0.0
    largest_bw = 0.0
    for mib in sorted(params.copy_sizes_mib):
        ctx.check_cancelled()
        n = mib * 1024 * 1024 // 4
        src = torch.rand(n, device=device)
        dst = torch.empty_like(src)
        seconds = _median_time(
            lambda src=src, dst=dst: dst.copy_(src), device=device, **_timing(params)
        )
        gbps = 2 * n * 4 / seconds / 1e9  # read + write
        best_bw = max(best_bw, gbps)
        largest_bw = gbps  # sizes ascend: the last one is the least cache-resident
        ctx.metric("copy_bandwidth_gbps", round(gbps, 3), step=mib)
        ctx.log(f"copy {mib:>5} MiB: {gbps:8.2f} GB/s ({seconds * 1e3:.2f} ms)")
        rows.append(
            {
                "test": "copy",
                "size": f"{mib} MiB",
                "dtype": "float32",
                "value": round(gbps, 2),
                "unit": "GB/s",
            }
        )
        del src, dst  # free before the next, larger buffer
        steps.step(f"copy {mib} MiB")
    return best_bw, largest_bw


def _matmul_sweep(
    params: SystemBenchmarkParams, ctx: RunContext, steps: _Steps, rows: list[dict[str, Any]]
) -> tuple[dict[str, float], dict[str, float], int]:
    """Matmul throughput over the sizes of each dtype: the best GFLOP/s by dtype, the best
    from sizes large enough to be recorded as peaks, and that minimum size."""
    import torch

    device = ctx.device
    best_flops: dict[str, float] = {}
    min_peak_n = MIN_PEAK_MATMUL_N["cpu" if device.startswith("cpu") else "gpu"]
    peak_flops: dict[str, float] = {}  # from sizes large enough to be recorded as peaks
    for dtype_name in params.dtypes:
        dtype = getattr(torch, dtype_name)
        for size in sorted(params.matmul_sizes):
            ctx.check_cancelled()
            a = torch.rand(size, size, device=device).to(dtype)
            b = torch.rand(size, size, device=device).to(dtype)
            seconds = _median_time(lambda a=a, b=b: a @ b, device=device, **_timing(params))
            gflops = 2 * size**3 / seconds / 1e9
            best_flops[dtype_name] = max(best_flops.get(dtype_name, 0.0), gflops)
            if size >= min_peak_n:
                peak_flops[dtype_name] = max(peak_flops.get(dtype_name, 0.0), gflops)
            ctx.metric(f"matmul_gflops_{dtype_name}", round(gflops, 3), step=size)
            ctx.log(f"matmul {dtype_name:>8} N={size:<5}: {gflops:10.2f} GFLOP/s")
            rows.append(
                {
                    "test": "matmul",
                    "size": f"N={size}",
                    "dtype": dtype_name,
                    "value": round(gflops, 2),
                    "unit": "GFLOP/s",
                }
            )
            steps.step(f"matmul {dtype_name} N={size}")
            del a, b
    return best_flops, peak_flops, min_peak_n


def run(params: SystemBenchmarkParams, ctx: RunContext) -> dict[str, Any]:
    import torch

    device = ctx.device
    ctx.log(f"torch {torch.__version__} on {device}; {torch.get_num_threads()} CPU threads")
    steps = _Steps(ctx, params)
    rows: list[dict[str, Any]] = []
    best_bw, largest_bw = _copy_sweep(params, ctx, steps, rows)
    best_flops, peak_flops, min_peak_n = _matmul_sweep(params, ctx, steps, rows)

    ctx.table("measurements", rows)
    peak_dtype = max(best_flops, key=best_flops.__getitem__)
    ctx.table(
        "peaks",
        [{"figure": "copy bandwidth", "value": round(best_bw, 2), "unit": "GB/s"}]
        + [
            {"figure": f"matmul {k}", "value": round(v, 2), "unit": "GFLOP/s"}
            for k, v in best_flops.items()
        ],
    )
    recorded = None
    if params.record_peaks:
        recorded = _record_peaks(
            ctx,
            bandwidth_gbps=largest_bw
            if max(params.copy_sizes_mib) >= MIN_BANDWIDTH_COPY_MIB
            else None,
            gflops=peak_flops,
            min_matmul_n=min_peak_n,
            note=(
                f"system benchmark{f' run #{ctx.run_id}' if ctx.run_id else ''}: copy of "
                f"{max(params.copy_sizes_mib)} MiB, matmul up to N={max(params.matmul_sizes)}"
            ),
        )
    return {
        "device": device,
        "recorded_peaks": recorded,
        "peak_copy_bandwidth_gbps": round(best_bw, 3),
        "largest_copy_bandwidth_gbps": round(largest_bw, 3),
        "peak_matmul_gflops": {k: round(v, 3) for k, v in best_flops.items()},
        "best_dtype": peak_dtype,
        # FLOP per byte at which this device turns from memory- to compute-bound
        "ridge_point_flop_per_byte": (
            round(best_flops[peak_dtype] / largest_bw, 2) if largest_bw else None
        ),
    }


def _record_peaks(
    ctx: RunContext,
    *,
    bandwidth_gbps: float | None,
    gflops: dict[str, float],
    min_matmul_n: int,
    note: str,
) -> dict[str, Any] | None:
    """Store what was measured as the HAL's measured peaks of the chip behind ctx.device.

    A staff member's run sets the chip's shared peaks; anyone else's run stores them as
    that user's own (the shared roofline stays as it was). Returns what was recorded
    (device key, chip model, figures, shared), or None with the reason in the log: the HAL
    does not know the device, nothing large enough was measured, or there is no database.
    """
    from portal.labs.hal import device_for_torch, record_measured_peaks

    accelerator = device_for_torch(ctx.device)
    if accelerator is None:
        ctx.log(f"peaks not recorded: the HAL knows no device driven as {ctx.device!r}")
        return None
    figures: dict[str, float] = {
        PEAK_FIELDS[dtype]: round(value / 1e3, 6) for dtype, value in gflops.items() if value > 0
    }
    if not gflops:
        ctx.log(f"matmul throughput not recorded: no matmul of N >= {min_matmul_n} on {ctx.device}")
    if bandwidth_gbps:
        figures["memory_bandwidth_gbps"] = round(bandwidth_gbps, 3)
    else:
        ctx.log(
            f"memory bandwidth not recorded: the largest copy is under {MIN_BANDWIDTH_COPY_MIB} MiB "
            "and may still fit in a cache"
        )
    if not figures:
        ctx.log("peaks not recorded: nothing was measured at a size that shows a peak")
        return None
    try:
        from portal.labs.models import Run

        run = Run.objects.select_related("owner").filter(pk=ctx.run_id).first()
        owner = run.owner if run is not None else None
        shared = owner is not None and owner.is_staff
        row = record_measured_peaks(
            accelerator.key,
            model=accelerator.identity.model,
            note=note[:500],
            owner=owner,
            shared=shared,
            **figures,
        )
    except Exception as exc:  # noqa: BLE001 - no database (a unit test's context), or a bad figure
        ctx.log(f"peaks not recorded: {type(exc).__name__}: {exc}")
        return None
    whose = "the shared peaks" if shared else "your own peaks (only staff runs set the shared ones)"
    ctx.log(
        f"recorded measured peaks for {accelerator.identity.model} ({accelerator.key}) as {whose}: "
        + ", ".join(f"{k} {v}" for k, v in figures.items())
    )
    return {
        "id": row.pk,
        "device_key": accelerator.key,
        "model": accelerator.identity.model,
        "figures": figures,
        "shared": shared,
    }


def _timing(params: SystemBenchmarkParams) -> dict[str, int]:
    return {"repeats": params.repeats, "warmup": params.warmup}


LAB = Lab(
    id="system-benchmark",
    title=_("System benchmark: memory bandwidth and matmul throughput"),
    description=_(
        "Measures copy bandwidth over a sweep of buffer sizes and matrix-multiply throughput "
        "over sizes and dtypes with torch on the worker's device (CPU, or CUDA when present); "
        "streams each point, then reports the peaks and the roofline ridge point."
    ),
    params=SystemBenchmarkParams,
    result=SystemBenchmarkResult,
    run=run,
    device=DeviceClass.ANY,
    week=5,
    time_limit_s=10 * 60,
    idempotent=True,
    tags=("gpu-architecture", "roofline"),
)
