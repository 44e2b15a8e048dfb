"""Reward shaping from hardware signals, selected by name.

A reward function takes the environment's reward and a `StepSignals` (the
telemetry of the watched device at this step and the wall time the step took)
and returns the shaped reward. Register new ones with `@register_reward`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.labs.hal.types import Telemetry


@dataclass(frozen=True)
class StepSignals:
    telemetry: Telemetry | None
    step_seconds: float
    tdp_w: float | None = None


RewardFunction = Callable[[float, StepSignals], float]


@dataclass(frozen=True)
class RewardSpec:
    name: str
    fn: RewardFunction
    description: str


_rewards: dict[str, RewardSpec] = {}


def register_reward(name: str, description: str) -> Callable[[RewardFunction], RewardFunction]:
    def decorate(fn: RewardFunction) -> RewardFunction:
        _rewards[name] = RewardSpec(name, fn, description)
        return fn

    return decorate


def get_reward(name: str) -> RewardSpec:
    try:
        return _rewards[name]
    except KeyError:
        raise KeyError(
            f"no reward function {name!r}; known: {', '.join(sorted(_rewards))}"
        ) from None


def reward_names() -> list[str]:
    return sorted(_rewards)


def all_rewards() -> list[RewardSpec]:
    return [_rewards[name] for name in reward_names()]


@register_reward("none", "The environment's own reward, unchanged.")
def _none(reward: float, signals: StepSignals) -> float:
    return reward


@register_reward("energy", "Minus 0.01 per step at full TDP: power drawn, as a fraction of TDP.")
def _energy(reward: float, signals: StepSignals) -> float:
    power = signals.telemetry.power_w if signals.telemetry else None
    if power is None or not signals.tdp_w:
        return reward  # not reported: no penalty rather than a made-up one
    return reward - 0.01 * min(power / signals.tdp_w, 1.5)


@register_reward("time", "Minus 0.01 per millisecond of wall time the step took.")
def _time(reward: float, signals: StepSignals) -> float:
    return reward - 0.01 * signals.step_seconds * 1e3


@register_reward("thermal", "Minus up to 0.05 as the device runs above 80 °C.")
def _thermal(reward: float, signals: StepSignals) -> float:
    temp = signals.telemetry.temperature_c if signals.telemetry else None
    if temp is None or temp <= 80:
        return reward
    return reward - 0.05 * min((temp - 80) / 20, 1.0)
