"""The Agent Sandbox lab: SB3 agents on classic environments and on ChipTuning-v0, on any HAL device."""

from __future__ import annotations

import io
import os
import shutil
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, Field, field_validator, model_validator

from portal.labs.context import RunCancelled, RunContext
from portal.labs.registry import DeviceClass, Lab, LabResult, ResultPart

LAB_ID = "agent-sandbox"
ENV_IDS = ("ChipTuning-v0", "CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCarContinuous-v0")
CONTINUOUS = {"Pendulum-v1", "MountainCarContinuous-v0"}
# Where "time to reward" is measured from (the training window mean crossing it).
TARGETS = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "Pendulum-v1": -200.0,
    "MountainCarContinuous-v0": 90.0,
    "ChipTuning-v0": 5.0,  # 8 steps x ~0.63 of the optimum
}
ALGOS_FOR = {"continuous": ("sac", "ppo", "a2c"), "discrete": ("ppo", "dqn", "a2c")}


class SandboxParams(BaseModel):
    env_id: Literal[
        "ChipTuning-v0", "CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCarContinuous-v0"
    ] = Field(default="ChipTuning-v0", title=_("Environment"))
    algo: Literal["auto", "ppo", "dqn", "sac", "a2c"] = Field(
        "auto",
        description=_("auto: PPO for discrete actions, SAC for continuous ones"),
        title=_("Algorithm"),
    )
    total_timesteps: int = Field(16_000, ge=500, le=2_000_000, title=_("Training steps"))
    seed: int = Field(
        0, ge=0, le=2**31 - 1, title=_("Random seed")
    )  # numpy and SB3 seeds are 32-bit
    device: str = Field(
        "auto",
        pattern=r"^(auto|[a-z][a-z0-9_]{0,15}:[0-9]{1,4})$",  # a HAL key, never a path
        description=_(
            "HAL device key: the chip ChipTuning-v0 tunes and whose telemetry is "
            "streamed (auto: the first GPU, else sim:0 for ChipTuning, else cpu:0)"
        ),
        title=_("Device"),
    )
    policy_device: Literal["auto", "cpu", "device"] = Field(
        "auto",
        description=_("where the network trains; auto follows SB3's advice"),
        title=_("Policy device"),
    )
    n_envs: int | None = Field(
        None,
        ge=1,
        le=64,
        description=_("empty: chosen from the cores"),
        title=_("Parallel environments"),
    )
    reward: str = Field(
        "none",
        description=_("reward shaping function from hardware signals"),
        title=_("Reward shaping"),
    )
    learning_rate: float | None = Field(None, gt=0, le=1, title=_("Learning rate"))
    gamma: float | None = Field(None, gt=0, le=1, title=_("Discount (gamma)"))
    batch_size: int | None = Field(None, ge=8, le=65_536, title=_("Batch size"))
    n_steps: int | None = Field(
        None, ge=8, le=16_384, description=_("PPO/A2C rollout length"), title=_("Rollout length")
    )
    ent_coef: float | None = Field(None, ge=0, le=1, title=_("Entropy coefficient"))
    telemetry_in_obs: bool = Field(default=False, title=_("Telemetry in the observation"))
    telemetry_interval_s: float = Field(0.5, ge=0.02, le=10, title=_("Telemetry interval (s)"))
    eval_episodes: int = Field(20, ge=1, le=200, title=_("Evaluation episodes"))

    @field_validator("reward")
    @classmethod
    def _known_reward(cls, value: str) -> str:
        from portal.labs.sandbox.rewards import reward_names

        if value not in reward_names():
            raise ValueError(f"unknown reward {value!r}; choose from {', '.join(reward_names())}")
        return value

    @model_validator(mode="after")
    def _algo_fits(self) -> SandboxParams:
        kind = "continuous" if self.env_id in CONTINUOUS else "discrete"
        if self.algo != "auto" and self.algo not in ALGOS_FOR[kind]:
            raise ValueError(f"{self.algo.upper()} does not fit {self.env_id}'s {kind} actions")
        if self.telemetry_in_obs and self.env_id == "ChipTuning-v0" and self.algo == "dqn":
            pass  # fine: the observation is a Box either way
        return self

    def resolved_algo(self) -> str:
        if self.algo != "auto":
            return self.algo
        return "sac" if self.env_id in CONTINUOUS else "ppo"


class SandboxBaselines(ResultPart):
    """Mean returns on ChipTuning-v0 of the trained policy and of fixed ones."""

    trained: float
    random: float
    default: float
    best_fixed: float | None = None
    episode_optimum: float | None = None


class SandboxResult(LabResult):
    env_id: str
    algo: str
    device: str
    device_model: str | None = None
    device_vendor: str | None = None
    policy_device: str | None = None
    n_envs: int | None = None
    hyper_parameters: dict[str, Any] = {}
    choices: list[str] = []
    warnings: list[str] = []
    total_timesteps: int | None = None
    train_seconds: float | None = None
    steps_per_s: float | None = None
    eval_episodes: int | None = None
    eval_mean_reward: float | None = None
    eval_std_reward: float | None = None
    eval_mean_length: float | None = None
    target_reward: float | None = None
    reached_target_at_step: int | None = None
    reached_target_after_s: float | None = None
    energy_j: float | None = None
    peaks: dict[str, Any] = {}
    reward_shaping: str | None = None
    cpu_percent_host: float | None = None
    # ChipTuning-v0 only
    baselines: SandboxBaselines | None = None


def _pick_device(params: SandboxParams) -> Any:
    from portal.labs.hal import discover, get_device

    if params.device != "auto":
        return get_device(params.device)
    devices = discover()
    for adapter in ("nvidia", "amd"):
        for device in devices:
            if device.identity.adapter == adapter:
                return device
    fallback = "sim:0" if params.env_id == "ChipTuning-v0" else "cpu:0"
    return get_device(fallback) if any(d.key == fallback for d in devices) else devices[0]


def _zip_dir(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(path))
    return buffer.getvalue()


def make_env_factory(params: SandboxParams, device: Any, sampler: Any, algo: str) -> Any:
    """A callable building one wrapped environment (used for training and for evaluation)."""
    import gymnasium as gym

    from portal.labs.sandbox import chip_env
    from portal.labs.sandbox.wrappers import (
        FlatActionWrapper,
        HardwareRewardWrapper,
        TelemetryInfoWrapper,
    )

    chip_env.register()

    def build() -> gym.Env:
        if params.env_id == "ChipTuning-v0":
            env = gym.make("ChipTuning-v0", device=device)
        else:
            env = gym.make(params.env_id)
        if params.env_id == "ChipTuning-v0" and algo == "dqn":
            env = FlatActionWrapper(env)
        env = TelemetryInfoWrapper(env, sampler, device, in_observation=params.telemetry_in_obs)
        if params.reward != "none":
            env = HardwareRewardWrapper(env, params.reward, sampler, device)
        return env

    return build


def baseline_rewards(
    params: SandboxParams, device: Any, policy: Any, episodes: int, seed: int
) -> list[float]:
    """Episode returns of `policy(env, obs) -> action` on the raw ChipTuning env, fixed seeds."""
    from portal.labs.sandbox.chip_env import ChipTuningEnv

    env = ChipTuningEnv(device=device)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + 10_000 + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(env, obs))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return returns


def _choose(params: SandboxParams, algo: str, device: Any, ctx: RunContext) -> Any:
    """Setup: the hyper-parameters, vector-env size and policy device for this chip, logged."""
    from portal.labs.sandbox.training import choose

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    choices = choose(
        algo=algo,
        env_id=params.env_id,
        device=device,
        n_envs=params.n_envs,
        batch_size=params.batch_size,
        policy_device=params.policy_device,
        overrides={
            "learning_rate": params.learning_rate,
            "gamma": params.gamma,
            "n_steps": params.n_steps if algo in ("ppo", "a2c") else None,
            "ent_coef": params.ent_coef if algo in ("ppo", "a2c", "sac") else None,
        },
        cpu_cores=cores or 1,
    )
    ctx.log(f"{algo.upper()} on {params.env_id}; device {device.key} ({device.identity.model})")
    for reason in choices.reasons:
        ctx.log(f"chose: {reason}")
    for warning in choices.warnings:
        ctx.log(f"warning: {warning}")
    ctx.log(f"hyper-parameters: {choices.hyper}")
    return choices


class _Telemetry:
    """The chip's and the policy host's telemetry streamed as metrics, with the chip's
    energy integrated from its power readings (delivered on the training thread)."""

    def __init__(self, ctx: RunContext, device: Any, interval_s: float) -> None:
        from portal.labs.hal import TelemetrySampler, get_device, metric_name

        watched = [device]
        if device.key != "cpu:0":
            try:
                watched.append(get_device("cpu:0"))
            except LookupError:
                pass
        self.ctx = ctx
        self.joules = 0.0
        self.last: tuple[float, float] | None = None
        self.power_name = metric_name(device.key, "power_w")
        self.sampler = TelemetrySampler(watched, self.sink, interval_s=interval_s, deliver="manual")

    def sink(self, name: str, value: float, step: float) -> None:
        self.ctx.metric(name, value, step)
        if name == self.power_name:
            if self.last is not None:
                t0, p0 = self.last
                self.joules += (step - t0) * (p0 + value) / 2
            self.last = (step, value)

    @property
    def energy_j(self) -> float | None:
        return round(self.joules, 1) if self.last is not None else None


class _Trained:
    """What training and evaluation leave for the report."""

    def __init__(self, model: Any, train_s: float, callback: Any, rewards: Any, lengths: Any):
        self.model, self.train_s, self.callback = model, train_s, callback
        self.rewards, self.lengths = rewards, lengths


def _train(
    params: SandboxParams,
    ctx: RunContext,
    algo: str,
    device: Any,
    choices: Any,
    telemetry: _Telemetry,
    tb_dir: Path,
) -> _Trained:
    """The loop: SB3 learns with metrics and telemetry streamed, then is evaluated."""
    from stable_baselines3 import A2C, DQN, PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.logger import configure

    from portal.labs.sandbox.training import RunContextWriter, StreamCallback

    every = max(params.total_timesteps // 150, 1)
    target = TARGETS.get(params.env_id)
    algo_cls = {"ppo": PPO, "dqn": DQN, "sac": SAC, "a2c": A2C}[algo]
    sampler = telemetry.sampler
    sampler.start()
    try:
        build = make_env_factory(params, device, sampler, algo)
        vec_env = make_vec_env(build, n_envs=choices.n_envs, seed=params.seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = algo_cls(
                "MlpPolicy",
                vec_env,
                seed=params.seed,
                device=choices.policy_device,
                verbose=0,
                **choices.hyper,
            )
        for w in caught:
            if "GPU" in str(w.message) or "CPU" in str(w.message):
                ctx.log(f"SB3 warning: {w.message}")
        model_ref: list[Any] = [model]
        logger = configure(str(tb_dir), ["tensorboard"])
        logger.output_formats.append(RunContextWriter(ctx, model_ref, every))
        model.set_logger(logger)
        callback = StreamCallback(ctx, params.total_timesteps, sampler, target, every)
        started = time.perf_counter()
        model.learn(
            total_timesteps=params.total_timesteps,
            callback=callback,
            log_interval=1 if algo in ("ppo", "a2c") else 10,
        )
        train_s = time.perf_counter() - started
        logger.close()
        if callback.stopped_by_cancel:
            raise RunCancelled()

        ctx.progress(0.92, "evaluating")
        eval_env = make_vec_env(build, n_envs=1, seed=params.seed + 10_000)
        rewards, lengths = evaluate_policy(
            model,
            eval_env,
            n_eval_episodes=params.eval_episodes,
            deterministic=True,
            return_episode_rewards=True,
        )
        eval_env.close()
        vec_env.close()
    finally:
        sampler.stop()
    return _Trained(model, train_s, callback, rewards, lengths)


def _chip_tuning_baselines(
    params: SandboxParams, device: Any, model: Any, algo: str, ctx: RunContext
) -> dict[str, float]:
    """Mean returns of the trained policy beside random, the fixed default and the best
    single setting in hindsight (a table, and the result's `baselines`)."""
    import numpy as np

    from portal.labs.sandbox.chip_env import DEFAULT_ACTION, ChipTuningEnv

    ctx.progress(0.96, "baselines")
    n = params.eval_episodes
    seed = params.seed
    trained = baseline_rewards(params, device, _policy_of(model, algo), n, seed)
    rnd = baseline_rewards(params, device, lambda env, obs: env.action_space.sample(), n, seed)
    default = baseline_rewards(params, device, lambda env, obs: DEFAULT_ACTION, n, seed)
    best_fixed = max(
        (
            (float(np.mean(baseline_rewards(params, device, lambda e, o, a=a: a, n, seed))), a)
            for a in np.ndindex(*ChipTuningEnv.ACTION_SHAPE)
        ),
        key=lambda pair: pair[0],
    )
    rows = [
        {"policy": "trained", "mean_return": round(float(np.mean(trained)), 3)},
        {"policy": "random", "mean_return": round(float(np.mean(rnd)), 3)},
        {
            "policy": "fixed default (batch 8, fp32, 1 stream)",
            "mean_return": round(float(np.mean(default)), 3),
        },
        {
            "policy": f"best single setting in hindsight {tuple(int(i) for i in best_fixed[1])}",
            "mean_return": round(best_fixed[0], 3),
        },
    ]
    ctx.table("baselines", rows)
    return {
        "trained": rows[0]["mean_return"],
        "random": rows[1]["mean_return"],
        "default": rows[2]["mean_return"],
        "best_fixed": rows[3]["mean_return"],
        "episode_optimum": 8.0,
    }


SUMMARY_FIGURES = (
    "device",
    "policy_device",
    "n_envs",
    "steps_per_s",
    "eval_mean_reward",
    "reached_target_at_step",
    "reached_target_after_s",
    "energy_j",
)


def run_sandbox(params: SandboxParams, ctx: RunContext) -> dict[str, Any]:
    import numpy as np
    import psutil
    import torch

    algo = params.resolved_algo()
    device = _pick_device(params)
    choices = _choose(params, algo, device, ctx)
    telemetry = _Telemetry(ctx, device, params.telemetry_interval_s)
    tb_dir = Path(ctx.workdir) / "tensorboard"
    # A small MLP gains nothing from intra-op threads, and on a busy host their spin-waits
    # cost several times the math: one thread, the other cores keep the environments.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trained = _train(params, ctx, algo, device, choices, telemetry, tb_dir)
    finally:
        torch.set_num_threads(previous_threads)

    model = trained.model
    eval_mean, eval_std = float(np.mean(trained.rewards)), float(np.std(trained.rewards))
    ctx.log(f"evaluation over {params.eval_episodes} episodes: {eval_mean:.2f} ± {eval_std:.2f}")
    policy_path = Path(ctx.workdir) / "policy.zip"
    model.save(policy_path)
    ctx.artifact("policy.zip", policy_path)
    if tb_dir.exists():
        ctx.artifact("tensorboard.zip", _zip_dir(tb_dir))

    result: dict[str, Any] = {
        "env_id": params.env_id,
        "algo": algo,
        "device": device.key,
        "device_model": device.identity.model,
        "device_vendor": device.identity.vendor,
        "policy_device": choices.policy_device,
        "n_envs": choices.n_envs,
        "hyper_parameters": {k: v for k, v in choices.hyper.items() if k != "policy_kwargs"},
        "choices": choices.reasons,
        "warnings": choices.warnings,
        "total_timesteps": int(model.num_timesteps),
        "train_seconds": round(trained.train_s, 2),
        "steps_per_s": round(model.num_timesteps / trained.train_s, 1),
        "eval_episodes": params.eval_episodes,
        "eval_mean_reward": round(eval_mean, 3),
        "eval_std_reward": round(eval_std, 3),
        "eval_mean_length": float(np.mean(trained.lengths)),
        "target_reward": TARGETS.get(params.env_id),
        "reached_target_at_step": trained.callback.reached_step,
        "reached_target_after_s": trained.callback.reached_s,
        "energy_j": telemetry.energy_j,
        "peaks": device.peaks().as_dict(),
        "reward_shaping": params.reward,
        "cpu_percent_host": psutil.cpu_percent(interval=None),
    }
    if params.env_id == "ChipTuning-v0":
        result["baselines"] = _chip_tuning_baselines(params, device, model, algo, ctx)
    ctx.table("summary", [{"metric": k, "value": result[k]} for k in SUMMARY_FIGURES])
    shutil.rmtree(tb_dir, ignore_errors=True)
    ctx.progress(1.0, "done")
    return result


def _policy_of(model: Any, algo: str) -> Any:
    import numpy as np

    def act(env: Any, obs: Any) -> Any:
        action, _ = model.predict(obs, deterministic=True)
        if algo == "dqn":
            return np.array(np.unravel_index(int(action), tuple(env.action_space.nvec)))
        return action

    return act


LAB = Lab(
    id=LAB_ID,
    title=_("Agent Sandbox: hardware-aware reinforcement learning"),
    description=_(
        "Train PPO, DQN or SAC (Stable-Baselines3) on classic control tasks or on "
        "ChipTuning-v0, where the agent picks batch size, precision and streams for a "
        "workload on a chip and is rewarded for throughput per watt within budgets. "
        "Device telemetry streams live through the HAL; choices adapt to the chip."
    ),
    params=SandboxParams,
    result=SandboxResult,
    run=run_sandbox,
    device=DeviceClass.ANY,
    week=15,
    time_limit_s=30 * 60,
    idempotent=True,
    tags=("rl", "hal", "sb3", "gymnasium"),
)
