"""Gymnasium wrappers that bring the hardware into an environment.

Both read the latest reading of a running `TelemetrySampler` (a dict lookup),
never the driver, so wrapping costs nothing measurable per step.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from portal.labs.hal.sampler import TelemetrySampler
from portal.labs.hal.types import Accelerator, Telemetry
from portal.labs.sandbox.rewards import StepSignals, get_reward

OBS_FIELDS = ("utilization_pct", "memory_used_bytes", "power_w", "temperature_c")


def telemetry_features(reading: Telemetry | None, device: Accelerator) -> np.ndarray:
    """[util, memory, power, temperature] scaled to [0, 1]; -1 where not reported."""
    ident = device.identity
    scale = {
        "utilization_pct": 100.0,
        "memory_used_bytes": float(ident.memory_bytes or 1),
        "power_w": float(ident.tdp_w or 0),
        "temperature_c": 100.0,
    }
    out = np.full(len(OBS_FIELDS), -1.0, dtype=np.float32)
    if reading is None:
        return out
    for i, name in enumerate(OBS_FIELDS):
        value = getattr(reading, name)
        if value is not None and scale[name]:
            out[i] = min(float(value) / scale[name], 1.0)
    return out


class TelemetryInfoWrapper(gym.Wrapper):
    """Puts the device's telemetry into `info["telemetry"]`, and into the observation if asked.

    With `in_observation=True` a Box observation gains four features
    (utilisation, memory, power, temperature; -1 = not reported).
    """

    def __init__(
        self,
        env: gym.Env,
        sampler: TelemetrySampler,
        device: Accelerator,
        *,
        in_observation: bool = False,
    ) -> None:
        super().__init__(env)
        self.sampler = sampler
        self.hw_device = device
        self.in_observation = in_observation
        if in_observation:
            box = env.observation_space
            if not isinstance(box, spaces.Box) or len(box.shape) != 1:
                raise ValueError("telemetry in the observation needs a flat Box observation")
            self.observation_space = spaces.Box(
                low=np.concatenate([box.low, np.full(len(OBS_FIELDS), -1.0)]).astype(box.dtype),
                high=np.concatenate([box.high, np.ones(len(OBS_FIELDS))]).astype(box.dtype),
                dtype=box.dtype,
            )

    def _attach(self, obs: Any, info: dict[str, Any]) -> Any:
        reading = self.sampler.latest(self.hw_device.key)
        info["telemetry"] = reading.reported() if reading is not None else {}
        if self.in_observation:
            features = telemetry_features(reading, self.hw_device)
            obs = np.concatenate([obs, features]).astype(self.observation_space.dtype)
        return obs

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return self._attach(obs, info), info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._attach(obs, info), reward, terminated, truncated, info


class HardwareRewardWrapper(gym.Wrapper):
    """Shapes the reward with a named reward function from the registry."""

    def __init__(
        self, env: gym.Env, reward: str, sampler: TelemetrySampler | None, device: Accelerator
    ) -> None:
        super().__init__(env)
        self.spec_reward = get_reward(reward)
        self.sampler = sampler
        self.hw_device = device

    def step(self, action: Any):
        start = time.perf_counter()
        obs, reward, terminated, truncated, info = self.env.step(action)
        signals = StepSignals(
            telemetry=self.sampler.latest(self.hw_device.key) if self.sampler else None,
            step_seconds=time.perf_counter() - start,
            tdp_w=self.hw_device.identity.tdp_w,
        )
        shaped = float(self.spec_reward.fn(float(reward), signals))
        info["raw_reward"] = float(reward)
        return obs, shaped, terminated, truncated, info


class FlatActionWrapper(gym.ActionWrapper):
    """A MultiDiscrete action space as one Discrete (for DQN): index -> tuple of choices."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, spaces.MultiDiscrete):
            raise ValueError("FlatActionWrapper needs a MultiDiscrete action space")
        self.nvec = tuple(int(n) for n in space.nvec)
        self.action_space = spaces.Discrete(int(np.prod(self.nvec)))

    def action(self, action: Any) -> np.ndarray:
        return np.array(np.unravel_index(int(action), self.nvec), dtype=np.int64)
