"""One prepared device check: the portal's GPU paths on one NVIDIA GPU, in one call.

    bash bench/gpu_check.sh --out $OUT          # on a lent GPU machine (installs carried wheels)
    python bench/gpu_check.py --out DIR         # the same without the wheel step
    python bench/gpu_check.py --cpu-smoke --out DIR   # every section at toy sizes on a CPU

Writes DIR/gpu_report.json and DIR/gpu_report.md (rewritten after every section, so a
killed run still leaves what it measured). Sections, each guarded so one failure is
recorded and the rest still run, under one global deadline (default 450 s on a GPU):

- environment: versions, the GPU's identity through the HAL (NVML);
- peaks: copy bandwidth and bf16/fp16/fp32 matmul measured with CUDA events next to the
  HAL's datasheet figures; the engine's own synchronised quick fp32 measurement too;
- kernels: the kernel lab's engine at real sizes, every kernel x implementation x dtype
  checked, timed with CUDA events and an L2 flush, on the roofline, against eager /
  torch.compile / cuBLAS / SDPA with the kernel issue's targets;
- custom_op: the C++/CUDA operator built with nvcc (cpp_extension), opcheck'd and run
  under torch.compile(fullgraph=True);
- telemetry: the HAL's TelemetrySampler reading NVML during the kernel sweep, and what a
  reading costs;
- llm_quant: torchao int8 weight-only and int8 dynamic vs bf16 on a small causal LM built
  from a config (random weights), each variant in its own process: weight and peak memory
  ratios, tokens/s at batch 1 and 32;
- ppo: PPO on CartPole with the policy on cuda vs cpu, steps/s, SB3's own warning.

Needs only what a bare GPU machine has (torch, triton, transformers, nvidia-ml-py) plus
carried wheels for torchao, stable-baselines3 and gymnasium (bench/gpu_check_wheels.sh);
no Django, no database, no network. It imports the labs' own Django-free modules (the
block marked PORTAL IMPORTS below), never copies of them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# ==== PORTAL IMPORTS ===========================================================================
# The only place this script names portal modules. Each key lists candidate module paths,
# tried in order, so a module that moved (e.g. the Agent Sandbox out of portal.labs.hal) is
# found in either place; fix or extend the paths here when modules move. Every module named
# here must import without Django (the test runs this script with Django unimportable).
PORTAL_MODULES: dict[str, tuple[str, ...]] = {
    "ops": ("portal.labs.kernels.engine.ops",),
    "peaks": ("portal.labs.kernels.engine.peaks",),
    "harness": ("portal.labs.kernels.engine.harness",),
    "suite": ("portal.labs.kernels.engine.suite",),
    "sweep": ("portal.labs.kernels.engine.sweep",),
    "hal": ("portal.labs.hal",),
    "hal_peaks": ("portal.labs.hal.peaks",),
    "quantization": ("portal.labs.llm.quantization",),
    "checkpoints": ("portal.labs.llm.checkpoints",),
    "sandbox_training": ("portal.labs.sandbox.training",),
}
# The kernel issue's targets are computed by the kernel bench (one definition of them).
KERNEL_BENCH = ROOT / "bench" / "kernels_gpu.py"
# ===============================================================================================

# Reported in the environment section (installed versions, without importing them).
DISTRIBUTIONS = (
    "triton",
    "transformers",
    "accelerate",
    "torchao",
    "stable-baselines3",
    "gymnasium",
    "nvidia-ml-py",
    "psutil",
    "django",
)
REPORT_JSON = "gpu_report.json"
REPORT_MD = "gpu_report.md"
LOG = "gpu_check.log"
MIB = 2**20

# A sitecustomize for child processes (the LLM variant workers run `python -m
# portal.labs.llm.quantization`): it puts the same portal stub in place, then runs the
# sitecustomize it shadows, if any.
_SITECUSTOMIZE = """\
import importlib, sys, types
if "portal" not in sys.modules:
    _pkg = types.ModuleType("portal")
    _pkg.__path__ = [{portal!r}]
    sys.modules["portal"] = _pkg
sys.modules.pop("sitecustomize", None)
_saved = list(sys.path)
sys.path[:] = [p for p in sys.path if p != {here!r}]
try:
    importlib.import_module("sitecustomize")
except ImportError:
    pass
finally:
    sys.path[:] = _saved
"""


def install_portal_stub() -> None:
    """Import portal.* without running portal/__init__.py, which starts Celery (needs Django)."""
    if "portal" not in sys.modules:
        pkg = types.ModuleType("portal")
        pkg.__path__ = [str(ROOT / "portal")]
        sys.modules["portal"] = pkg


def portal_module(key: str) -> Any:
    """The first importable module of PORTAL_MODULES[key]; ImportError naming all tried."""
    install_portal_stub()
    errors = []
    for name in PORTAL_MODULES[key]:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # this candidate does not exist
                errors.append(f"{name}: {exc}")
                continue
            raise  # it exists but needs something missing here: say what
    raise ImportError(f"none of {PORTAL_MODULES[key]} is importable: {'; '.join(errors)}")


def kernel_targets(points: list[Any]) -> list[dict[str, Any]]:
    sys.path.insert(0, str(KERNEL_BENCH.parent))
    try:
        import kernels_gpu  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(KERNEL_BENCH.parent))
    return kernels_gpu.targets(points)


# --- the report -------------------------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.t0 = time.monotonic()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        return self.seconds - self.elapsed()


class Report:
    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out = out
        self.data: dict[str, Any] = {"meta": meta, "sections": {}}
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def section(self, name: str, title: str) -> Iterator[dict[str, Any]]:
        """Run a section's body; an exception is recorded as the section's failure, not raised."""
        entry: dict[str, Any] = {"title": title, "status": "running", "data": {}, "notes": []}
        self.data["sections"][name] = entry
        started = time.monotonic()
        print(f"== {name}: {title}", flush=True)
        try:
            yield entry
            if entry["status"] == "running":
                entry["status"] = "ok"
        except Exception as exc:  # one failing section must not stop the others
            entry["status"] = "failed"
            entry["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            entry["traceback"] = traceback.format_exc()[-3000:]
            print(entry["traceback"], file=sys.stderr, flush=True)
        finally:
            entry["seconds"] = round(time.monotonic() - started, 1)
            print(f"   {name}: {entry['status']} in {entry['seconds']} s", flush=True)
            self.write()

    def skip(self, name: str, title: str, reason: str) -> None:
        self.data["sections"][name] = {
            "title": title,
            "status": "skipped",
            "reason": reason,
            "data": {},
            "notes": [],
            "seconds": 0.0,
        }
        print(f"== {name}: skipped ({reason})", flush=True)
        self.write()

    def write(self) -> None:
        with self.lock:
            self.out.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(self.data, indent=1, default=str)
            (self.out / REPORT_JSON).write_text(payload)
            (self.out / REPORT_MD).write_text(render_markdown(json.loads(payload)))


def _sig(value: float, digits: int = 4) -> float:
    """Rounded to significant digits: a CPU's 0.004 TFLOP/s must not print as 0.0."""
    return float(f"{value:.{digits}g}")


def _fmt(value: Any, spec: str = ".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = [
        f"# GPU check: {meta.get('device_name', '?')} ({meta['mode']})",
        "",
        f"Run {meta['started_utc']} on host `{meta['host']}`, {meta.get('elapsed_s', '?')} s "
        f"of a {meta['deadline_s']:.0f} s deadline. Generated by `bench/gpu_check.py`.",
    ]
    if meta["mode"] == "cpu-smoke":
        lines += [
            "",
            "**CPU smoke run: toy sizes, no GPU. These figures say nothing about a GPU; they "
            "show that every section runs.**",
        ]
    lines += ["", "| section | status | seconds |", "|---|---|---|"]
    for name, sec in data["sections"].items():
        status = sec["status"] + (
            f": {sec.get('reason') or sec.get('error')}" if sec["status"] != "ok" else ""
        )
        lines.append(f"| {name} | {status.replace('|', '/')} | {sec['seconds']} |")
    for name, sec in data["sections"].items():
        lines += ["", f"## {name}: {sec['title']}", ""]
        if sec["status"] != "ok":
            lines.append(f"**{sec['status']}**: {sec.get('reason') or sec.get('error')}")
            lines.append("")
        renderer = _RENDERERS.get(name)
        if renderer is not None and sec["data"]:
            try:
                lines += renderer(sec["data"])
            except Exception as exc:  # a rendering bug must not lose the JSON
                lines.append(f"(could not render: {type(exc).__name__}: {exc})")
        for note in sec.get("notes", []):
            lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def _md_environment(d: dict[str, Any]) -> list[str]:
    return _table(
        ["item", "value"],
        [[k, json.dumps(v) if isinstance(v, dict | list) else v] for k, v in d.items()],
    )


def _md_peaks(d: dict[str, Any]) -> list[str]:
    rows = [
        [r["figure"], r["measured"], r["datasheet"], r["ratio"], r.get("how", "")]
        for r in d.get("rows", [])
    ]
    out = _table(["figure", "measured", "datasheet (HAL)", "measured / datasheet", "how"], rows)
    if d.get("engine_roof"):
        roof = d["engine_roof"]
        out += ["", f"The kernel lab's roof for this device: {roof.get('source')}, "
                f"{_fmt(roof.get('mem_gbs'))} GB/s, {json.dumps(roof.get('tflops'))} TFLOP/s."]  # fmt: skip
    return out


def _md_kernels(d: dict[str, Any]) -> list[str]:
    out = []
    if d.get("targets"):
        out += ["Targets (the kernel issue's):", ""]
        out += _table(
            ["target", "value", "met"],
            [
                [t["target"], t["value"] or "no measurement", "MET" if t["met"] else "MISS"]
                for t in d["targets"]
            ],
        )
        out.append("")
    if d.get("correctness"):
        out += ["Correctness (kernel x impl x dtype):", ""]
        out += _table(["kernel", "impl", "dtype", "n", "status", "reason"], d["correctness"])
        out.append("")
    if d.get("table"):
        out += ["```", d["table"], "```"]
    return out


def _md_custom_op(d: dict[str, Any]) -> list[str]:
    rows = [[k, v] for k, v in d.items() if not isinstance(v, dict | list)]
    out = _table(["item", "value"], rows)
    if d.get("opcheck"):
        out += ["", *_table(["op", "opcheck"], [[k, v] for k, v in d["opcheck"].items()])]
    return out


def _md_telemetry(d: dict[str, Any]) -> list[str]:
    out = _table(
        ["item", "value"],
        [[k, v] for k, v in d.items() if k != "fields"],
    )
    if d.get("fields"):
        out += ["", *_table(
            ["field", "n", "min", "mean", "max"],
            [[f, s["n"], s["min"], s["mean"], s["max"]] for f, s in d["fields"].items()],
        )]  # fmt: skip
    return out


def _md_llm(d: dict[str, Any]) -> list[str]:
    out = []
    if d.get("model"):
        out += [f"Model: {json.dumps(d['model'])}", ""]
    out += _table(
        ["variant", "linear MiB", "weights MiB", "peak MiB", "weights / bf16", "peak / bf16",
         "tok/s b1", "tok/s b32", "status"],
        [
            [v["variant"], v.get("linear_weight_mib"), v.get("model_weight_mib"), v.get("peak_mib"),
             v.get("weight_ratio"), v.get("peak_ratio"), v.get("tokens_per_s_b1"),
             v.get("tokens_per_s_b32"), v.get("status")]
            for v in d.get("variants", [])
        ],
    )  # fmt: skip
    return out


def _md_ppo(d: dict[str, Any]) -> list[str]:
    out = _table(
        ["policy device", "steps", "seconds", "steps/s", "portal's warning", "SB3 warnings"],
        [
            [r["device"], r.get("steps"), r.get("seconds"), r.get("steps_per_s"),
             "; ".join(r.get("portal_warnings", [])), "; ".join(r.get("sb3_warnings", []))]
            for r in d.get("runs", [])
        ],
    )  # fmt: skip
    if d.get("cuda_vs_cpu") is not None:
        out += ["", f"cuda / cpu steps/s: {_fmt(d['cuda_vs_cpu'])}"]
    return out


_RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "environment": _md_environment,
    "peaks": _md_peaks,
    "kernels": _md_kernels,
    "custom_op": _md_custom_op,
    "telemetry": _md_telemetry,
    "llm_quant": _md_llm,
    "ppo": _md_ppo,
}


# --- the check ----------------------------------------------------------------------------------


class Check:
    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        self.torch = torch
        self.smoke: bool = args.cpu_smoke
        self.device = torch.device("cpu" if self.smoke else "cuda")
        self.gpu = self.device.type == "cuda"
        self.deadline = Deadline(args.deadline_s)
        self.data_dir = Path(args.data_dir or os.environ.get("PORTAL_DATA_DIR") or ROOT / ".data")
        # Set here so no portal module falls back to asking Django's settings.
        os.environ.setdefault("PORTAL_DATA_DIR", str(self.data_dir))
        os.environ.setdefault("LLM_CACHE_DIR", str(self.data_dir / "cache" / "llm"))
        self.work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
        self.report = Report(
            Path(args.out),
            {
                "mode": "cpu-smoke" if self.smoke else "gpu",
                "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "host": platform.node(),
                "deadline_s": args.deadline_s,
                "argv": sys.argv[1:],
            },
        )
        self.op_thread: threading.Thread | None = None
        self.op_loaded: Any = None
        self.op_error: str | None = None
        self.op_seconds: float | None = None
        self.sampler: Any = None
        self.telemetry_points: list[tuple[str, float, float]] = []
        self.telemetry_window: tuple[float, float] | None = None
        self.hal_device: Any = None
        self.copy_gbs: float | None = None
        self.roof: Any = None

    # -- helpers --

    def free(self) -> None:
        import gc

        gc.collect()
        if self.gpu:
            self.torch.cuda.empty_cache()

    def budget(self, want_s: float, reserve_s: float) -> float:
        """Seconds a section may use: what it wants, within the deadline less a reserve."""
        return max(0.0, min(want_s, self.deadline.left() - reserve_s))

    # -- the custom op builds in the background while the GPU is measured --

    def start_op_build(self) -> None:
        ops = portal_module("ops")

        def build() -> None:
            t0 = time.monotonic()
            try:
                self.op_loaded = ops.load(data_dir=self.data_dir)
            except Exception as exc:
                self.op_error = f"{type(exc).__name__}: {exc}"[-2000:]
            self.op_seconds = round(time.monotonic() - t0, 1)

        self.op_thread = threading.Thread(target=build, name="op-build", daemon=True)
        self.op_thread.start()

    def wait_for_op(self, timeout_s: float) -> Any:
        if self.op_thread is not None:
            self.op_thread.join(timeout=max(0.0, timeout_s))
        return self.op_loaded

    # -- sections --

    def environment(self, sec: dict[str, Any]) -> None:
        torch = self.torch
        d = sec["data"]
        d["python"] = platform.python_version()
        d["torch"] = torch.__version__
        d["torch_cuda"] = torch.version.cuda
        d["cuda_available"] = torch.cuda.is_available()
        for dist in DISTRIBUTIONS:
            try:
                d[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                d[dist] = "absent"
        nvcc = shutil.which("nvcc")
        if nvcc:
            out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=30)
            d["nvcc"] = out.stdout.strip().splitlines()[-1] if out.stdout else out.stderr[-200:]
        else:
            d["nvcc"] = "absent"
        if self.gpu:
            props = torch.cuda.get_device_properties(self.device)
            d["gpu"] = props.name
            d["capability"] = f"sm_{props.major}{props.minor}"
            d["multiprocessors"] = props.multi_processor_count
            d["memory_gib"] = round(props.total_memory / 2**30, 1)
            d["l2_mib"] = round(getattr(props, "L2_cache_size", 0) / MIB, 1)
            self.report.data["meta"]["device_name"] = props.name
        hal = portal_module("hal")
        report = hal.discovery_report()
        d["hal_devices"] = [dev.identity.as_dict() for dev in report.devices]
        d["hal_unavailable"] = dict(report.unavailable)
        self.hal_device = hal.device_for_torch(str(self.device))
        if self.hal_device is None:
            sec["notes"].append(f"the HAL knows no device torch calls {self.device}")
        else:
            d["hal_device"] = self.hal_device.key
            if not self.gpu:
                self.report.data["meta"]["device_name"] = self.hal_device.identity.model
        if self.gpu and (self.hal_device is None or self.hal_device.identity.adapter != "nvidia"):
            sec["status"] = "failed"
            sec["error"] = f"NVML did not find the GPU: {report.unavailable.get('nvidia')}"

    def peaks(self, sec: dict[str, Any]) -> None:
        torch = self.torch
        engine_peaks = portal_module("peaks")
        harness = portal_module("harness")
        hal_peaks = portal_module("hal_peaks")
        d = sec["data"]
        model = self.hal_device.identity.model if self.hal_device else str(self.device)
        sheet = self.hal_device.table_peaks() if self.hal_device else hal_peaks.lookup_peaks(model)
        d["datasheet"] = sheet.as_dict()
        rows = []
        copy_bytes = 2 * 2**30 if self.gpu else 32 * MIB
        copy = engine_peaks.measure_copy_bandwidth(self.device, nbytes=copy_bytes)
        rows.append(
            {
                "figure": "copy GB/s (read+write)",
                "measured": _sig(copy),
                "datasheet": sheet.memory_bandwidth_gbps,
                "how": f"engine.peaks.measure_copy_bandwidth, {copy_bytes // MIB} MiB, CUDA events"
                if self.gpu
                else f"engine.peaks.measure_copy_bandwidth, {copy_bytes // MIB} MiB",
            }
        )
        n = 8192 if self.gpu else 256
        flusher = harness.CacheFlusher(self.device)
        for dtype, figure in (
            (torch.bfloat16, sheet.bf16_tflops),
            (torch.float16, sheet.fp16_tflops),
            (torch.float32, sheet.fp32_tflops),
        ):
            gen = torch.Generator(device=self.device).manual_seed(0)
            sets = [
                tuple(
                    torch.randn(n, n, device=self.device, generator=gen).to(dtype) for _ in range(2)
                )
                for _ in range(2)
            ]
            timing, _, _ = harness.time_kernel(
                torch.matmul, sets, self.device, target_ms=300 if self.gpu else 50,
                max_reps=100 if self.gpu else 5, flusher=flusher,
            )  # fmt: skip
            tflops = 2 * n**3 / (timing.median_ms / 1e3) / 1e12
            name = str(dtype).removeprefix("torch.")
            rows.append(
                {
                    "figure": f"{name} matmul TFLOP/s",
                    "measured": _sig(tflops),
                    "datasheet": figure,
                    "how": f"torch.matmul {n}^3, median of {len(timing.times_ms)} "
                    + ("CUDA-event timings" if self.gpu else "timings")
                    + f" with cache flush, spread {timing.spread_pct:.0f}%",
                }
            )
            del sets
            self.free()
        quick_n = 1024 if self.gpu else 256
        quick = engine_peaks._measure_matmul_tflops(self.device, n=quick_n)
        rows.append(
            {
                "figure": "float32 matmul TFLOP/s (engine's quick fallback)",
                "measured": _sig(quick),
                "datasheet": sheet.fp32_tflops,
                "how": f"engine.peaks._measure_matmul_tflops ({quick_n}^3, synchronised wall "
                "clock: the lab's fallback for an unknown chip)",
            }
        )
        for row in rows:
            row["ratio"] = _sig(row["measured"] / row["datasheet"], 3) if row["datasheet"] else None
        d["rows"] = rows
        self.copy_gbs = copy
        self.roof = engine_peaks.device_peaks(self.device, measure_copy=False)
        d["engine_roof"] = self.roof.as_dict()
        if not self.gpu:
            sec["notes"].append("CPU: the datasheet column is the HAL's estimate, if any")
        if self.gpu:
            sec["notes"].append(
                "fp32 matmul is on CUDA cores (TF32 off, torch's default); the datasheet's fp32 "
                "is the CUDA-core rate"
            )

    def kernels(self, sec: dict[str, Any], budget_s: float) -> None:
        suite = portal_module("suite")
        sweep = portal_module("sweep")
        engine_peaks = portal_module("peaks")
        d = sec["data"]
        stop_at = time.monotonic() + budget_s
        peaks = self.roof or engine_peaks.device_peaks(self.device, measure_copy=False)
        peaks.copy_gbs = self.copy_gbs or engine_peaks.measure_copy_bandwidth(
            self.device, nbytes=None if self.gpu else 32 * MIB
        )
        mem_kernels = ["vector_add", "softmax", "layer_norm"]
        if self.gpu:
            attn = suite.AttentionShape(batch=4, heads=16, head_dim=64, causal=False)
            dtypes = ["bfloat16", "float16", "float32"]
            plan = []
            # dtype-major, bf16 first: the targets are bf16, so they land before any deadline.
            for dtype in dtypes:
                plan += [
                    (mem_kernels, [dtype], [8192], ["eager", "compiled", "triton"], attn),
                    (["matmul"], [dtype], [4096], ["eager", "compiled", "triton"], attn),
                    (["attention"], [dtype], [4096], ["eager", "compiled", "triton"], attn),
                ]
            cpp_group = (mem_kernels, dtypes, [8192], ["eager", "cpp"], attn)
            target_ms, max_reps, trials = 60.0, 100, 2
            sec["notes"].append(
                "torch_online (the plain-PyTorch tiled loops, for reading) is not timed at these sizes"
            )
        else:
            attn = suite.AttentionShape(batch=1, heads=2, head_dim=16, causal=False)
            impls = ["eager", "torch_online"]
            plan = [
                (mem_kernels, ["float32", "bfloat16"], [64], impls, attn),
                (["matmul", "attention"], ["float32"], [32], impls, attn),
            ]
            cpp_group = (mem_kernels, ["float32", "bfloat16"], [64], ["eager", "cpp"], attn)
            target_ms, max_reps, trials = 2.0, 3, 1
            sec["notes"].append(
                "CPU smoke: triton needs a GPU (the lab checks it in the interpreter) and "
                "torch.compile's C++ build is too slow for a smoke run: both left out"
            )
        d["plan"] = [
            {"kernels": k, "dtypes": t, "sizes": s, "impls": i}
            for k, t, s, i, _ in [*plan, cpp_group]
        ]
        points: list[Any] = []

        def on_point(p: Any) -> None:
            ms = f"{p.median_ms:.4f} ms" if p.median_ms else ""
            print(
                f"   [{self.deadline.elapsed():5.0f}s] {p.kernel:<10} {p.impl:<12} {p.dtype:<8} "
                f"n={p.n:<5} {p.status:<9} {ms} {p.reason[:120]}",
                flush=True,
            )

        def run_group(group: tuple[Any, ...], stop_at: float) -> list[Any]:
            kernels, dtypes, sizes, group_impls, group_attn = group
            if time.monotonic() > stop_at:
                sec["notes"].append(f"deadline: not run {group_impls} {kernels} {dtypes} n={sizes}")
                return []
            cfg = sweep.SweepConfig(
                kernels=kernels,
                dtypes=dtypes,
                sizes=sizes,
                impls=group_impls,
                device=self.device,
                attn=group_attn,
                trials=trials,
                target_ms=target_ms,
                max_reps=max_reps,
                size_caps={"torch_online": 1024},
            )
            found = sweep.run_sweep(
                cfg,
                peaks,
                on_point=on_point,
                should_stop=lambda: time.monotonic() > stop_at,
                log=lambda s: print(s, file=sys.stderr),
            )
            self.free()
            return found

        self.start_sampler()
        try:
            # the cpp group (last) keeps its share of the budget
            for group in plan:
                points += run_group(group, stop_at - (25 if self.gpu else 3))
            # The custom op has been building (nvcc) since the start, while the GPU was busy
            # with the rest: its points come last, with eager re-timed beside them.
            loaded = self.wait_for_op(max(0.0, stop_at - time.monotonic() - 10))
            if loaded is None:
                why = self.op_error or "still building when the sweep's time ran out"
                sec["notes"].append(f"cpp impl not run: the custom op is unavailable ({why[:300]})")
            elif self.gpu and not loaded.cuda:
                sec["notes"].append("cpp impl not run: the op was built without CUDA kernels")
            else:
                cpp_points = run_group(cpp_group, stop_at)
                # eager was timed again only as this group's baseline: keep the first timing
                points += [p for p in cpp_points if p.impl != "eager"]
        finally:
            self.stop_sampler()
        d["peaks"] = peaks.as_dict()
        d["points"] = [p.as_dict() for p in points]
        d["table"] = sweep.format_table(points)
        d["correctness"] = [
            [p.kernel, p.impl, p.dtype, p.n, p.status, p.reason[:160]] for p in points
        ]
        d["counts"] = {
            status: sum(1 for p in points if p.status == status)
            for status in ("ok", "incorrect", "error")
        }
        if self.gpu:
            d["targets"] = kernel_targets(points)
        not_ok = [p for p in points if p.status != "ok"]
        if not_ok:
            sec["notes"].append(f"{len(not_ok)} of {len(points)} points not ok (see the table)")

    def start_sampler(self) -> None:
        if self.hal_device is None:
            return
        hal = portal_module("hal")
        self.telemetry_points = []
        self.sampler = hal.TelemetrySampler(
            [self.hal_device],
            lambda name, value, step: self.telemetry_points.append((name, value, step)),
            interval_s=0.1,
        ).start()
        self.telemetry_window = (time.monotonic(), 0.0)

    def stop_sampler(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
            if self.telemetry_window is not None:
                self.telemetry_window = (
                    self.telemetry_window[0],
                    time.monotonic() - self.telemetry_window[0],
                )

    def custom_op(self, sec: dict[str, Any], budget_s: float) -> None:
        torch = self.torch
        ops = portal_module("ops")
        d = sec["data"]
        loaded = self.wait_for_op(budget_s)
        d["build_seconds"] = self.op_seconds
        if loaded is None:
            raise RuntimeError(self.op_error or f"not built within {budget_s:.0f} s")
        d["library"] = loaded.library.name
        d["cuda_kernels"] = loaded.cuda
        d["nvcc"] = shutil.which("nvcc") or "absent"
        d["arch_list"] = os.environ.get("TORCH_CUDA_ARCH_LIST")
        if self.gpu and not loaded.cuda:
            sec["status"] = "failed"
            sec["error"] = "built without CUDA kernels (nvcc or CUDA torch missing)"
        x = torch.randn(257, 513, device=self.device)
        w, b = torch.randn(513, device=self.device), torch.randn(513, device=self.device)
        v = torch.randn(100_003, device=self.device)
        cases = {
            "softmax": (x,),
            "layer_norm": (x, w, b, 1e-5),
            "vector_add": (v, v),
        }
        d["opcheck"] = {}
        for op, args in cases.items():
            try:
                torch.library.opcheck(getattr(torch.ops.portal_kernels, op).default, args)
                d["opcheck"][op] = "passed"
            except Exception as exc:
                d["opcheck"][op] = f"FAILED {type(exc).__name__}: {exc}"[:300]
                sec["status"] = "failed"
                sec["error"] = f"opcheck of {op} failed"

        def fused(t: Any, weight: Any, bias: Any) -> Any:
            return ops.softmax(ops.layer_norm(t, weight, bias, 1e-5)) * 2.0

        backend = "inductor" if self.gpu else "aot_eager"
        compiled = torch.compile(fused, fullgraph=True, backend=backend)
        got = compiled(x, w, b)
        want = torch.softmax(torch.nn.functional.layer_norm(x, (513,), w, b, 1e-5), -1) * 2.0
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
        d["compile_fullgraph"] = f"passed ({backend}): layer_norm -> softmax -> *2 matches eager"
        if not self.gpu:
            sec["notes"].append("CPU smoke: aot_eager backend (traces fullgraph, no C++ build)")

    def telemetry(self, sec: dict[str, Any]) -> None:
        d = sec["data"]
        if self.sampler is None:
            raise RuntimeError("no sampler ran (no HAL device, or the kernel sweep did not start)")
        points = self.telemetry_points
        d["device"] = self.hal_device.key
        d["interval_s"] = self.sampler.interval_s
        d["samples"] = self.sampler.samples
        d["sweep_seconds"] = round(self.telemetry_window[1], 1) if self.telemetry_window else None
        fields: dict[str, dict[str, float]] = {}
        for name, value, _ in points:
            field_name = name.rsplit("/", 1)[-1]
            fields.setdefault(field_name, []).append(value)  # type: ignore[arg-type]
        d["fields"] = {
            f: {
                "n": len(vs),
                "min": round(min(vs), 2),
                "mean": round(statistics.fmean(vs), 2),
                "max": round(max(vs), 2),
            }
            for f, vs in fields.items()
        }
        # What one reading costs the sampler thread, timed on its own (NVML calls).
        costs = []
        for _ in range(50):
            t0 = time.perf_counter()
            self.hal_device.telemetry()
            costs.append(time.perf_counter() - t0)
        per_read = statistics.median(costs)
        d["read_us_median"] = round(per_read * 1e6, 1)
        d["read_us_max"] = round(max(costs) * 1e6, 1)
        d["overhead_pct_of_one_core"] = round(100 * per_read / self.sampler.interval_s, 3)
        expected = {
            "utilization_pct",
            "memory_used_bytes",
            "power_w",
            "temperature_c",
            "sm_clock_mhz",
        }
        if self.gpu and not expected <= set(fields):
            sec["notes"].append(
                f"fields not reported by this GPU: {sorted(expected - set(fields))}"
            )

    def llm_quant(self, sec: dict[str, Any], budget_s: float) -> None:
        quant = portal_module("quantization")
        d = sec["data"]
        model_dir, model_info = self._small_lm()
        d["model"] = model_info
        sec["notes"].append(
            "random weights (built from a config): memory and speed are real, perplexity and "
            "KL are meaningless and not reported"
        )
        variants = ["bf16", "torchao-int8wo", "torchao-int8da"]
        stop_at = time.monotonic() + budget_s
        child_env = self._child_env()
        results = [{"variant": variant} for variant in variants]

        def run_one(row: dict[str, Any]) -> None:
            variant = row["variant"]
            reason = quant.unavailable_reason(quant.Variant(variant), str(self.device))
            if reason:
                row["status"] = f"skipped: {reason}"
                sec["notes"].append(f"{variant}: {reason} (carry it: bench/gpu_check_wheels.sh)")
                return
            left = stop_at - time.monotonic()
            if left < 15:
                row["status"] = "skipped: deadline"
                return
            spec = quant.VariantSpec(
                model=str(model_dir),
                variant=variant,
                baseline="bf16",
                device=str(self.device) if self.gpu else "cpu",
                eval_tokens=128 if self.gpu else 16,
                eval_window=64 if self.gpu else 16,
                batch_sizes=[1, 32],
                prompt_lengths=[128 if self.gpu else 8],
                new_tokens=32 if self.gpu else 3,
                repeats=2 if self.gpu else 1,
                threads=0 if self.gpu else 1,
            )
            try:
                result = quant.run_variant_process(
                    spec,
                    on_event=lambda e: None,
                    timeout_s=left,
                    stderr_path=self.work / f"{variant}.stderr",
                )
            except Exception as exc:
                row["status"] = f"failed: {exc}"[:600]
                sec["notes"].append(f"{variant} failed: {str(exc)[-600:]}")
                return
            row["status"] = "ok"
            for key in ("linear_weight_mib", "model_weight_mib", "peak_mib", "peak_kind", "load_s"):
                value = result.get(key)
                row[key] = round(value, 1) if isinstance(value, float) else value
            for point in result.get("latency", []):
                row[f"tokens_per_s_b{point['batch']}"] = round(point["tokens_per_s"], 1)
                row[f"ttft_ms_b{point['batch']}"] = round(point["ttft_ms"], 1)
                row[f"tpot_ms_b{point['batch']}"] = round(point["tpot_ms"], 2)

        # One variant at a time on the GPU (clean timings and peaks); side by side on the
        # CPU smoke run, where only the plumbing is being shown.
        with _patched_environ(child_env), ThreadPoolExecutor(1 if self.gpu else 3) as pool:
            list(pool.map(run_one, results))
        base = next((r for r in results if r["variant"] == "bf16" and r["status"] == "ok"), None)
        for row in results:
            if base is not None and row["status"] == "ok":
                row["weight_ratio"] = round(row["linear_weight_mib"] / base["linear_weight_mib"], 3)
                row["peak_ratio"] = round(row["peak_mib"] / base["peak_mib"], 3)
        d["variants"] = results
        d["ratio_basis"] = (
            "weights / bf16: the decoder's Linear layers (what is quantized); peak / bf16: "
            + ("torch.cuda.max_memory_allocated of each variant's own process" if self.gpu
               else "peak RSS of each variant's process (mostly the runtime on a CPU)")
        )  # fmt: skip
        if any(r["status"] != "ok" for r in results):
            sec["status"] = "failed"
            sec["error"] = "; ".join(
                f"{r['variant']}: {r['status']}" for r in results if r["status"] != "ok"
            )[:600]

    def _small_lm(self) -> tuple[Path, dict[str, Any]]:
        """The portal's tiny random Llama (CPU smoke) or a ~170M one from a config (GPU)."""
        checkpoints = portal_module("checkpoints")
        tiny = checkpoints.ensure_tiny_random()
        if not self.gpu:
            return tiny, {"name": "tiny-random (portal.labs.llm.checkpoints)", "path": str(tiny)}
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tokenizer = AutoTokenizer.from_pretrained(tiny)
        config = LlamaConfig(
            vocab_size=32000,  # a real model's vocabulary size; the tokenizer uses its first ids
            hidden_size=1024,
            intermediate_size=2816,
            num_hidden_layers=12,
            num_attention_heads=16,
            num_key_value_heads=4,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).to(torch.bfloat16)
        params = sum(p.numel() for p in model.parameters())
        out = self.work / "small-llama"
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        del model
        return out, {
            "name": "Llama from a config, random weights",
            "params_m": round(params / 1e6, 1),
            "layers": 12,
            "hidden": 1024,
            "intermediate": 2816,
            "vocab": 32000,
        }

    def _child_env(self) -> dict[str, str]:
        """PYTHONPATH with a sitecustomize that stubs `portal` (no Celery, no Django) in children."""
        here = self.work / "site"
        here.mkdir(exist_ok=True)
        (here / "sitecustomize.py").write_text(
            _SITECUSTOMIZE.format(portal=str(ROOT / "portal"), here=str(here))
        )
        path = os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH", "")]))
        return {"PYTHONPATH": path, "TOKENIZERS_PARALLELISM": "false"}

    def ppo(self, sec: dict[str, Any], budget_s: float) -> None:
        torch = self.torch
        training = portal_module("sandbox_training")
        hal = portal_module("hal")
        import gymnasium as gym
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env

        d = sec["data"]
        steps = 8192 if self.gpu else 1024
        devices = [("cuda", "device"), ("cpu", "cpu")] if self.gpu else [("cpu", "cpu")]
        if not self.gpu:
            sec["notes"].append("CPU smoke: no cuda run; on a GPU the same code runs both")
        runs = []
        stop_at = time.monotonic() + budget_s
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the sandbox lab does: a small MLP gains nothing from threads
        try:
            for label, policy_device in devices:
                if time.monotonic() > stop_at:
                    runs.append({"device": label, "status": "skipped: deadline"})
                    continue
                # Both runs see the same chip (the lab's policy_device switch): only where
                # the policy trains differs.
                accelerator = self.hal_device or hal.get_device("cpu:0")
                choices = training.choose(
                    algo="ppo",
                    env_id="CartPole-v1",
                    device=accelerator,
                    n_envs=None,
                    batch_size=None,
                    policy_device=policy_device,
                    overrides={},
                    cpu_cores=len(os.sched_getaffinity(0)),
                )
                env = make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=choices.n_envs, seed=0)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model = PPO(
                        "MlpPolicy", env, seed=0, device=choices.policy_device, verbose=0,
                        **choices.hyper,
                    )  # fmt: skip
                ctx = _QuietContext(str(self.device))
                callback = training.StreamCallback(ctx, steps, None, 475.0, max(1, steps // 20))
                t0 = time.perf_counter()
                model.learn(total_timesteps=steps, callback=callback)
                seconds = time.perf_counter() - t0
                env.close()
                runs.append(
                    {
                        "device": choices.policy_device,
                        "hal_device": accelerator.key,
                        "n_envs": choices.n_envs,
                        "steps": int(model.num_timesteps),
                        "seconds": round(seconds, 2),
                        "steps_per_s": round(model.num_timesteps / seconds, 1),
                        "portal_warnings": list(choices.warnings),
                        "sb3_warnings": [
                            str(w.message)[:300]
                            for w in caught
                            if "GPU" in str(w.message) or "CPU" in str(w.message)
                        ],
                    }
                )
                del model
                self.free()
        finally:
            torch.set_num_threads(previous_threads)
        d["runs"] = runs
        by = {r["device"]: r.get("steps_per_s") for r in runs}
        cuda_rate = next((v for k, v in by.items() if k.startswith("cuda")), None)
        if cuda_rate and by.get("cpu"):
            d["cuda_vs_cpu"] = round(cuda_rate / by["cpu"], 3)
        if self.gpu and not any(r.get("sb3_warnings") for r in runs):
            sec["notes"].append("SB3's GPU warning was NOT raised for the cuda run")


class _QuietContext:
    """A RunContext that keeps nothing: the sandbox's callback wants one to stream into."""

    run_id = None

    def __init__(self, device: str) -> None:
        self.device = device
        self.workdir = Path(tempfile.gettempdir())

    def log(self, text: str) -> None:
        pass

    def progress(self, fraction: float, note: str = "") -> None:
        pass

    def metric(self, name: str, value: float, step: float | None = None) -> None:
        pass

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        pass

    def artifact(self, name: str, data: Any) -> None:
        pass

    def result(self, data: dict[str, Any]) -> None:
        pass

    def cancelled(self) -> bool:
        return False

    def check_cancelled(self) -> None:
        pass


@contextlib.contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Tee:
    """Writes to the console and to the log in the output directory (it comes back with it)."""

    def __init__(self, stream: Any, log: Any) -> None:
        self.stream, self.log = stream, log

    def write(self, text: str) -> int:
        self.log.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()
        self.log.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _watchdog(check: Check, hard_s: float) -> None:
    """Past the deadline plus a grace period: write what there is and leave, whatever hangs."""
    time.sleep(max(0.0, hard_s))
    check.report.data["meta"]["killed_by_watchdog_after_s"] = round(check.deadline.elapsed(), 1)
    for sec in check.report.data["sections"].values():
        if sec["status"] == "running":
            sec["status"] = "failed"
            sec["error"] = "still running at the hard deadline"
    try:
        check.report.write()
    finally:
        os._exit(3)


# Sections in order: (name, title, seconds wanted, seconds kept back for the later sections).
PLAN_GPU = {"peaks": 30, "kernels": 190, "custom_op": 40, "llm_quant": 100, "ppo": 45}
# Under 8 minutes on a GPU with the watchdog's grace; under 2 minutes for the smoke run.
GPU_DEADLINE_S = 420.0
SMOKE_DEADLINE_S = 115.0
PLAN_SMOKE = {"peaks": 10, "kernels": 15, "custom_op": 25, "llm_quant": 60, "ppo": 15}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="directory for gpu_report.json/.md")
    parser.add_argument("--cpu-smoke", action="store_true", help="toy sizes on the CPU")
    parser.add_argument("--deadline-s", type=float, default=None, help="global deadline")
    parser.add_argument("--data-dir", default=None, help="build/model cache (default .data)")
    args = parser.parse_args(argv)
    if args.deadline_s is None:
        args.deadline_s = SMOKE_DEADLINE_S if args.cpu_smoke else GPU_DEADLINE_S
    install_portal_stub()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    log = (Path(args.out) / LOG).open("a", buffering=1)
    sys.stdout = _Tee(sys.stdout, log)
    sys.stderr = _Tee(sys.stderr, log)

    check = Check(args)
    if check.gpu and not check.torch.cuda.is_available():
        check.report.skip("environment", "versions and device", "torch sees no CUDA GPU here")
        print("no CUDA GPU: run on a GPU machine, or pass --cpu-smoke", file=sys.stderr)
        return 2
    threading.Thread(
        target=_watchdog, args=(check, args.deadline_s + 50), daemon=True, name="watchdog"
    ).start()
    plan = PLAN_SMOKE if check.smoke else PLAN_GPU
    # The section budgets fit the default deadline; another deadline stretches them alike.
    scale = args.deadline_s / (SMOKE_DEADLINE_S if check.smoke else GPU_DEADLINE_S)

    def reserve(after: str) -> float:
        names = list(plan)
        later = names[names.index(after) + 1 :]
        # later sections keep a third of what they want: a slow section cannot starve them all
        return scale * sum(plan[n] for n in later) / 3

    with check.report.section("environment", "versions and the device through the HAL") as sec:
        check.environment(sec)
        check.start_op_build()
    titles = {
        "peaks": "copy bandwidth and matmul peaks vs the HAL's datasheet",
        "kernels": "the kernel suite: correctness, CUDA-event timings, roofline, baselines",
        "custom_op": "the C++/CUDA custom operator: nvcc build, opcheck, torch.compile",
        "llm_quant": "torchao int8 weight-only / dynamic vs bf16 on a small causal LM",
        "ppo": "PPO on CartPole: policy on cuda vs cpu",
    }
    for name in plan:
        budget = check.budget(scale * plan[name], reserve(name))
        if budget < 5:
            check.report.skip(
                name, titles[name], f"global deadline: {check.deadline.left():.0f} s left"
            )
            continue
        with check.report.section(name, titles[name]) as sec:
            method = getattr(check, name)
            if name in ("peaks",):
                method(sec)
            else:
                method(sec, budget)
        if name == "kernels":
            with check.report.section(
                "telemetry", "HAL NVML telemetry during the kernel sweep"
            ) as sec:
                check.telemetry(sec)

    meta = check.report.data["meta"]
    meta["elapsed_s"] = round(check.deadline.elapsed(), 1)
    meta["django_imported"] = "django" in sys.modules
    meta["portal_modules_imported"] = sorted(m for m in sys.modules if m.startswith("portal."))
    check.report.write()
    shutil.rmtree(check.work, ignore_errors=True)
    statuses = [s["status"] for s in check.report.data["sections"].values()]
    print(f"wrote {Path(args.out) / REPORT_MD} and {REPORT_JSON}: {statuses}", flush=True)
    return 0 if all(s == "ok" for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
