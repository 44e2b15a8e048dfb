from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import portal.labs.hal as hal
from portal.labs.hal.adapters.sim import SimAccelerator, SimChipSpec
from portal.labs.sandbox import chip_env
from portal.labs.sandbox.chip_env import DEFAULT_ACTION, ChipTuningEnv, Workload
from portal.labs.sandbox.rewards import StepSignals, get_reward, reward_names
from portal.labs.sandbox.wrappers import (
    FlatActionWrapper,
    HardwareRewardWrapper,
    TelemetryInfoWrapper,
)


def test_chip_tuning_is_registered_with_gymnasium_and_passes_the_env_checker():
    env = gym.make("ChipTuning-v0", device="sim:0")
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.backend == "sim"


def test_the_measuring_backend_times_real_kernels_on_the_cpu(fresh_discovery):
    env = ChipTuningEnv(device="cpu:0", horizon=2, measure_scale=1e-5)
    assert env.backend == "measure"  # timings differ run to run: no determinism check here
    # a latency budget no loaded CI machine can miss: this test is about timing real kernels
    obs, _ = env.reset(seed=1, options={"workload": Workload(125e6, 128, 1, 1e9, 2**34)})
    assert env.observation_space.contains(obs)
    obs, reward, _, _, info = env.step(np.array([3, 0, 0]))
    assert env.observation_space.contains(obs)
    assert info["tokens_per_s"] > 0 and info["violation"] == ""
    _, reward, _, _, info = env.step(np.array([3, 3, 0]))  # int8: no portable torch GEMM
    assert reward == chip_env.PENALTY_INVALID


def test_the_reward_is_a_fraction_of_the_best_setting_and_budgets_are_enforced():
    env = ChipTuningEnv(device=SimAccelerator(0, SimChipSpec()), noise=0.0)
    small = Workload(350e6, 512, 1, 100.0, 16 * 2**30)
    env.reset(seed=0, options={"workload": small})
    rewards = {}
    for action in np.ndindex(*ChipTuningEnv.ACTION_SHAPE):
        env.reset(seed=0, options={"workload": small})
        rewards[action] = env.step(np.array(action))[1]
    assert max(rewards.values()) == pytest.approx(1.0)
    # fp32 only on an accuracy-sensitive workload: 16-bit settings are refused.
    strict = Workload(350e6, 512, 0, 100.0, 16 * 2**30)
    env.reset(seed=0, options={"workload": strict})
    _, reward, _, _, info = env.step(np.array([3, 2, 0]))
    assert reward == chip_env.PENALTY_INVALID and info["violation"] == "accuracy tolerance broken"
    # A 7B model in fp32 does not fit an 8 GiB budget.
    big = Workload(7e9, 512, 0, 2000.0, 8 * 2**30)
    env.reset(seed=0, options={"workload": big})
    assert env.step(np.array(DEFAULT_ACTION))[4]["violation"] == "over memory budget"


def test_work_done_in_the_env_shows_in_the_sim_device_telemetry():
    chip = SimAccelerator(0, SimChipSpec())
    env = ChipTuningEnv(device=chip)
    before = chip.telemetry()
    env.reset(seed=3, options={"workload": Workload(1.3e9, 512, 1, 2000.0, 2**34)})
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        assert env.step(np.array([3, 2, 0]))[4]["violation"] == ""
    after = chip.telemetry()
    assert after.utilization_pct > 50
    assert after.power_w > before.power_w + 50
    assert after.memory_used_bytes > 2**30


def test_episodes_always_have_a_feasible_setting():
    env = ChipTuningEnv(device=SimAccelerator(0, SimChipSpec()))
    for seed in range(30):
        _, info = env.reset(seed=seed)
        assert env._best_score() > 0, info


def test_the_telemetry_wrapper_puts_readings_in_info_and_optionally_in_the_observation():
    chip = SimAccelerator(0, SimChipSpec())
    with hal.TelemetrySampler([chip], interval_s=0.05) as sampler:
        env = TelemetryInfoWrapper(gym.make("CartPole-v1"), sampler, chip, in_observation=True)
        assert env.observation_space.shape == (8,)
        obs, info = env.reset(seed=0)
        assert obs.shape == (8,) and env.observation_space.contains(obs)
        assert info["telemetry"]["power_w"] == pytest.approx(chip.spec.idle_w, rel=0.2)
        obs, _, _, _, info = env.step(0)
        assert -1.0 <= obs[-1] <= 1.0 and "utilization_pct" in info["telemetry"]
    with pytest.raises(ValueError, match="flat Box"):
        TelemetryInfoWrapper(gym.make("FrozenLake-v1"), sampler, chip, in_observation=True)


def test_reward_functions_are_chosen_by_name_and_ignore_unreported_signals():
    assert {"none", "energy", "time", "thermal"} <= set(reward_names())
    hot = StepSignals(hal.Telemetry(power_w=300.0, temperature_c=100.0), 0.002, tdp_w=300.0)
    blind = StepSignals(hal.Telemetry(), 0.0, tdp_w=300.0)
    assert get_reward("energy").fn(1.0, hot) == pytest.approx(0.99)
    assert get_reward("energy").fn(1.0, blind) == 1.0
    assert get_reward("time").fn(1.0, hot) == pytest.approx(0.98)
    assert get_reward("thermal").fn(1.0, hot) == pytest.approx(0.95)
    with pytest.raises(KeyError, match="known"):
        get_reward("carbon")


def test_the_reward_wrapper_shapes_and_keeps_the_raw_reward():
    chip = SimAccelerator(0, SimChipSpec())
    with hal.TelemetrySampler([chip], interval_s=0.05) as sampler:
        env = HardwareRewardWrapper(gym.make("CartPole-v1"), "energy", sampler, chip)
        env.reset(seed=0)
        _, reward, _, _, info = env.step(1)
    assert info["raw_reward"] == 1.0 and reward < 1.0


def test_flattened_actions_cover_every_setting_for_dqn():
    env = FlatActionWrapper(ChipTuningEnv(device=SimAccelerator(0, SimChipSpec())))
    assert env.action_space.n == 8 * 4 * 3
    assert list(env.action(95)) == [7, 3, 2]
