"""The trusted side of grading: inputs from a secret seed, references, checks, verdict.

This process never imports the learner's code. It writes the job (inputs, the
source, a spec) to a directory the sandboxed child reads, keeps every reference
output to itself, and judges what comes back through the pipe. Baselines (PyTorch
eager, torch.compile) are timed here, once before and once after the candidate
(both orders), on inputs of the same shapes.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import shutil
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file

from portal.labs.kernels.engine.harness import (
    CacheFlusher,
    check_output,
    last_level_cache_bytes,
    time_kernel,
)
from portal.labs.kernels.engine.peaks import DevicePeaks
from portal.labs.kernels.engine.suite import DTYPES
from portal.labs.kernels.grading.checks import CHECKS
from portal.labs.kernels.grading.problems import PROBLEMS, Data, GradedProblem, Shape
from portal.labs.kernels.grading.sandbox import Child, Frame, Limits, probe

Emit = Callable[[str, str, str, dict[str, Any]], None]
# Timing sets sampled (after the fact, by the secret rng) and checked against the reference.
TIMED_OUTPUTS_CHECKED = 3
# A kernel faster than this share of the roofline floor cannot have done the work.
ROOFLINE_SLACK = 0.9
# CPU peaks are measured here (copy bandwidth), and caches can beat them: below half of
# that roof a CPU timing is flagged for review, never failed (Grader._below_cpu_roof).
ROOFLINE_SLACK_CPU = 0.5
SUSPICIOUS_SPEEDUP = 10.0
# Scheduling and pipe latency the cross-check forgives (a busy 2-core host shows ~10 ms).
PIPE_LATENCY_MS = 50.0
# Tries of the cross-check batch; the fastest counts. Each try after a disagreeing one
# waits BATCH_BACKOFF_S longer than the last, so the tries span about a second: a busy
# host's stall (CI once saw three 10-call batches of a 0.3 ms kernel take 80 ms each, in a
# row) spoils some tries, not all of them.
BATCH_TRIES = 6
BATCH_BACKOFF_S = 0.05
# The unflushed batch should last this long so that latency is small beside it.
BATCH_TARGET_MS = 250.0
INPUT_BUDGET_BYTES = 128 * 2**20
MAX_SOURCE_BYTES = 1_000_000


@dataclass
class GradeConfig:
    problem: str
    dtype: str
    language: str
    source: str
    device: str = "cpu"
    check_trials: int = 2
    warmup: int = 2
    timed_reps: int = 10
    # Fresh input sets shipped for the cross-check batch (at most; within the input budget).
    batch_calls: int = 64
    baselines: tuple[str, ...] = ("eager", "compiled")
    limits: Limits = field(default_factory=Limits)
    allow_unsandboxed: bool = False
    peaks: DevicePeaks | None = None
    # Bench shapes; None: the problem's for this device class.
    bench_shapes: tuple[Shape, ...] | None = None
    test_shapes: tuple[Shape, ...] | None = None


@dataclass
class GradeResult:
    verdict: str  # "passed", "failed: <stage>", "refused: <reason>"
    stage: str = ""
    reason: str = ""  # a key of CHECKS
    message: str = ""
    explanation: str = ""
    line: int | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    baselines: dict[str, float] = field(default_factory=dict)
    score_ms: float | None = None
    flagged: bool = False
    indicative: bool = False
    timed: bool = False
    device: str = "cpu"
    sandboxed: bool = True
    start_s: float | None = None
    log: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Stop(Exception):
    """Ends grading with a verdict."""

    def __init__(self, reason: str, stage: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.reason, self.stage, self.message, self.line = reason, stage, message, line


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(max(v, 1e-12)) for v in values) / len(values))


def classify_error(frame: dict[str, Any]) -> str:
    """The CHECKS key for an exception the child reported."""
    kind, errno, msg = frame.get("type", ""), frame.get("errno"), frame.get("message", "")
    if frame.get("stage") == "compile" and kind in ("SyntaxError", "IndentationError", "TabError"):
        return "syntax_error"
    if kind == "MissingKernel":
        return "missing_kernel"
    if kind == "MemoryError" or "can't allocate memory" in msg or "out of memory" in msg.lower():
        return "memory_limit"
    if kind == "BlockingIOError" or errno == 11:
        return "process_limit"
    if kind in ("gaierror", "ConnectionRefusedError") or errno in (97, 101, 111, 113, 99):
        return "network"
    if kind in ("FileNotFoundError", "PermissionError") or errno in (2, 13, 30):
        return "file_access"
    return "import_error" if frame.get("stage") == "compile" else "exception"


class Grader:
    def __init__(self, cfg: GradeConfig, emit: Emit | None = None) -> None:
        problem = PROBLEMS.get(cfg.problem)
        if problem is None:
            raise ValueError(f"unknown problem {cfg.problem!r}")
        self.cfg = cfg
        self.problem: GradedProblem = problem
        self.device = torch.device(cfg.device)
        self.on_gpu = self.device.type == "cuda"
        self.dtype = DTYPES[cfg.dtype]
        self._emit = emit or (lambda stage, status, message, data: None)
        self.rng = secrets.SystemRandom()
        self.result = GradeResult(verdict="", device=str(self.device))
        # Triton has no CPU backend: on CPU it runs through the interpreter, checked only.
        self.timed = self.on_gpu or cfg.language != "triton"
        self.result.timed = self.timed
        self.result.indicative = not self.on_gpu
        self.asked: dict[Shape, int] = {}
        self.claimed_median: dict[Shape, float] = {}
        self.batch_begin: dict[Shape, float] = {}
        self.batch_walls: dict[Shape, list[float]] = {}
        self.picked: dict[Shape, list[int]] = {}
        self.claimed: dict[Shape, list[float]] = {}
        self.times_seen: dict[Shape, list[float]] = {}
        self.pending_timing: dict[Shape, dict[str, Any]] = {}

    def emit(self, stage: str, status: str, message: str, **data: Any) -> None:
        self._emit(stage, status, message, data)

    # --- inputs -------------------------------------------------------------------------------

    def _seed(self) -> int:
        return self.rng.randrange(1, 2**62)

    def _make(self, shape: Shape) -> Data:
        return self.problem.generate_input(shape, self._seed(), self.cfg.dtype)

    def _out_bytes(self, shape: Shape) -> int:
        return math.prod(self.problem.out_shape(shape)) * self.dtype.itemsize

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> GradeResult:
        job_dir = Path(tempfile.mkdtemp(prefix="kgrade-"))
        try:
            self._run(job_dir)
        except Stop as stop:
            check = CHECKS[stop.reason]
            verdict = "refused" if check.verdict == "refused" else "failed"
            self.result.verdict = (
                f"refused: {check.title.lower()}"
                if verdict == "refused"
                else f"failed: {stop.stage}"
            )
            self.result.stage, self.result.reason = stop.stage, stop.reason
            self.result.message, self.result.line = stop.message, stop.line
            self.result.explanation = check.explanation
            self.emit(
                stop.stage,
                "failed",
                stop.message,
                reason=stop.reason,
                explanation=check.explanation,
                line=stop.line,
            )
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        self.emit(
            "verdict",
            "passed" if self.result.passed else "failed",
            self.result.verdict,
            score_ms=self.result.score_ms,
            flagged=self.result.flagged,
        )
        return self.result

    def _run(self, job_dir: Path) -> None:
        cfg = self.cfg
        ok, why = probe()
        sandboxed = ok
        if not ok:
            if not cfg.allow_unsandboxed:
                raise Stop("sandbox_unavailable", "sandbox", why)
            self.emit("sandbox", "warning", f"running WITHOUT a sandbox (staff setting): {why}")
        self.result.sandboxed = sandboxed
        test_shapes = cfg.test_shapes or self.problem.test_shapes
        bench_shapes = cfg.bench_shapes or self.problem.bench_shapes(self.on_gpu)
        tensors: dict[str, torch.Tensor] = {}
        self.expected: dict[str, tuple[Shape, Data, torch.Tensor]] = {}
        checks = []
        for si, shape in enumerate(test_shapes):
            for trial in range(cfg.check_trials):
                key = f"check/{si}/{trial}"
                data = self._make(shape)
                ref = self.problem.reference(tuple(t.to(self.device) for t in data))
                self.expected[key] = (shape, data, ref)
                tensors.update({f"{key}/{i}": t for i, t in enumerate(data)})
                checks.append(
                    {"key": key, "shape": list(shape), "out_bytes": self._out_bytes(shape)}
                )
        benches = []
        self.bench_data: dict[str, Data] = {}
        if self.timed:
            self._time_baselines(bench_shapes, "before")
            for bi, shape in enumerate(bench_shapes):
                groups = {
                    "warmup_keys": cfg.warmup,
                    "keys": cfg.timed_reps,
                    "batch_keys": self._batch_sets(shape),
                }
                bench = {
                    "shape": list(shape),
                    "out_bytes": self._out_bytes(shape),
                    "flush_bytes": 256 * 2**20 if self.on_gpu else 32 * 2**20,
                }
                for group, count in groups.items():
                    bench[group] = []
                    for r in range(count):
                        key = f"bench/{bi}/{group}/{r}"
                        data = self._make(shape)
                        self.bench_data[key] = data
                        tensors.update({f"{key}/{i}": t for i, t in enumerate(data)})
                        bench[group].append(key)
                benches.append(bench)
        spec = {
            "device": str(self.device),
            "nargs": len(next(iter(self.expected.values()))[1]),
            "checks": checks,
            "benches": benches,
            "time": self.timed,
        }
        save_file(
            {k: v.contiguous() for k, v in tensors.items()}, str(job_dir / "inputs.safetensors")
        )
        (job_dir / "spec.json").write_text(__import__("json").dumps(spec))
        (job_dir / "submission.py").write_text(cfg.source)
        del tensors
        # What honest output takes: each checked output with its inputs sent back, and the
        # sampled timed outputs. Twice that (plus headers) is the cap.
        expected = sum(c["out_bytes"] for c in checks) + sum(
            sum(t.nbytes for t in d) for _, d, _ in self.expected.values()
        )
        expected += sum(TIMED_OUTPUTS_CHECKED * b["out_bytes"] for b in benches)
        limits = dataclasses.replace(cfg.limits, output_bytes=2 * expected + 8 * 2**20)
        self._drive(
            Child(job_dir, gpu=self.on_gpu, limits=limits, sandboxed=sandboxed, reply=self._reply),
            checks,
            benches,
        )
        if self.timed:
            self._time_baselines(bench_shapes, "after")
            self._score(bench_shapes)
        else:
            self.emit(
                "timing",
                "skipped",
                "Triton on a CPU worker runs through its interpreter: "
                "checked for correctness only, not timed.",
            )
        self.result.verdict = "passed"

    def _batch_sets(self, shape: Shape) -> int:
        """Fresh input sets shipped for the cross-check batch, within the input budget."""
        set_bytes = self.problem.nbytes(shape, self.cfg.dtype)
        return max(1, min(self.cfg.batch_calls, INPUT_BUDGET_BYTES // max(set_bytes, 1)))

    def _reply(self, header: dict[str, Any], at: float) -> bytes | None:
        """Runs in the reader thread. After the timed loop: which timed calls' outputs to
        send (drawn now, so the child could not know in advance). Then the batch size, from
        the times the child claims, so that an honest batch lasts BATCH_TARGET_MS; a claim
        that is too low asks for all the shipped sets, whose real cost then shows on the
        grader's clock."""
        event = header.get("event")
        shape = tuple(header.get("shape", ()))
        if event == "batch_begin":
            self.batch_begin[shape] = at
            return None
        if event == "batch_end":
            return self._batch_again(shape, at)
        if event == "timing":
            reps = len(header.get("times_ms", []))
            picked = sorted(self.rng.sample(range(reps), min(TIMED_OUTPUTS_CHECKED, reps)))
            shape = tuple(header.get("shape", ()))
            self.picked[shape] = picked
            self.claimed[shape] = [
                t for t in header.get("times_ms", []) if isinstance(t, int | float) and t > 0
            ]
            return struct.pack(f">I{len(picked)}I", len(picked), *picked)
        if event != "timed_outputs":
            return None
        times = self.claimed.get(tuple(header.get("shape", ())), [])
        claimed = statistics.median(times) if times else 1e-6
        shape = tuple(header.get("shape", ()))
        sets = self._batch_sets(shape) if shape else 1
        calls = max(1, min(sets, math.ceil(BATCH_TARGET_MS / claimed)))
        self.asked[shape] = calls
        self.claimed_median[shape] = claimed
        return struct.pack(">I", calls)

    def _batch_again(self, shape: Shape, at: float) -> bytes:
        """After a batch: 0 (enough) once the grader's clock agrees with the claim, else the
        same batch again, up to BATCH_TRIES; the fastest try is judged (latency only adds)."""
        begin = self.batch_begin.pop(shape, None)
        if begin is None:
            return struct.pack(">I", 0)
        walls = self.batch_walls.setdefault(shape, [])
        walls.append((at - begin) * 1e3)
        calls = self.asked.get(shape, 0)
        agrees = self._clock_agrees(self.claimed_median.get(shape, 0.0), calls, min(walls))
        if agrees or len(walls) >= BATCH_TRIES:
            return struct.pack(">I", 0)
        time.sleep(BATCH_BACKOFF_S * len(walls))  # the reader thread; the child waits
        return struct.pack(">I", calls)

    @staticmethod
    def _clock_agrees(median_ms: float, calls: int, wall_ms: float) -> bool:
        return median_ms * calls >= 0.5 * (wall_ms - PIPE_LATENCY_MS)

    # --- reading the child --------------------------------------------------------------------

    def _drive(self, child: Child, checks: list[dict], benches: list[dict]) -> None:
        self.emit("sandbox", "running", "starting the sandbox")
        t0 = time.perf_counter()
        pending_checks = {c["key"] for c in checks}
        per_shape: dict[str, list[dict[str, Any]]] = {}
        done = False
        frames = child.frames()
        try:
            for frame in frames:
                h = frame.header
                event = h.get("event")
                if event == "started":
                    self.result.start_s = frame.at - t0
                    self.emit(
                        "sandbox",
                        "ok",
                        f"sandbox started in {self.result.start_s:.2f} s",
                        start_s=round(self.result.start_s, 3),
                        sandboxed=child.sandboxed,
                    )
                elif event == "error":
                    self._child_error(h)
                elif event == "compiled":
                    self.emit("compile", "ok", "module loaded; custom_kernel found")
                elif event == "check":
                    row = self._judge_check(frame)
                    pending_checks.discard(h["key"])
                    shape_key = str(row["shape"])
                    per_shape.setdefault(shape_key, []).append(row)
                    if not any(
                        k.startswith(h["key"].rsplit("/", 1)[0] + "/") for k in pending_checks
                    ):
                        self._report_shape(per_shape[shape_key])
                elif event == "batch_done":
                    self._cross_check(tuple(h.get("shape", ())))
                elif event == "timing":
                    self._judge_timing(frame, benches)
                elif event == "timed_outputs":
                    self._judge_timed_outputs(frame, benches)
                elif event == "done":
                    done = True
        finally:
            # Stops the child now (its process group, its cgroup), not whenever the
            # generator happens to be collected.
            frames.close()
            self.result.log = child.exit.log
        if child.exit.reason in ("time limit", "output too large"):
            key = "time_limit" if child.exit.reason == "time limit" else "output_too_large"
            raise Stop(key, "sandbox", f"{CHECKS[key].title} (after {child.exit.wall_s:.1f} s)")
        if not done:
            sig = child.exit.extra.get("signal")
            raise Stop(
                "crashed",
                "sandbox",
                f"the sandboxed process ended without a result (exit {child.exit.returncode}"
                + (f", {sig}" if sig else "")
                + ")",
            )

    def _child_error(self, h: dict[str, Any]) -> None:
        reason = classify_error(h)
        stage = {"harness": "sandbox"}.get(h.get("stage", ""), h.get("stage", "run"))
        where = f" (line {h['line']})" if h.get("line") else ""
        message = f"{h.get('message', '')}{where}"
        if h.get("traceback"):
            message += "\n" + h["traceback"]
        raise Stop(reason, stage, message, line=h.get("line"))

    def _judge_check(self, frame: Frame) -> dict[str, Any]:
        h = frame.header
        shape, data, ref = self.expected[h["key"]]
        facts = h.get("facts", {})
        row: dict[str, Any] = {"shape": list(shape), "key": h["key"]}
        if "exact_tensor" not in facts:
            raise Stop("not_a_tensor", "correctness", f"returned {facts.get('type')}, not a tensor")
        if not facts["exact_tensor"]:
            raise Stop("subclass", "correctness", f"returned a {facts.get('type')}")
        if facts.get("aliases_input"):
            raise Stop(
                "aliasing",
                "correctness",
                f"shape {list(shape)}: the output shares memory with an input",
            )
        got = load_tensors(frame.blob)
        out = got["out"]
        want_shape = tuple(ref.shape)
        if tuple(out.shape) != want_shape:
            raise Stop(
                "wrong_shape",
                "correctness",
                f"output shape {tuple(out.shape)}, expected {want_shape}",
            )
        if out.dtype != self.dtype:
            raise Stop(
                "wrong_dtype", "correctness", f"output dtype {out.dtype}, expected {self.dtype}"
            )
        if facts.get("device") != self.device.type:
            raise Stop("wrong_device", "correctness", f"output on {facts.get('device')}")
        if not facts.get("contiguous"):
            raise Stop("wrong_strides", "correctness", f"output strides {facts.get('strides')}")
        for i, original in enumerate(data):
            back = got.get(f"in/{i}")
            if back is None or not torch.equal(
                back.view(torch.uint8), original.contiguous().view(torch.uint8)
            ):
                raise Stop(
                    "input_modified",
                    "correctness",
                    f"shape {list(shape)}: input {i} changed during the call",
                )
        checked = check_output(out.to(self.device), ref, self.dtype, self.device)
        row.update(ok=checked.ok, max_abs_err=checked.max_abs_err, max_rel_err=checked.max_rel_err)
        if not checked.ok:
            reason = "nan_output" if "NaN" in checked.reason else "tolerance"
            raise Stop(reason, "correctness", f"shape {list(shape)}: {checked.reason}")
        return row

    def _report_shape(self, rows: list[dict[str, Any]]) -> None:
        shape = rows[0]["shape"]
        max_abs = max(r["max_abs_err"] for r in rows)
        max_rel = max(r["max_rel_err"] for r in rows)
        entry = {
            "shape": shape,
            "ok": True,
            "max_abs_err": max_abs,
            "max_rel_err": max_rel,
            "trials": len(rows),
        }
        self.result.checks.append(entry)
        self.emit(
            "correctness",
            "ok",
            f"shape {shape}: correct on {len(rows)} fresh inputs, max |err| {max_abs:.3g}, "
            f"max err/tolerance {max_rel:.3g}",
            **entry,
        )

    def _judge_timing(self, frame: Frame, benches: list[dict]) -> None:
        h = frame.header
        shape = tuple(h["shape"])
        bench = next(b for b in benches if tuple(b["shape"]) == shape)
        times = [float(t) for t in h.get("times_ms", [])]
        if len(times) != len(bench["keys"]) or not all(t >= 0 and math.isfinite(t) for t in times):
            raise Stop("timer_mismatch", "timing", f"shape {list(shape)}: malformed times")
        self.times_seen[shape] = times

    def _judge_timed_outputs(self, frame: Frame, benches: list[dict]) -> None:
        shape = tuple(frame.header["shape"])
        bench = next(b for b in benches if tuple(b["shape"]) == shape)
        times = self.times_seen.get(shape)
        if times is None:
            raise Stop("timer_mismatch", "timing", f"shape {list(shape)}: outputs before times")
        outs = load_tensors(frame.blob) if frame.blob else {}
        for i in self.picked.get(shape, []):
            data = self.bench_data[bench["keys"][i]]
            out = outs.get(f"out/{i}")
            ref = self.problem.reference(tuple(t.to(self.device) for t in data))
            if out is None or tuple(out.shape) != tuple(ref.shape) or out.dtype != self.dtype:
                raise Stop(
                    "timing_output_wrong",
                    "timing",
                    f"shape {list(shape)}: timed call {i} returned no valid output",
                )
            checked = check_output(out.to(self.device), ref, self.dtype, self.device)
            if not checked.ok:
                raise Stop(
                    "timing_output_wrong",
                    "timing",
                    f"shape {list(shape)}: timed call {i}: {checked.reason}",
                )
        median = statistics.median(times)
        floor_ms = self._floor_ms(shape)
        if floor_ms and self.on_gpu and median < ROOFLINE_SLACK * floor_ms:
            # A datasheet roof: nothing real beats it.
            raise Stop(
                "below_roofline",
                "timing",
                f"shape {list(shape)}: {median:.4f} ms is below "
                f"the roofline floor {floor_ms:.4f} ms",
            )
        if floor_ms and not self.on_gpu and median < ROOFLINE_SLACK_CPU * floor_ms:
            self._below_cpu_roof(shape, median, floor_ms)
        self.pending_timing[shape] = {
            "shape": list(shape),
            "median_ms": median,
            "reps": len(times),
            "floor_ms": floor_ms,
            **self._rates(shape, median),
        }

    def _cross_check(self, shape: Shape) -> None:
        """The child's median against the grader's clock over a batch of back-to-back calls.

        The batch runs without flushes, so per call it is if anything faster than the
        flushed median; a median far below the grader's clock means the child's timer lied
        (replaced timers, work on a side stream). Scheduling latency is forgiven."""
        row = self.pending_timing.pop(shape, None)
        calls = self.asked.get(shape)
        walls = self.batch_walls.get(shape)
        if row is None or not calls or not walls:
            raise Stop("timer_mismatch", "timing", f"shape {list(shape)}: batch out of order")
        median, wall_ms = row["median_ms"], min(walls)
        if not self._clock_agrees(median, calls, wall_ms):
            raise Stop(
                "timer_mismatch",
                "timing",
                f"shape {list(shape)}: the sandbox measured {median:.4f} ms per call; "
                f"{calls} calls took {wall_ms:.1f} ms on the grader's clock "
                f"(fastest of {len(walls)} tries)",
            )
        row["wall_ms"] = wall_ms / calls
        self.result.timings.append(row)
        self.emit(
            "timing",
            "ok",
            f"shape {list(shape)}: median {median:.4f} ms over {row['reps']} fresh inputs "
            f"(grader's clock: {calls} calls in {wall_ms:.1f} ms)",
            **row,
        )

    def _below_cpu_roof(self, shape: Shape, median: float, floor_ms: float) -> None:
        """On a CPU the memory roof is a copy bandwidth measured on this (perhaps busy)
        machine, and fresh inputs sit in its caches: an honest kernel can beat it. A working
        set that fits the last-level cache twice over is not judged by it at all; a larger
        one below it is flagged for a staff review, not failed."""
        nbytes = self.problem.nbytes(shape, self.cfg.dtype)
        llc = last_level_cache_bytes()
        if llc and nbytes <= 2 * llc:
            return
        self.result.flagged = True
        self.emit(
            "timing",
            "warning",
            f"shape {list(shape)}: {median:.4f} ms is below the measured CPU roof "
            f"{floor_ms:.4f} ms. " + CHECKS["below_cpu_roofline"].explanation,
            reason="below_cpu_roofline",
        )

    # --- roofline and baselines ---------------------------------------------------------------

    def _floor_ms(self, shape: Shape) -> float | None:
        peaks = self.cfg.peaks
        if peaks is None:
            return None
        nbytes = self.problem.nbytes(shape, self.cfg.dtype)
        flops = self.problem.flops(shape)
        mem_s = nbytes / (peaks.mem_gbs * 1e9) if peaks.mem_gbs else 0.0
        tf = peaks.peak_tflops(self.cfg.dtype)
        flop_s = flops / (tf * 1e12) if tf else 0.0
        return max(mem_s, flop_s) * 1e3 or None

    def _rates(self, shape: Shape, median_ms: float) -> dict[str, Any]:
        seconds = median_ms / 1e3
        gbs = self.problem.nbytes(shape, self.cfg.dtype) / seconds / 1e9
        tflops = self.problem.flops(shape) / seconds / 1e12
        floor = self._floor_ms(shape)
        return {
            "gbs": gbs,
            "tflops": tflops,
            "pct_roofline": 100 * floor / median_ms if floor else None,
        }

    def _time_baselines(self, shapes: tuple[Shape, ...], when: str) -> None:
        self.baseline_times: dict[str, dict[str, list[float]]] = getattr(self, "baseline_times", {})
        flusher = CacheFlusher(self.device, 256 * 2**20 if self.on_gpu else 32 * 2**20)
        for name in self.cfg.baselines:
            fn = self._baseline_fn(name)
            for shape in shapes:
                sets = [tuple(t.to(self.device) for t in self._make(shape)) for _ in range(4)]
                timing, _, _ = time_kernel(
                    lambda *d, fn=fn: fn(d),
                    sets,
                    self.device,
                    warmup=2,
                    min_reps=5,
                    max_reps=self.cfg.timed_reps * 2,
                    target_ms=100.0,
                    flusher=flusher,
                )
                self.baseline_times.setdefault(name, {}).setdefault(str(list(shape)), []).extend(
                    timing.times_ms
                )
        self.emit("baselines", "ok", f"PyTorch baselines timed ({when} the submission)")

    def _baseline_fn(self, name: str) -> Callable[[Data], torch.Tensor]:
        if name == "compiled":
            return torch.compile(self.problem.eager, dynamic=False)
        return self.problem.eager

    def _score(self, shapes: tuple[Shape, ...]) -> None:
        medians = [t["median_ms"] for t in self.result.timings]
        if len(medians) != len(shapes):
            raise Stop("timer_mismatch", "timing", "not every benchmark shape was timed")
        self.result.score_ms = geometric_mean(medians)
        for name, per_shape in self.baseline_times.items():
            score = geometric_mean([statistics.median(per_shape[str(list(s))]) for s in shapes])
            self.result.baselines[name] = score
            for row in self.result.timings:
                row[f"{name}_ms"] = statistics.median(per_shape[str(row["shape"])])
        best = min(self.result.baselines.values(), default=None)
        summary = f"score {self.result.score_ms:.4f} ms (geometric mean of per-shape medians)"
        if best:
            summary += "; " + ", ".join(f"{k} {v:.4f} ms" for k, v in self.result.baselines.items())
            if best / self.result.score_ms > SUSPICIOUS_SPEEDUP:
                self.result.flagged = True
                self.emit(
                    "timing",
                    "warning",
                    CHECKS["suspicious_speedup"].explanation,
                    reason="suspicious_speedup",
                )
        if self.result.indicative:
            summary += " (CPU worker: timings are indicative)"
        self.emit(
            "timing", "ok", summary, score_ms=self.result.score_ms, baselines=self.result.baselines
        )


def grade(cfg: GradeConfig, emit: Emit | None = None) -> GradeResult:
    """Grade one submission end to end; never raises for anything the submission does."""
    return Grader(cfg, emit).run()
