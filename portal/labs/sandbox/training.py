"""SB3 training plumbing: chip-aware choices, RunContext streaming, presets."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter

from portal.labs.context import RunContext
from portal.labs.hal.sampler import TelemetrySampler
from portal.labs.hal.types import Accelerator

ON_POLICY = {"ppo", "a2c"}

# RL Zoo's tuned hyper-parameters where they exist (rl-baselines3-zoo/hyperparams/*.yml).
PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("CartPole-v1", "ppo"): {
        "n_envs": 8,
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_range": 0.2,
    },
    ("CartPole-v1", "dqn"): {
        "learning_rate": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "policy_kwargs": {"net_arch": [256, 256]},
    },
    ("Acrobot-v1", "ppo"): {
        "n_envs": 16,
        "n_steps": 256,
        "gae_lambda": 0.94,
        "gamma": 0.99,
        "n_epochs": 4,
        "ent_coef": 0.0,
    },
    ("Pendulum-v1", "sac"): {"learning_rate": 1e-3},
    ("Pendulum-v1", "ppo"): {
        "n_envs": 4,
        "n_steps": 1024,
        "gae_lambda": 0.95,
        "gamma": 0.9,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_range": 0.2,
        "use_sde": True,
        "sde_sample_freq": 4,
    },
    ("ChipTuning-v0", "ppo"): {
        "n_envs": 8,
        "n_steps": 64,
        "batch_size": 256,
        "n_epochs": 10,
        "gamma": 0.9,
        "gae_lambda": 0.9,
        "ent_coef": 0.01,
        "learning_rate": 1e-3,
    },
    ("ChipTuning-v0", "dqn"): {
        "learning_rate": 1e-3,
        "batch_size": 128,
        "buffer_size": 50_000,
        "learning_starts": 1000,
        "gamma": 0.9,
        "target_update_interval": 500,
        "train_freq": 4,
        "exploration_fraction": 0.3,
        "exploration_final_eps": 0.02,
    },
}


@dataclass
class Choices:
    """What the sandbox decided for this run, and why (shown in the run's log and result)."""

    policy_device: str
    n_envs: int
    hyper: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def choose(
    *,
    algo: str,
    env_id: str,
    device: Accelerator,
    n_envs: int | None,
    batch_size: int | None,
    policy_device: str,
    overrides: dict[str, Any],
    cpu_cores: int,
) -> Choices:
    """The adaptive part: device, parallel environments and batch size from the chip."""
    reasons: list[str] = []
    warnings: list[str] = []
    hyper = dict(PRESETS.get((env_id, algo), {}))
    if hyper:
        reasons.append(f"RL Zoo / sandbox preset for {algo.upper()} on {env_id}")
    preset_envs = hyper.pop("n_envs", None)

    torch_device = device.identity.torch_device or "cpu"
    on_gpu = torch_device.startswith("cuda")
    if policy_device == "auto":
        if on_gpu and algo in ON_POLICY:
            chosen = "cpu"
            reasons.append(
                f"{algo.upper()} with an MLP policy trains faster on the CPU than on "
                f"{device.identity.model} (SB3's own advice); the GPU keeps the environment"
            )
        else:
            chosen = torch_device if on_gpu else "cpu"
    else:
        chosen = "cpu" if policy_device == "cpu" else torch_device
    if chosen.startswith("cuda") and algo in ON_POLICY:
        warnings.append(
            f"SB3: {algo.upper()} is meant to run on the CPU with an MlpPolicy; "
            "the GPU will likely be slower for this policy"
        )

    if n_envs is None:
        if algo in ON_POLICY:
            n_envs = preset_envs or max(2, min(16, 2 * cpu_cores))
            reasons.append(f"{n_envs} parallel environments ({cpu_cores} CPU cores)")
        else:
            n_envs = 1
    if batch_size is None and "batch_size" not in hyper:
        memory_gb = (device.identity.memory_bytes or 0) / 1024**3
        base = {"ppo": 64, "a2c": None, "dqn": 64, "sac": 256}.get(algo)
        if base is not None:
            batch_size = base * 4 if chosen.startswith("cuda") and memory_gb >= 16 else base
            reasons.append(f"batch size {batch_size} for {memory_gb:.0f} GiB on {chosen}")
    if batch_size is not None and algo != "a2c":
        hyper["batch_size"] = batch_size
    hyper.update({k: v for k, v in overrides.items() if v is not None})
    if algo in ON_POLICY and "batch_size" in hyper and "n_steps" in hyper:
        rollout = hyper["n_steps"] * n_envs
        if hyper["batch_size"] > rollout:
            hyper["batch_size"] = rollout
            reasons.append(f"batch size capped to the rollout size {rollout}")
    if algo == "a2c":
        hyper.pop("batch_size", None)
    return Choices(
        policy_device=chosen, n_envs=n_envs, hyper=hyper, reasons=reasons, warnings=warnings
    )


class RunContextWriter(KVWriter):
    """Forwards SB3's logged scalars (losses, fps, ...) into the run as metrics, throttled."""

    def __init__(self, ctx: RunContext, model_ref: list[Any], every_steps: int) -> None:
        self.ctx = ctx
        self.model_ref = model_ref
        self.every_steps = max(1, every_steps)
        self._last_step = -math.inf

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0
    ) -> None:
        if step - self._last_step < self.every_steps:
            return
        self._last_step = step
        for key, value in key_values.items():
            if key.startswith(("rollout/", "train/", "time/fps")) and isinstance(
                value, int | float | np.floating | np.integer
            ):
                if not isinstance(value, bool) and math.isfinite(float(value)):
                    self.ctx.metric(key, float(value), step)

    def close(self) -> None:
        pass


class StreamCallback(BaseCallback):
    """Episode reward and length, progress, telemetry flushing and cancellation."""

    def __init__(
        self,
        ctx: RunContext,
        total_timesteps: int,
        sampler: TelemetrySampler | None,
        target_reward: float | None,
        every_steps: int,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.total = total_timesteps
        self.sampler = sampler
        self.target = target_reward
        self.every_steps = max(1, every_steps)
        self.started = time.perf_counter()
        self.rewards: list[float] = []
        self.lengths: list[int] = []
        self.window: list[float] = []
        self.episodes = 0
        self.reached_step: int | None = None
        self.reached_s: float | None = None
        self._next_emit = self.every_steps
        self.stopped_by_cancel = False

    def _on_training_start(self) -> None:
        self.started = time.perf_counter()

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")
            if episode is not None:
                self.episodes += 1
                self.rewards.append(float(episode["r"]))
                self.lengths.append(int(episode["l"]))
                self.window = (self.window + [float(episode["r"])])[-100:]
        if self.sampler is not None:
            self.sampler.flush()
        if self.num_timesteps >= self._next_emit:
            self._next_emit += self.every_steps
            self._emit()
            if self.ctx.cancelled():
                self.stopped_by_cancel = True
                return False
        return True

    def _emit(self) -> None:
        step = self.num_timesteps
        if self.rewards:
            self.ctx.metric("episode/reward", float(np.mean(self.rewards)), step)
            self.ctx.metric("episode/length", float(np.mean(self.lengths)), step)
            self.rewards, self.lengths = [], []
        elapsed = time.perf_counter() - self.started
        self.ctx.metric("time/steps_per_s", step / max(elapsed, 1e-9), step)
        if (
            self.target is not None
            and self.reached_step is None
            and len(self.window) >= 10
            and float(np.mean(self.window)) >= self.target
        ):
            self.reached_step, self.reached_s = step, round(elapsed, 2)
            self.ctx.log(
                f"training reward reached {self.target:g} at step {step} ({elapsed:.1f} s)"
            )
        self.ctx.progress(min(0.9, 0.9 * step / self.total), f"{step}/{self.total} steps")

    def _on_training_end(self) -> None:
        self._emit()
