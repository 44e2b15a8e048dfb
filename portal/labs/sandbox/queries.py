"""Reads of the Agent Sandbox's runs: the comparison rows of the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from portal.labs.models import Run, RunStatus
from portal.labs.sandbox.lab import LAB_ID, SandboxResult


def succeeded_runs(user: AbstractBaseUser, ids: list[int] | None = None) -> list[Run]:
    """The user's succeeded Agent Sandbox runs, newest first (at most 50)."""
    runs = Run.objects.filter(
        owner=user, lab_id=LAB_ID, status=RunStatus.SUCCEEDED, result__isnull=False
    )
    if ids:
        runs = runs.filter(pk__in=ids)
    return list(runs.order_by("-created_at", "-id")[:50])


def sandbox_runs(user: AbstractBaseUser, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The user's succeeded Agent Sandbox runs as comparison rows, newest first.

    Training figures come from the run's typed result; the worker and the HAL key of the
    device the worker ran it on from the run itself (runner.describe_device).
    """
    rows = []
    for run in succeeded_runs(user, ids):
        result = SandboxResult.of(run)
        device_info = run.device if isinstance(run.device, dict) else {}
        baselines = result.baselines
        rows.append(
            {
                "id": run.pk,
                "url": reverse("labs:run", args=[run.pk]),
                "created_at": run.created_at,
                "finished_at": run.finished_at,
                "duration_s": round(run.duration_s, 1) if run.duration_s is not None else None,
                "worker": run.worker,
                "worker_device": device_info.get("device_key"),
                "env_id": result.env_id,
                "algo": result.algo,
                "device": result.device,
                "device_model": result.device_model,
                "policy_device": result.policy_device,
                "n_envs": result.n_envs,
                "total_timesteps": result.total_timesteps,
                "steps_per_s": result.steps_per_s,
                "eval_mean_reward": result.eval_mean_reward,
                "reached_target_after_s": result.reached_target_after_s,
                "reached_target_at_step": result.reached_target_at_step,
                "energy_j": result.energy_j,
                "trained": baselines.trained if baselines else None,
                "random": baselines.random if baselines else None,
                "default": baselines.default if baselines else None,
            }
        )
    return rows
