"""The Agent Sandbox lab's run function through the labs contract (RecordingContext)."""

from __future__ import annotations

import io
import zipfile

import pytest
from pydantic import ValidationError

from portal.labs.registry import get_lab
from portal.labs.testing import RecordingContext, run_inline


def test_the_agent_sandbox_is_registered_for_week_15_with_valid_defaults():
    lab = get_lab("agent-sandbox")
    assert lab is not None and lab.week == 15
    params = lab.validate({})
    assert params.env_id == "ChipTuning-v0" and params.resolved_algo() == "ppo"
    assert "reward" in lab.parameter_schema()["properties"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"env_id": "Pendulum-v1", "algo": "dqn"}, "does not fit"),
        ({"env_id": "CartPole-v1", "algo": "sac"}, "does not fit"),
        ({"reward": "carbon"}, "unknown reward"),
        ({"total_timesteps": 10}, "greater than or equal"),
        ({"env_id": "Breakout-v5"}, "Input should be"),
    ],
)
def test_parameters_that_cannot_work_are_refused_with_a_message(raw, message):
    with pytest.raises(ValidationError, match=message):
        get_lab("agent-sandbox").validate(raw)


def test_a_short_chip_tuning_run_streams_metrics_saves_artifacts_and_beats_baselines(
    fresh_discovery,
):
    ctx = run_inline(
        "agent-sandbox",
        # sim:0 named: "auto" would pick a real GPU where there is one
        {
            "device": "sim:0",
            "total_timesteps": 6000,
            "eval_episodes": 8,
            "telemetry_interval_s": 0.05,
        },
    )
    result = ctx.final
    assert result["device"] == "sim:0" and result["policy_device"] == "cpu"
    assert result["n_envs"] == 8
    names = {d["name"] for d in ctx.of_kind("metric")}
    assert {"episode/reward", "episode/length", "time/fps", "train/loss"} <= names
    assert {"hw/sim:0/power_w", "hw/sim:0/utilization_pct", "hw/cpu:0/utilization_pct"} <= names
    assert result["energy_j"] > 0
    artifacts = {d["name"]: d["size"] for d in ctx.of_kind("artifact")}
    assert artifacts["policy.zip"] > 1000
    assert "tensorboard.zip" in artifacts
    baselines = result["baselines"]
    assert baselines["trained"] > baselines["random"]
    assert baselines["trained"] > baselines["default"]
    assert [row["policy"] for row in ctx.of_kind("table")[0]["rows"]][:2] == ["trained", "random"]
    fractions = [d["fraction"] for d in ctx.of_kind("progress")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("chose:" in d["text"] for d in ctx.of_kind("log"))


class KeepingContext(RecordingContext):
    """A RecordingContext that also keeps the artifacts' bytes."""

    def artifact(self, name, data):
        super().artifact(name, data)
        self.files = getattr(self, "files", {})
        self.files[name] = data if isinstance(data, bytes) else data.read_bytes()


def test_tensorboard_event_files_and_the_policy_are_downloadable(fresh_discovery):
    from stable_baselines3 import PPO

    ctx = KeepingContext()
    lab = get_lab("agent-sandbox")
    params = lab.validate({"env_id": "CartPole-v1", "total_timesteps": 1024, "eval_episodes": 2})
    lab.run(params, ctx)
    names = zipfile.ZipFile(io.BytesIO(ctx.files["tensorboard.zip"])).namelist()
    assert any("events.out.tfevents" in name for name in names)
    policy = PPO.load(io.BytesIO(ctx.files["policy.zip"]))
    assert policy.observation_space.shape == (4,)


def test_off_policy_algorithms_run_on_their_action_spaces(fresh_discovery):
    ctx = run_inline(
        "agent-sandbox",
        {
            "env_id": "ChipTuning-v0",
            "algo": "dqn",
            "total_timesteps": 1500,
            "eval_episodes": 2,
            "device": "sim:0",
        },
    )
    assert ctx.final["algo"] == "dqn" and ctx.final["n_envs"] == 1
    ctx = run_inline(
        "agent-sandbox",
        {
            "env_id": "Pendulum-v1",
            "total_timesteps": 600,
            "eval_episodes": 1,
            "reward": "energy",
            "device": "sim:0",
        },
    )
    assert ctx.final["algo"] == "sac"


def test_a_cancelled_run_stops_cooperatively(fresh_discovery):
    from portal.labs.context import RunCancelled

    with pytest.raises(RunCancelled):
        run_inline(
            "agent-sandbox",
            {"env_id": "CartPole-v1", "total_timesteps": 200_000},
            cancel_after_events=40,
        )


def test_unknown_devices_fail_with_the_reason(no_nvml):
    from portal.labs.hal import NoSuchDevice

    with pytest.raises(NoSuchDevice, match="NVML"):
        run_inline("agent-sandbox", {"device": "nvidia:0", "total_timesteps": 500})
