"""Checking and timing kernels so that a fast wrong answer, or a fast timer trick, never counts.

Every safeguard here is named in SAFEGUARDS, which the lab page shows to the
learner; the tests in tests/labs/kernels/test_harness.py plant a kernel that breaks
each rule and expect the harness to catch it.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .catalog import (
    SAFEGUARDS,  # noqa: F401  (re-exported for the tests and the bench)
    TOLERANCES_BY_NAME,
)

Inputs = tuple[torch.Tensor, ...]
KernelFn = Callable[..., torch.Tensor]

# Per-dtype tolerances (catalog.TOLERANCES_BY_NAME) by torch dtype.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    getattr(torch, name): tol for name, tol in TOLERANCES_BY_NAME.items()
}


@dataclass
class CheckResult:
    ok: bool
    reason: str = ""
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0  # max |out-ref| / (atol*rms + rtol*|ref|): <= 1 passes
    checks: int = 0

    def merge(self, other: CheckResult) -> CheckResult:
        return CheckResult(
            ok=self.ok and other.ok,
            reason=self.reason or other.reason,
            max_abs_err=max(self.max_abs_err, other.max_abs_err),
            max_rel_err=max(self.max_rel_err, other.max_rel_err),
            checks=self.checks + other.checks,
        )


@dataclass
class Timing:
    times_ms: list[float]
    wall_ms: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    def quantile(self, q: float) -> float:
        xs = sorted(self.times_ms)
        if len(xs) == 1:
            return xs[0]
        pos = q * (len(xs) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    @property
    def spread_pct(self) -> float:
        return 100.0 * (self.quantile(0.8) - self.quantile(0.2)) / max(self.median_ms, 1e-12)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def poison_allocator(nbytes: int, device: torch.device) -> None:
    """Leave 0xFF bytes (NaN in every float format) where the next allocation is likely to land."""
    if nbytes <= 0:
        return
    block = torch.empty(nbytes, dtype=torch.uint8, device=device)
    block.fill_(0xFF)
    del block


def check_output(
    out: object, ref: torch.Tensor, dtype: torch.dtype, device: torch.device
) -> CheckResult:
    """Compare one output against its float64 reference."""
    if not isinstance(out, torch.Tensor):
        return CheckResult(False, f"returned {type(out).__name__}, not a tensor", checks=1)
    if tuple(out.shape) != tuple(ref.shape):
        return CheckResult(False, f"shape {tuple(out.shape)} != {tuple(ref.shape)}", checks=1)
    if out.dtype != dtype:
        return CheckResult(False, f"dtype {out.dtype} != {dtype}", checks=1)
    if out.device.type != device.type:
        return CheckResult(False, f"device {out.device} != {device}", checks=1)
    got = out.detach().to(torch.float64)
    want = ref.to(device=got.device, dtype=torch.float64)
    finite = torch.isfinite(got)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        return CheckResult(
            False, f"{bad} of {got.numel()} outputs are NaN/Inf (unwritten or overflowed)", checks=1
        )
    atol, rtol = TOLERANCES[dtype]
    rms = float(want.square().mean().sqrt()) if want.numel() else 0.0
    err = (got - want).abs()
    allowed = atol * max(rms, 1e-30) + rtol * want.abs()
    ratio = float((err / allowed).max()) if err.numel() else 0.0
    max_abs = float(err.max()) if err.numel() else 0.0
    if ratio > 1.0:
        wrong = int((err > allowed).sum())
        return CheckResult(
            False,
            f"{wrong} of {got.numel()} outputs outside tolerance (max |err| {max_abs:.3g})",
            max_abs,
            ratio,
            checks=1,
        )
    return CheckResult(True, "", max_abs, ratio, checks=1)


def _storages(tensors: Sequence[torch.Tensor]) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in tensors}


def call_checked(
    fn: KernelFn,
    inputs: Inputs,
    ref: torch.Tensor,
    dtype: torch.dtype,
    device: torch.device,
) -> CheckResult:
    """One call of `fn` on `inputs` under the poisoned-output and unmodified-input rules."""
    before = [t.clone() for t in inputs]
    poison_allocator(ref.numel() * torch.empty((), dtype=dtype).element_size(), device)
    try:
        out = fn(*inputs)
        synchronize(device)
    except Exception as exc:  # a kernel that crashes is a failed check, not a crashed lab
        return CheckResult(False, f"raised {type(exc).__name__}: {exc}"[:300], checks=1)
    for i, (t, saved) in enumerate(zip(inputs, before, strict=True)):
        if not torch.equal(t, saved):
            return CheckResult(False, f"input {i} was modified by the kernel", checks=1)
    if (
        isinstance(out, torch.Tensor)
        and out.numel()
        and (out.untyped_storage().data_ptr() in _storages(inputs))
    ):
        return CheckResult(False, "the output aliases an input", checks=1)
    return check_output(out, ref, dtype, device)


def check_kernel(
    fn: KernelFn,
    make_inputs: Callable[[int], Inputs],
    reference: Callable[[Inputs], torch.Tensor],
    dtype: torch.dtype,
    device: torch.device,
    *,
    trials: int = 3,
    seed: int | None = None,
) -> CheckResult:
    """Run `fn` on `trials` sets of fresh inputs; every one must match its own reference."""
    base = seed if seed is not None else time.time_ns() % (2**31)
    result = CheckResult(True)
    for trial in range(trials):
        inputs = make_inputs(base + 7919 * trial)
        ref = reference(inputs)
        result = result.merge(call_checked(fn, inputs, ref, dtype, device))
        if not result.ok:
            result.reason = f"check {trial + 1}/{trials}: {result.reason}"
            return result
    return result


class CacheFlusher:
    """Writes a buffer larger than the last-level cache between timed repetitions."""

    def __init__(self, device: torch.device, nbytes: int | None = None) -> None:
        if nbytes is None:
            nbytes = 256 * 2**20 if device.type == "cuda" else 4 * llc_bytes()
        self.nbytes = nbytes
        self.buffer = torch.empty(nbytes // 4, dtype=torch.int32, device=device)

    def __call__(self) -> None:
        self.buffer.zero_()


def llc_bytes() -> int:
    """The largest CPU cache level (16 MiB if unknown)."""
    return last_level_cache_bytes() or 16 * 2**20


@functools.cache
def last_level_cache_bytes() -> int | None:
    """The largest CPU cache of cpu0 from sysfs, e.g. 32 MiB for an L3; None where unknown."""
    from pathlib import Path

    sizes = []
    for size_file in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            raw = size_file.read_text().strip().upper()
        except OSError:
            continue
        unit = {"K": 2**10, "M": 2**20, "G": 2**30}.get(raw[-1:], 1)
        digits = raw.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * unit)
    return max(sizes, default=None)


def time_kernel(
    fn: KernelFn,
    input_sets: Sequence[Inputs],
    device: torch.device,
    *,
    warmup: int = 3,
    min_reps: int = 5,
    max_reps: int = 200,
    target_ms: float = 200.0,
    flusher: CacheFlusher | None = None,
) -> tuple[Timing, torch.Tensor, int]:
    """Median-of-many timing, rotating over `input_sets`.

    Returns the timing, the output of the last call and the index of the input set
    that produced it, so the caller can check that output too.
    """
    out = None
    for i in range(warmup):
        out = fn(*input_sets[i % len(input_sets)])
    synchronize(device)
    # Estimate a single call to choose the number of repetitions (like triton's do_bench).
    t0 = time.perf_counter()
    for i in range(2):
        out = fn(*input_sets[i % len(input_sets)])
    synchronize(device)
    estimate_ms = max((time.perf_counter() - t0) * 1e3 / 2, 1e-4)
    reps = int(min(max_reps, max(min_reps, target_ms / estimate_ms)))

    times: list[float] = []
    if device.type == "cuda":
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
        for i in range(reps):
            if flusher is not None:
                flusher()
            starts[i].record()
            out = fn(*input_sets[i % len(input_sets)])
            ends[i].record()
        torch.cuda.synchronize(device)
        times = [s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)]
    else:
        for i in range(reps):
            if flusher is not None:
                flusher()
            t0 = time.perf_counter_ns()
            out = fn(*input_sets[i % len(input_sets)])
            times.append((time.perf_counter_ns() - t0) / 1e6)
    timing = Timing(times_ms=times)

    # Wall-clock cross-check: back-to-back calls, synchronized at both ends.
    batch = max(1, min(reps, 20))
    synchronize(device)
    t0 = time.perf_counter()
    for i in range(batch):
        out = fn(*input_sets[i % len(input_sets)])
    synchronize(device)
    timing.wall_ms = (time.perf_counter() - t0) * 1e3 / batch
    median = timing.median_ms
    if device.type == "cuda" and timing.wall_ms - median > max(0.5 * timing.wall_ms, 0.2):
        timing.warnings.append(
            f"events say {median:.3f} ms but the wall clock {timing.wall_ms:.3f} ms per call: "
            "work may run outside the timed stream"
        )
    assert out is not None
    return timing, out, (batch - 1) % len(input_sets)
