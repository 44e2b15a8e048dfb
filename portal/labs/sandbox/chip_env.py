"""ChipTuning-v0: choose execution settings for a workload on a device.

Each episode draws a transformer-inference workload (model size, sequence
length, accuracy tolerance) with a latency and a memory budget. Each step the
agent picks a batch size, a numeric precision and a number of concurrent
streams; the device runs it and the agent observes throughput, latency,
memory and power. The reward is tokens per joule as a fraction of the best
setting for this workload (1.0 = optimal), and negative when a budget or the
accuracy tolerance is broken or the device refuses the setting.

On a `sim` device the cost comes from the simulated chip's analytical model
(microseconds per step); on a real device (`backend="measure"`) a scaled GEMM
in the chosen precision is timed with torch and power read through the HAL.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from portal.labs.hal.adapters.sim import GB, PRECISION_BYTES, Kernel, SimAccelerator, SimError
from portal.labs.hal.discovery import get_device
from portal.labs.hal.types import Accelerator

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
STREAMS = (1, 2, 4)
MODEL_PARAMS = (125e6, 350e6, 1.3e9, 3e9, 7e9)
SEQ_LENS = (128, 512, 2048)
LATENCY_BUDGETS_MS = (20.0, 100.0, 500.0, 2000.0)
MEMORY_FRACTIONS = (0.25, 0.5, 1.0)
# 0: fp32 only (accuracy-sensitive), 1: 16-bit floats allowed, 2: int8 allowed too
TOLERANCE_MIN_BYTES = {0: 4, 1: 2, 2: 1}
DEFAULT_ACTION = (BATCHES.index(8), PRECISIONS.index("fp32"), STREAMS.index(1))
PENALTY_INVALID = -1.0  # refused by the device, out of memory, accuracy broken
PENALTY_LATENCY = -0.5


@dataclass(frozen=True)
class Workload:
    params: float
    seq_len: int
    tolerance: int
    latency_budget_ms: float
    memory_budget_bytes: float

    def kernel(self, batch: int, precision: str, streams: int) -> Kernel:
        nbytes = PRECISION_BYTES[precision]
        tokens = batch * self.seq_len
        weights = self.params * nbytes
        # Activations and KV cache grow with tokens and (roughly) with sqrt(params).
        per_token = 8 * math.sqrt(self.params) * nbytes
        return Kernel(
            flops=2 * self.params * tokens,
            bytes_moved=tokens * per_token * 2,
            shared_bytes=weights,
            precision=precision,
            memory_bytes=weights + streams * tokens * per_token,
            streams=streams,
        )


@dataclass(frozen=True)
class Measurement:
    ok: bool
    reason: str = ""
    tokens_per_s: float = 0.0
    latency_ms: float = 0.0
    memory_bytes: float = 0.0
    power_w: float | None = None

    @property
    def tokens_per_joule(self) -> float:
        if not self.ok:
            return 0.0
        return self.tokens_per_s / self.power_w if self.power_w else self.tokens_per_s


class ChipTuningEnv(gym.Env):
    metadata = {"render_modes": []}
    ACTION_SHAPE = (len(BATCHES), len(PRECISIONS), len(STREAMS))

    def __init__(
        self,
        device: str | Accelerator = "sim:0",
        backend: str = "auto",
        horizon: int = 8,
        noise: float = 0.03,
        measure_scale: float = 1e-4,
    ) -> None:
        self.device = get_device(device) if isinstance(device, str) else device
        if backend == "auto":
            backend = "sim" if isinstance(self.device, SimAccelerator) else "measure"
        if backend == "sim" and not isinstance(self.device, SimAccelerator):
            raise ValueError(f"{self.device.key} is not simulated: use backend='measure'")
        if backend == "measure" and self.device.identity.torch_device is None:
            raise ValueError(f"torch cannot drive {self.device.key}")
        self.backend = backend
        self.horizon = horizon
        self.noise = noise
        self.measure_scale = measure_scale
        self.action_space = spaces.MultiDiscrete(list(self.ACTION_SHAPE))
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(23,), dtype=np.float32)
        peaks = self.device.peaks()
        self._peaks = {p: peaks.tflops(p) for p in PRECISIONS}
        self._bandwidth = peaks.memory_bandwidth_gbps or 100.0
        self._memory = float(self.device.identity.memory_bytes or 16 * GB)
        self._max_streams = int(self.device.identity.extra.get("max_streams", 1))
        if backend == "measure" and self.device.identity.torch_device.startswith("cuda"):
            self._max_streams = 4
        self._device_features = self._describe_device()
        self.workload: Workload | None = None
        self._best = 1.0
        self._t = 0
        self._last = np.zeros(8, dtype=np.float32)

    # -- pieces -------------------------------------------------------------------------

    def _describe_device(self) -> np.ndarray:
        def scaled(value: float | None, top: float) -> float:
            return float(np.clip(math.log10(value) / top, 0, 1)) if value else 0.0

        return np.array(
            [scaled(self._peaks[p], 4.0) for p in PRECISIONS]  # up to 10 PFLOP/s
            + [scaled(self._bandwidth, 4.5), scaled(self._memory / GB, 3.0)]
            + [min(self._max_streams, 4) / 4],
            dtype=np.float32,
        )

    def _draw_workload(self) -> Workload:
        rng = self.np_random
        return Workload(
            params=float(rng.choice(MODEL_PARAMS)),
            seq_len=int(rng.choice(SEQ_LENS)),
            tolerance=int(rng.choice([0, 1, 1, 2, 2])),
            latency_budget_ms=float(rng.choice(LATENCY_BUDGETS_MS)),
            memory_budget_bytes=float(rng.choice(MEMORY_FRACTIONS)) * self._memory,
        )

    def _supported(self, precision: str) -> bool:
        if self.backend == "measure" and precision == "int8":
            return False  # no portable int8 GEMM in torch
        return bool(self._peaks.get(precision))

    def decode(self, action: Any) -> tuple[int, str, int]:
        b, p, s = (int(a) for a in np.asarray(action).reshape(-1)[:3])
        streams = min(STREAMS[s], self._max_streams)
        return BATCHES[b], PRECISIONS[p], streams

    def evaluate(self, batch: int, precision: str, streams: int, *, run: bool) -> Measurement:
        w = self.workload
        assert w is not None
        if not self._supported(precision):
            return Measurement(False, f"{precision} not supported")
        if PRECISION_BYTES[precision] < TOLERANCE_MIN_BYTES[w.tolerance]:
            return Measurement(False, "accuracy tolerance broken")
        kernel = w.kernel(batch, precision, streams)
        if kernel.memory_bytes > w.memory_budget_bytes:
            return Measurement(False, "over memory budget", memory_bytes=kernel.memory_bytes)
        if self.backend == "sim":
            try:
                assert isinstance(self.device, SimAccelerator)
                cost = self.device.run(kernel) if run else self.device.estimate(kernel)
            except SimError as exc:
                return Measurement(False, str(exc))
            seconds, watts = cost.seconds, cost.power_w
        else:
            seconds, watts = self._measure(batch, precision, streams)
        tokens = batch * w.seq_len * streams
        return Measurement(
            True,
            tokens_per_s=tokens / seconds,
            latency_ms=seconds * 1e3,
            memory_bytes=kernel.memory_bytes,
            power_w=watts,
        )

    def _measure(self, batch: int, precision: str, streams: int) -> tuple[float, float | None]:
        """A GEMM with the workload's shape scaled by `measure_scale`, timed on the device."""
        import torch

        w = self.workload
        assert w is not None
        dev = torch.device(self.device.identity.torch_device)
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        hidden = max(64, int(math.sqrt(w.params * self.measure_scale / 12)) // 64 * 64)
        rows = max(1, int(batch * w.seq_len * self.measure_scale))
        a = torch.randn(rows, hidden, device=dev, dtype=dtype)
        b = torch.randn(hidden, hidden, device=dev, dtype=dtype)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        for _ in range(streams):
            a @ b
        sync()
        seconds = (time.perf_counter() - start) / self.measure_scale
        return seconds, self.device.telemetry().power_w

    def _best_score(self) -> float:
        best = 0.0
        for batch in BATCHES:
            for precision in PRECISIONS:
                for streams in sorted({min(s, self._max_streams) for s in STREAMS}):
                    m = self.evaluate(batch, precision, streams, run=False)
                    if m.ok and m.latency_ms <= self.workload.latency_budget_ms:
                        best = max(best, m.tokens_per_joule)
        return best

    def _observation(self) -> np.ndarray:
        w = self.workload
        assert w is not None
        workload = [
            math.log10(w.params / 1e8) / 2,
            math.log2(w.seq_len / 128) / 4,
            math.log10(w.latency_budget_ms) / 3.5,
            w.memory_budget_bytes / self._memory,
            *(1.0 if w.tolerance == t else 0.0 for t in range(3)),
        ]
        obs = np.concatenate(
            [
                np.array(workload, dtype=np.float32),
                self._device_features,
                self._last,
                np.array([self._t / self.horizon], dtype=np.float32),
            ]
        )
        return np.clip(obs, -1.0, 1.0).astype(np.float32)

    # -- gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.workload = (options or {}).get("workload") or self._draw_workload()
        self._t = 0
        self._last = np.zeros(8, dtype=np.float32)
        if self.backend == "sim":
            self._best = self._best_score()
            # Redraw workloads no setting can serve on this chip: nothing to learn from them.
            for _ in range(50):
                if self._best > 0 or (options or {}).get("workload"):
                    break
                self.workload = self._draw_workload()
                self._best = self._best_score()
            self._best = self._best or 1.0
        else:  # measuring every setting costs real time: normalise by the default setting
            ref = self.evaluate(*self.decode(DEFAULT_ACTION), run=True)
            self._best = ref.tokens_per_joule * 4 if ref.ok else 1.0
        return self._observation(), {"workload": self.workload.__dict__, "best_score": self._best}

    def step(self, action: Any):
        assert self.workload is not None, "call reset() first"
        batch, precision, streams = self.decode(action)
        m = self.evaluate(batch, precision, streams, run=True)
        if m.ok and self.noise and self.backend == "sim":
            jitter = 1.0 + self.noise * self.np_random.standard_normal(2)
            m = Measurement(
                True,
                tokens_per_s=m.tokens_per_s * float(jitter[0]),
                latency_ms=m.latency_ms / float(jitter[0]),
                memory_bytes=m.memory_bytes,
                power_w=m.power_w * float(jitter[1]) if m.power_w else None,
            )
        if not m.ok:
            reward, reason = PENALTY_INVALID, m.reason
        elif m.latency_ms > self.workload.latency_budget_ms:
            reward, reason = PENALTY_LATENCY, "over latency budget"
        else:
            reward, reason = float(min(1.5, m.tokens_per_joule / self._best)), ""
        self._t += 1
        tdp = self.device.identity.tdp_w or 300.0
        self._last = np.array(
            [
                BATCHES.index(batch) / (len(BATCHES) - 1),
                PRECISIONS.index(precision) / (len(PRECISIONS) - 1),
                STREAMS.index(streams) / (len(STREAMS) - 1),
                reward,
                min(m.latency_ms / self.workload.latency_budget_ms, 4.0) / 4,
                min(m.memory_bytes / self.workload.memory_budget_bytes, 4.0) / 4,
                min((m.power_w or 0.0) / tdp, 1.0),
                1.0 if m.ok else 0.0,
            ],
            dtype=np.float32,
        )
        info = {
            "setting": {"batch": batch, "precision": precision, "streams": streams},
            "tokens_per_s": m.tokens_per_s,
            "latency_ms": m.latency_ms,
            "memory_bytes": m.memory_bytes,
            "power_w": m.power_w,
            "tokens_per_joule": m.tokens_per_joule,
            "violation": reason,
        }
        truncated = self._t >= self.horizon
        return self._observation(), reward, False, truncated, info


def register() -> None:
    if "ChipTuning-v0" not in gym.registry:
        gym.register(
            id="ChipTuning-v0",
            entry_point="portal.labs.sandbox.chip_env:ChipTuningEnv",
            max_episode_steps=None,
        )


register()
