"""The kernel lab: check and time the suite on the worker's device, stream every point, draw the roofline."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field, field_validator

from portal.labs.context import RunContext
from portal.labs.registry import DeviceClass, Lab, LabResult

if TYPE_CHECKING:
    import torch

    from portal.labs.kernels.engine.peaks import DevicePeaks

# torch, Triton and the engine are imported when the lab runs, not when Django
# starts: every management command and web process would pay for them otherwise.

KernelName = Literal["vector_add", "softmax", "layer_norm", "matmul", "attention"]
DtypeName = Literal["float32", "float16", "bfloat16"]
ImplName = Literal["eager", "compiled", "triton", "cpp", "torch_online"]

CPU_NOTE = (
    "This is a CPU worker: the PyTorch references and baselines and the C++ custom operator "
    "are timed on the CPU; the Triton kernels are only checked for correctness, through "
    "Triton's interpreter (TRITON_INTERPRET=1) at n <= {max_n}. GPU timings, and the "
    "Triton kernels' speed, need a GPU worker."
)


class KernelLabParams(BaseModel):
    kernels: list[KernelName] = Field(
        title=_("Kernels"),
        default=["vector_add", "softmax", "layer_norm", "matmul", "attention"],
        min_length=1,
        description=_("Kernels of the suite to run."),
    )
    dtypes: list[DtypeName] = Field(
        title=_("Element types"),
        default=["float32"],
        min_length=1,
        description=_("Element types to run each kernel in."),
    )
    sizes: list[Annotated[int, Field(ge=8, le=16384)]] = Field(
        title=_("Sizes"),
        default=[128, 256],
        min_length=1,
        max_length=8,
        description=_(
            "Size knob n: n*n elements for add, n x n for softmax/layer norm, n^3 "
            "matmul, sequence length n for attention."
        ),
    )
    impls: list[ImplName] = Field(
        title=_("Implementations"),
        default=["eager", "compiled", "triton", "cpp", "torch_online"],
        min_length=1,
        description=_("Implementations; eager PyTorch always runs as the baseline."),
    )
    trials: int = Field(
        title=_("Correctness checks"),
        default=3,
        ge=1,
        le=10,
        description=_("Correctness checks per point."),
    )
    target_ms: float = Field(
        title=_("Timing budget (ms)"),
        default=100.0,
        ge=5.0,
        le=5000.0,
        description=_("Timing budget per point (ms)."),
    )
    max_reps: int = Field(
        title=_("Most repetitions"),
        default=100,
        ge=3,
        le=2000,
        description=_("Most timed repetitions."),
    )
    attn_batch: int = Field(title=_("Attention batch"), default=2, ge=1, le=64)
    attn_heads: int = Field(title=_("Attention heads"), default=4, ge=1, le=128)
    attn_head_dim: Literal[16, 32, 64, 128] = Field(default=64, title=_("Attention head size"))
    causal: bool = Field(default=False, title=_("Causal attention"))

    @field_validator("sizes")
    @classmethod
    def _sizes_in_range(cls, sizes: list[int]) -> list[int]:
        for n in sizes:
            if not 8 <= n <= 16384:
                raise ValueError(f"size {n} outside [8, 16384]")
        return sorted(set(sizes))

    @field_validator("kernels", "dtypes", "impls")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class KernelLabResult(LabResult):
    sweep_id: int
    device: str
    # the roof the points sit under: PeakFigures.as_dict() of the device
    peaks: dict[str, Any]
    notes: list[str] = []
    points: int
    incorrect: int
    # one row per point, as in the run's "results" table
    table: list[dict[str, Any]] = []


def _torch_device(requested: str) -> tuple[torch.device, list[str]]:
    import torch

    device = torch.device(requested or "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu"), [f"asked for {requested} but CUDA is not available: ran on CPU"]
    return device, []


def _stream_point(ctx: RunContext, point: dict[str, Any]) -> None:
    label = f"{point['kernel']} {point['impl']} {point['dtype']}"
    if point.get("median_ms") is not None:
        ctx.metric(f"{label} ms", point["median_ms"], step=point["n"])
        if point.get("frac_roofline") is not None:
            ctx.metric(f"{label} % of roofline", 100 * point["frac_roofline"], step=point["n"])
        ctx.log(
            f"{label} n={point['n']}: {point['median_ms']:.4f} ms "
            f"(±{point.get('spread_pct') or 0:.0f}%), {point.get('gbs') or 0:.1f} GB/s, "
            f"{point.get('tflops') or 0:.3f} TFLOP/s"
        )
    else:
        verdict = "correct" if point["status"] == "ok" else point["status"].upper()
        ctx.log(f"{label} n={point['n']}: {verdict} {point.get('reason') or ''}".rstrip())


def _table_row(point: dict[str, Any]) -> dict[str, Any]:
    def r(value: Any, digits: int) -> Any:
        return None if value is None else round(float(value), digits)

    return {
        "kernel": point["kernel"],
        "impl": point["impl"],
        "dtype": point["dtype"],
        "n": point["n"],
        "shape": point.get("shape", ""),
        "status": point["status"],
        "median_ms": r(point.get("median_ms"), 5),
        "spread_pct": r(point.get("spread_pct"), 1),
        "GB/s": r(point.get("gbs"), 2),
        "TFLOP/s": r(point.get("tflops"), 4),
        "% roofline": r(point.get("frac_roofline") and 100 * point["frac_roofline"], 1),
        "vs eager": r(point.get("speedup_vs_eager"), 2),
        "max_err_ratio": r(point.get("err_ratio"), 3),
        "reason": point.get("reason", ""),
    }


def _measure_device(ctx: RunContext) -> tuple[torch.device, DevicePeaks, list[str]]:
    """Setup: the torch device, its roof (peaks) and the notes the results carry."""
    import torch

    from portal.labs.kernels.engine import interpret
    from portal.labs.kernels.engine.peaks import device_peaks

    device, notes = _torch_device(ctx.device)
    ctx.log(f"device: {device} · torch {torch.__version__}")
    ctx.progress(0.0, "measuring the device")
    peaks = device_peaks(device)
    ctx.log(
        f"peaks ({peaks.source}): {peaks.name}, {peaks.mem_gbs:.0f} GB/s, "
        + ", ".join(f"{k} {v:.2f} TFLOP/s" for k, v in peaks.tflops.items())
        + f"; measured copy {peaks.copy_gbs or 0:.1f} GB/s"
    )
    if device.type != "cuda":
        notes.append(CPU_NOTE.format(max_n=interpret.INTERPRET_MAX_N))
        ctx.log(notes[-1])
    return device, peaks, notes


def _runnable_impls(
    params: KernelLabParams, on_gpu: bool, notes: list[str], ctx: RunContext
) -> list[str]:
    """The chosen implementations less the C++ operator when it cannot be built (or has no
    CUDA kernels on a GPU worker), with the reason in `notes`."""
    from portal.labs.kernels.engine import ops
    from portal.labs.kernels.engine.suite import CPP_KERNELS

    impls = list(params.impls)
    if "cpp" in impls and set(params.kernels) & set(CPP_KERNELS):
        ctx.log("building/loading the C++ custom operator (first build ~15-60 s, then cached)")
        try:
            loaded = ops.load(data_dir=settings.PORTAL_DATA_DIR)
            ctx.log(f"custom op library: {loaded.library.name} (CUDA kernels: {loaded.cuda})")
            if on_gpu and not loaded.cuda:
                impls.remove("cpp")
                notes.append("the C++ operator was built without CUDA: not run on the GPU")
        except Exception as exc:
            impls.remove("cpp")
            notes.append(f"the C++ operator could not be built: {type(exc).__name__}: {exc}")
            ctx.log(traceback.format_exc())
    return impls


def run_kernel_lab(params: KernelLabParams, ctx: RunContext) -> dict[str, Any]:
    from portal.labs.kernels import services
    from portal.labs.kernels.engine import interpret
    from portal.labs.kernels.engine.suite import AttentionShape
    from portal.labs.kernels.engine.sweep import Point, SweepConfig, run_sweep

    device, peaks, notes = _measure_device(ctx)
    on_gpu = device.type == "cuda"
    impls = _runnable_impls(params, on_gpu, notes, ctx)
    check_triton_in_interpreter = "triton" in impls and not on_gpu
    timed_impls = [i for i in impls if on_gpu or i != "triton"]

    sweep = services.start_sweep(
        device=str(device),
        device_name=peaks.name,
        peaks=peaks.as_dict(),
        params=params.model_dump(),
        notes=notes,
        run_id=ctx.run_id,
    )
    attn = AttentionShape(params.attn_batch, params.attn_heads, params.attn_head_dim, params.causal)
    cfg = SweepConfig(
        kernels=params.kernels,
        dtypes=params.dtypes,
        sizes=params.sizes,
        impls=timed_impls,
        device=device,
        attn=attn,
        trials=params.trials,
        target_ms=params.target_ms,
        max_reps=params.max_reps,
        # The plain-PyTorch tiled loops are for reading; past this they only burn time.
        size_caps={"torch_online": 2048},
    )
    per_combo = len(timed_impls) + (1 if check_triton_in_interpreter else 0)
    total = max(1, len(params.kernels) * len(params.dtypes) * len(params.sizes) * per_combo)
    points: list[dict[str, Any]] = []

    def on_point(point: Point | dict[str, Any]) -> None:
        data = point.as_dict() if isinstance(point, Point) else point
        points.append(data)
        services.record_point(sweep=sweep, point=data)
        _stream_point(ctx, data)
        ctx.progress(
            min(1.0, len(points) / total), f"{data['kernel']} {data['impl']} n={data['n']}"
        )

    failed = False
    try:
        run_sweep(cfg, peaks, on_point=on_point, should_stop=ctx.cancelled, log=ctx.log)
        ctx.check_cancelled()
        if check_triton_in_interpreter:
            ctx.log("checking the Triton kernels through the interpreter (TRITON_INTERPRET=1)")
            for row in interpret.run_checks(
                params.kernels,
                params.dtypes,
                params.sizes,
                head_dim=params.attn_head_dim,
                causal=params.causal,
            ):
                row["status"] = "ok" if row.pop("ok") else "incorrect"
                row.update(device="cpu (Triton interpreter)", interpreted=True)
                on_point(row)
                ctx.check_cancelled()
    except BaseException:
        failed = True
        raise
    finally:
        services.finish_sweep(sweep=sweep, failed=failed)

    table = [_table_row(p) for p in points]
    ctx.table("results", table)
    incorrect = [p for p in points if p["status"] != "ok"]
    ctx.progress(1.0, "done")
    return {
        "sweep_id": sweep.pk,
        "device": str(device),
        "peaks": peaks.as_dict(),
        "notes": notes,
        "points": len(points),
        "incorrect": len(incorrect),
        "table": table,
    }


KERNEL_LAB = Lab(
    id="kernels",
    title=_("Kernel lab: custom operators, Triton and an honest benchmark"),
    description=_(
        "Vector add, fused softmax, layer norm, tiled matmul and FlashAttention-style "
        "attention, each checked against a float64 reference on fresh random inputs and "
        "timed with cache flushes and device timers beside PyTorch eager and torch.compile; "
        "results placed on the device's roofline. Triton kernels run on GPU workers and "
        "are checked through the interpreter on CPU workers; the C++ operator runs on both."
    ),
    params=KernelLabParams,
    result=KernelLabResult,
    run=run_kernel_lab,
    device=DeviceClass.ANY,
    week=10,
    time_limit_s=20 * 60,
    idempotent=True,
    tags=("kernels", "triton", "cuda", "roofline"),
)
