"""Run the suite: for each kernel, dtype, size and implementation, check, then time, then place on the roofline."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .harness import (
    CacheFlusher,
    CheckResult,
    call_checked,
    check_kernel,
    check_output,
    time_kernel,
)
from .peaks import DevicePeaks
from .suite import DTYPES, AttentionShape, Problem, impl_supported, implementation


@dataclass
class Point:
    kernel: str
    impl: str
    dtype: str
    n: int
    shape: str
    device: str
    status: str  # ok | incorrect | error | skipped
    reason: str = ""
    checks: int = 0
    max_abs_err: float | None = None
    err_ratio: float | None = None  # worst |err| / allowed; <= 1 passes
    median_ms: float | None = None
    p20_ms: float | None = None
    p80_ms: float | None = None
    min_ms: float | None = None
    spread_pct: float | None = None
    wall_ms: float | None = None
    reps: int = 0
    bytes: int = 0
    flops: int = 0
    intensity: float = 0.0  # flops per byte
    gbs: float | None = None
    tflops: float | None = None
    roof_tflops: float | None = None  # min(peak compute, intensity * peak bandwidth)
    frac_roofline: float | None = None
    frac_copy_bw: float | None = None
    speedup_vs_eager: float | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SweepConfig:
    kernels: Sequence[str]
    dtypes: Sequence[str]
    sizes: Sequence[int]
    impls: Sequence[str]
    device: torch.device
    attn: AttentionShape = AttentionShape()
    trials: int = 3
    warmup: int = 3
    target_ms: float = 200.0
    min_reps: int = 5
    max_reps: int = 200
    input_sets: int = 2
    flush: bool = True
    # Sizes above which an implementation is not run (too slow to be useful here).
    size_caps: dict[str, int] = field(default_factory=dict)


def roofline(point: Point, peaks: DevicePeaks) -> None:
    """Fill achieved rates and fractions of the roof for a timed point."""
    if point.median_ms is None or point.median_ms <= 0:
        return
    seconds = point.median_ms / 1e3
    point.gbs = point.bytes / seconds / 1e9
    point.tflops = point.flops / seconds / 1e12
    point.intensity = point.flops / max(point.bytes, 1)
    peak_compute = peaks.peak_tflops(point.dtype)
    point.roof_tflops = min(peak_compute, point.intensity * peaks.mem_gbs / 1e3)
    if point.roof_tflops > 0:
        point.frac_roofline = point.tflops / point.roof_tflops
    if peaks.copy_gbs:
        point.frac_copy_bw = point.gbs / peaks.copy_gbs


def run_point(problem: Problem, impl: str, cfg: SweepConfig, flusher: CacheFlusher | None) -> Point:
    point = Point(
        kernel=problem.kernel,
        impl=impl,
        dtype=problem.dtype_name,
        n=problem.n,
        shape=problem.shape_text(),
        device=str(cfg.device),
        status="ok",
        bytes=problem.bytes,
        flops=problem.flops,
    )
    point.intensity = point.flops / max(point.bytes, 1)
    try:
        fn = implementation(problem, impl)
        check: CheckResult = check_kernel(
            fn, problem.make_inputs, problem.reference, problem.dtype, cfg.device, trials=cfg.trials
        )
    except Exception as exc:
        point.status, point.reason = "error", f"{type(exc).__name__}: {exc}"[:400]
        return point
    point.checks = check.checks
    point.max_abs_err, point.err_ratio = check.max_abs_err, check.max_rel_err
    if not check.ok:
        # A wrong kernel gets no time: speed of a wrong answer is meaningless.
        point.status, point.reason = "incorrect", check.reason
        return point

    seed = time.time_ns() % (2**31)
    input_sets = [problem.make_inputs(seed + 104729 * i) for i in range(cfg.input_sets)]
    timing, out, last = time_kernel(
        fn,
        input_sets,
        cfg.device,
        warmup=cfg.warmup,
        min_reps=cfg.min_reps,
        max_reps=cfg.max_reps,
        target_ms=cfg.target_ms,
        flusher=flusher,
    )
    ref = problem.reference(input_sets[last])

    timed_check = check_output(out, ref, problem.dtype, cfg.device)
    # Refill the inputs in place (same addresses, new values) and check again:
    # a kernel caching results by pointer now returns a stale answer.
    refill = problem.make_inputs(seed + 15485863)
    for dst, src in zip(input_sets[0], refill, strict=True):
        dst.copy_(src)
    same_address = call_checked(
        fn, input_sets[0], problem.reference(input_sets[0]), problem.dtype, cfg.device
    )
    for label, result in (("timed output", timed_check), ("same-address refill", same_address)):
        point.checks += result.checks
        if not result.ok:
            point.status, point.reason = "incorrect", f"{label}: {result.reason}"
            return point
    point.median_ms = timing.median_ms
    point.p20_ms, point.p80_ms = timing.quantile(0.2), timing.quantile(0.8)
    point.min_ms = min(timing.times_ms)
    point.spread_pct = timing.spread_pct
    point.wall_ms = timing.wall_ms
    point.reps = len(timing.times_ms)
    point.warnings = list(timing.warnings)
    return point


def run_sweep(
    cfg: SweepConfig,
    peaks: DevicePeaks,
    *,
    on_point: Callable[[Point], None] = lambda p: None,
    should_stop: Callable[[], bool] = lambda: False,
    log: Callable[[str], None] = lambda s: None,
) -> list[Point]:
    """Every (kernel, dtype, size, impl) in order; eager first so later points get a speed-up."""
    flusher = CacheFlusher(cfg.device) if cfg.flush else None
    impls = ["eager", *[i for i in cfg.impls if i != "eager"]]
    points: list[Point] = []
    for kernel in cfg.kernels:
        for dtype_name in cfg.dtypes:
            for n in cfg.sizes:
                problem = Problem(kernel, n, DTYPES[dtype_name], cfg.device, cfg.attn)
                eager_ms: float | None = None
                for impl in impls:
                    if should_stop():
                        return points
                    if not impl_supported(kernel, impl):
                        continue
                    cap = cfg.size_caps.get(impl)
                    if cap is not None and n > cap:
                        continue
                    try:
                        point = run_point(problem, impl, cfg, flusher)
                    except Exception as exc:  # never let one point end the sweep
                        log(traceback.format_exc())
                        point = Point(
                            kernel,
                            impl,
                            dtype_name,
                            n,
                            problem.shape_text(),
                            str(cfg.device),
                            "error",
                            f"{type(exc).__name__}: {exc}"[:400],
                        )
                    roofline(point, peaks)
                    if impl == "eager" and point.median_ms:
                        eager_ms = point.median_ms
                    if eager_ms and point.median_ms:
                        point.speedup_vs_eager = eager_ms / point.median_ms
                    points.append(point)
                    on_point(point)
                    if cfg.device.type == "cuda":
                        torch.cuda.empty_cache()
    return points


def format_table(points: Sequence[Point]) -> str:
    header = (
        f"{'kernel':<11} {'impl':<12} {'dtype':<9} {'n':>6} {'status':<9} {'median ms':>10} "
        f"{'±spread':>8} {'GB/s':>8} {'TFLOP/s':>8} {'%roof':>6} {'%copy':>6} {'vs eager':>8}"
    )
    lines = [header, "-" * len(header)]

    def f(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    for p in points:
        lines.append(
            f"{p.kernel:<11} {p.impl:<12} {p.dtype:<9} {p.n:>6} {p.status:<9} "
            f"{f(p.median_ms, '.4f'):>10} {f(p.spread_pct, '.1f'):>7}% {f(p.gbs, '.1f'):>8} "
            f"{f(p.tflops, '.2f'):>8} {f(p.frac_roofline and 100 * p.frac_roofline, '.0f'):>6} "
            f"{f(p.frac_copy_bw and 100 * p.frac_copy_bw, '.0f'):>6} "
            f"{f(p.speedup_vs_eager, '.2f'):>8}"
        )
        if p.status != "ok" and p.reason:
            lines.append(f"    {p.reason}")
        for w in p.warnings:
            lines.append(f"    warning: {w}")
    return "\n".join(lines)
