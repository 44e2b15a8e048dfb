"""Kernel lab on a GPU, in one call: every kernel checked, timed and placed on the roofline.

    python bench/kernels_gpu.py --quick            # ~2-3 min on an H100/H200
    python bench/kernels_gpu.py                    # full sweep, ~5 min
    python bench/kernels_gpu.py --json out.json    # then: manage.py loadkernelbench out.json
    python bench/kernels_gpu.py --device cpu --quick   # smoke test without a GPU

Needs only torch and triton (no Django, no database): it imports the lab's engine
package directly. Prints one line per point as it goes, then the table and the
issue's targets (fraction of the measured copy bandwidth for the memory-bound
kernels, ratio to cuBLAS / SDPA for matmul and attention).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Import portal.labs.kernels.engine without running portal/__init__.py (Celery).
_pkg = types.ModuleType("portal")
_pkg.__path__ = [str(ROOT / "portal")]
sys.modules.setdefault("portal", _pkg)

import torch  # noqa: E402

from portal.labs.kernels.engine import ops  # noqa: E402
from portal.labs.kernels.engine.peaks import device_peaks  # noqa: E402
from portal.labs.kernels.engine.suite import AttentionShape  # noqa: E402
from portal.labs.kernels.engine.sweep import (  # noqa: E402
    Point,
    SweepConfig,
    format_table,
    run_sweep,
)

ATTN = AttentionShape(batch=4, heads=16, head_dim=64, causal=False)


@dataclass
class Group:
    kernels: list[str]
    dtypes: list[str]
    sizes: list[int]
    impls: list[str]
    attn: AttentionShape = field(default_factory=AttentionShape)


def plan(quick: bool, gpu: bool) -> list[Group]:
    base = ["eager", "compiled", "triton", "cpp"] if gpu else ["eager", "cpp", "torch_online"]
    if not gpu:  # smoke test: tiny and fast
        return [
            Group(["vector_add", "softmax", "layer_norm"], ["float32"], [128], base),
            Group(["matmul", "attention"], ["float32"], [64], base, AttentionShape(1, 2, 32)),
        ]
    if quick:
        return [
            Group(["vector_add", "softmax", "layer_norm"], ["bfloat16"], [4096, 8192], base),
            Group(["matmul"], ["bfloat16"], [4096], base),
            Group(["attention"], ["bfloat16"], [4096], base, ATTN),
        ]
    return [
        Group(
            ["vector_add", "softmax", "layer_norm"],
            ["bfloat16", "float32"],
            [2048, 4096, 8192],
            base,
        ),
        Group(["matmul"], ["bfloat16", "float16"], [2048, 4096, 8192], base),
        Group(["matmul"], ["float32"], [2048], ["eager", "triton"]),
        Group(["attention"], ["bfloat16"], [1024, 2048, 4096], base, ATTN),
        Group(
            ["attention"],
            ["bfloat16"],
            [4096],
            ["eager", "triton"],
            AttentionShape(4, 16, 64, True),
        ),
    ]


def targets(points: list[Point]) -> list[dict]:
    """The issue's targets, read off the points of this run."""
    ok = [p for p in points if p.status == "ok" and p.median_ms]

    def find(kernel: str, impl: str, dtype: str = "bfloat16", n: int | None = None) -> Point | None:
        hits = [p for p in ok if (p.kernel, p.impl, p.dtype) == (kernel, impl, dtype)]
        if n is not None:
            hits = [p for p in hits if p.n == n]
        return max(hits, key=lambda p: p.n) if hits else None

    rows = []
    for kernel, goal in (("softmax", 0.80), ("layer_norm", 0.80), ("vector_add", 0.85)):
        p = find(kernel, "triton")
        value = p.frac_copy_bw if p else None
        rows.append({
            "target": f"{kernel} triton bf16 ≥ {goal:.0%} of measured copy bandwidth",
            "value": None if value is None else f"{value:.0%} at n={p.n} ({p.gbs:.0f} GB/s)",
            "met": value is not None and value >= goal,
        })  # fmt: skip
    for kernel, n, goal, base in (
        ("matmul", 4096, 0.70, "cuBLAS"),
        ("attention", 4096, 0.80, "SDPA"),
    ):
        mine, ref = find(kernel, "triton", n=n), find(kernel, "eager", n=n)
        ratio = ref.median_ms / mine.median_ms if mine and ref else None
        shape = mine.shape if mine else f"n={n}"
        rows.append({
            "target": f"{kernel} triton bf16 {shape} ≥ {goal:.2f}x {base}",
            "value": None if ratio is None else (
                f"{ratio:.2f}x ({mine.tflops:.0f} vs {ref.tflops:.0f} TFLOP/s)"
            ),
            "met": ratio is not None and ratio >= goal,
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer sizes and dtypes")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke test")
    parser.add_argument("--json", type=Path, help="write peaks, points and targets here")
    parser.add_argument("--no-cpp", action="store_true", help="skip building the C++/CUDA op")
    parser.add_argument(
        "--budget-s", type=float, default=280.0, help="stop starting groups after this"
    )
    parser.add_argument("--target-ms", type=float, default=None, help="timing budget per point")
    args = parser.parse_args()

    t_start = time.perf_counter()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    if gpu and not torch.cuda.is_available():
        print("no CUDA device: run on a GPU machine, or pass --device cpu for a smoke test")
        return 2
    notes: list[str] = []
    print(f"torch {torch.__version__}", end="")
    try:
        import triton

        print(f" · triton {triton.__version__}", end="")
    except ImportError:
        notes.append("triton is not importable: triton points will be errors")
    print(f" · device {torch.cuda.get_device_name(device) if gpu else 'cpu'}", flush=True)

    peaks = device_peaks(device)
    print(
        f"peaks ({peaks.source}): {peaks.mem_gbs:.0f} GB/s, "
        + ", ".join(f"{k} {v:.1f} TFLOP/s" for k, v in peaks.tflops.items())
        + f"; measured device copy {peaks.copy_gbs:.0f} GB/s (read+write)",
        flush=True,
    )

    groups = plan(args.quick, gpu)
    if not args.no_cpp:
        t0 = time.perf_counter()
        try:
            loaded = ops.load(data_dir=Path(os.environ.get("PORTAL_DATA_DIR", ROOT / ".data")))
            print(
                f"C++ op built/loaded in {time.perf_counter() - t0:.0f} s (CUDA: {loaded.cuda})",
                flush=True,
            )
            if gpu and not loaded.cuda:
                notes.append("C++ op built without CUDA (no nvcc?): cpp skipped on the GPU")
                args.no_cpp = True
        except Exception as exc:
            traceback.print_exc()
            notes.append(f"C++ op build failed: {type(exc).__name__}: {exc}"[:300])
            args.no_cpp = True
    if args.no_cpp:
        for g in groups:
            g.impls = [i for i in g.impls if i != "cpp"]

    target_ms = args.target_ms or (40.0 if args.quick else 80.0)
    points: list[Point] = []

    def on_point(p: Point) -> None:
        t = (
            f"{p.median_ms:.4f} ms ±{p.spread_pct:.0f}% {p.gbs:.0f} GB/s {p.tflops:.2f} TFLOP/s"
            if p.median_ms
            else ""
        )
        print(
            f"[{time.perf_counter() - t_start:6.1f}s] {p.kernel:<10} {p.impl:<12} {p.dtype:<8} "
            f"n={p.n:<5} {p.status:<9} {t} {p.reason}",
            flush=True,
        )

    for group in groups:
        if time.perf_counter() - t_start > args.budget_s:
            notes.append(f"time budget spent: skipped {group.kernels} {group.dtypes} {group.sizes}")
            print(notes[-1], flush=True)
            continue
        cfg = SweepConfig(
            kernels=group.kernels,
            dtypes=group.dtypes,
            sizes=group.sizes,
            impls=group.impls,
            device=device,
            attn=group.attn,
            trials=2,
            target_ms=target_ms,
            max_reps=200 if gpu else 10,
            size_caps={"torch_online": 1024},
        )
        try:
            points += run_sweep(cfg, peaks, on_point=on_point, log=print)
        except Exception:
            traceback.print_exc()
            notes.append(f"group {group.kernels} failed; see the log")

    print()
    print(format_table(points))
    print()
    goal_rows = targets(points) if gpu else []
    for row in goal_rows:
        verdict = "MET " if row["met"] else "MISS"
        print(f"{verdict}  {row['target']}: {row['value'] or 'no measurement'}")
    for note in notes:
        print(f"note: {note}")
    wrong = [p for p in points if p.status != "ok"]
    print(
        f"\n{len(points)} points, {len(wrong)} not ok, {time.perf_counter() - t_start:.0f} s in all"
    )

    if args.json:
        payload = {
            "peaks": peaks.as_dict(),
            "params": {"quick": args.quick, "device": str(device), "torch": torch.__version__},
            "notes": notes,
            "points": [p.as_dict() for p in points],
            "targets": goal_rows,
        }
        args.json.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.json}")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
