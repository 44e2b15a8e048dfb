"""HAL + Agent Sandbox targets (issue 6).

1. Telemetry sampling overhead on raw CartPole-v1 steps/s (sampler on vs off, alternated,
   median of several runs; target < 3 %).
2. PPO on CartPole-v1 with RL Zoo's hyper-parameters: mean evaluation reward after 100k
   timesteps (target >= 475) and the wall time.
3. ChipTuning-v0 on the sim device: trained policy vs random vs the fixed default setting
   (and the best single setting chosen in hindsight), mean episode return over the same
   evaluation workloads (8 steps per episode, 8.0 = optimal every step).

    .venv/bin/python bench/hal_sandbox.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

import gymnasium as gym  # noqa: E402

from portal.labs.hal import TelemetrySampler, discover  # noqa: E402
from portal.labs.testing import run_inline  # noqa: E402


def cartpole_steps_per_s(steps: int) -> float:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    action = env.action_space.sample
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(action())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def sampler_overhead(repeats: int, steps: int, interval: float) -> dict[str, float]:
    devices = discover()
    points = [0]

    def sink(name: str, value: float, step: float) -> None:
        points[0] += 1

    off, on = [], []
    cartpole_steps_per_s(steps // 4)  # warm-up
    for _ in range(repeats):
        off.append(cartpole_steps_per_s(steps))
        with TelemetrySampler(devices, sink, interval_s=interval):
            on.append(cartpole_steps_per_s(steps))
    off_m, on_m = statistics.median(off), statistics.median(on)
    return {
        "off": off_m,
        "on": on_m,
        "overhead_pct": 100 * (off_m - on_m) / off_m,
        "points": points[0],
        "devices": len(devices),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller budgets (smoke test)")
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()

    print("## 1. Telemetry sampler overhead (CartPole-v1 raw steps/s)")
    s = sampler_overhead(3 if args.quick else 7, 20_000 if args.quick else 100_000, args.interval)
    print("| sampler | steps/s (median) | vs off |\n| --- | --- | --- |")
    print(f"| off | {s['off']:,.0f} | 1.000 |")
    print(
        f"| on, {s['devices']} devices every {args.interval} s | {s['on']:,.0f} | "
        f"{s['on'] / s['off']:.3f} |"
    )
    print(f"overhead: {s['overhead_pct']:.2f} % (target < 3 %), {s['points']} telemetry points\n")

    print("## 2. PPO on CartPole-v1 (RL Zoo hyper-parameters, CPU)")
    steps = 20_000 if args.quick else 100_000
    start = time.perf_counter()
    ctx = run_inline(
        "agent-sandbox",
        {
            "env_id": "CartPole-v1",
            "algo": "ppo",
            "total_timesteps": steps,
            "eval_episodes": 20,
            "device": "cpu:0",
        },
    )
    wall = time.perf_counter() - start
    r = ctx.final
    print(
        "| timesteps | eval mean ± std (20 ep) | train wall s | total wall s | steps/s | "
        "training mean reached 475 at |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {r['total_timesteps']:,} | {r['eval_mean_reward']:.1f} ± {r['eval_std_reward']:.1f} | "
        f"{r['train_seconds']:.1f} | {wall:.1f} | {r['steps_per_s']:,.0f} | "
        f"step {r['reached_target_at_step']} ({r['reached_target_after_s']} s) |"
    )
    print(f"target >= 475: {'met' if r['eval_mean_reward'] >= 475 else 'NOT met'}\n")

    print("## 3. ChipTuning-v0 on sim:0 (PPO, lab defaults)")
    start = time.perf_counter()
    ctx = run_inline("agent-sandbox", {"eval_episodes": 50})
    wall = time.perf_counter() - start
    r = ctx.final
    b = r["baselines"]
    print(
        f"trained {r['total_timesteps']:,} steps in {r['train_seconds']:.1f} s "
        f"(total wall {wall:.1f} s); 50 evaluation workloads, 8 steps each, optimum 8.0"
    )
    print("| policy | mean return | fraction of optimum | trained minus this |")
    print("| --- | --- | --- | --- |")
    for name, key in (
        ("trained PPO", "trained"),
        ("random", "random"),
        ("fixed default (batch 8, fp32, 1 stream)", "default"),
        ("best single setting (hindsight)", "best_fixed"),
    ):
        print(f"| {name} | {b[key]:.3f} | {b[key] / 8:.3f} | {b['trained'] - b[key]:+.3f} |")


if __name__ == "__main__":
    main()
