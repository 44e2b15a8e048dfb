"""Reads shared by the pages and the API: devices here, workers' devices, sandbox runs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from portal.labs.hal.discovery import discovery_report
from portal.labs.hal.models import WorkerHost
from portal.labs.hal.services import worker_telemetry
from portal.labs.models import Run, RunStatus

SANDBOX_LAB_ID = "agent-sandbox"


def local_devices() -> list[dict[str, Any]]:
    return [d.describe() for d in discovery_report().devices]


def local_unavailable() -> dict[str, str]:
    return dict(discovery_report().unavailable)


def workers_with_telemetry() -> list[dict[str, Any]]:
    """Every worker that reported its devices, each device with its latest cached telemetry."""
    out = []
    for host in WorkerHost.objects.recent():
        readings = worker_telemetry(host.hostname)
        devices = [
            {**device, "telemetry": readings.get(device["identity"]["key"])}
            for device in host.devices
        ]
        out.append({**host.summary(), "devices": devices, "live": bool(readings)})
    return out


def sandbox_runs(user: AbstractBaseUser, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The user's succeeded Agent Sandbox runs (labs.Run) as comparison rows, newest first.

    Training figures come from the run's result; the worker and the HAL key of the device
    the worker ran it on from the run itself (runner.describe_device).
    """
    runs = Run.objects.filter(
        owner=user, lab_id=SANDBOX_LAB_ID, status=RunStatus.SUCCEEDED, result__isnull=False
    )
    if ids:
        runs = runs.filter(pk__in=ids)
    rows = []
    for run in runs.order_by("-created_at", "-id")[:50]:
        result = run.result if isinstance(run.result, dict) else {}
        baselines = result.get("baselines") or {}
        device_info = run.device if isinstance(run.device, dict) else {}
        rows.append(
            {
                "id": run.pk,
                "url": reverse("labs:run", args=[run.pk]),
                "created_at": run.created_at,
                "finished_at": run.finished_at,
                "duration_s": round(run.duration_s, 1) if run.duration_s is not None else None,
                "worker": run.worker,
                "worker_device": device_info.get("device_key"),
                "env_id": result.get("env_id"),
                "algo": result.get("algo"),
                "device": result.get("device"),
                "device_model": result.get("device_model"),
                "policy_device": result.get("policy_device"),
                "n_envs": result.get("n_envs"),
                "total_timesteps": result.get("total_timesteps"),
                "steps_per_s": result.get("steps_per_s"),
                "eval_mean_reward": result.get("eval_mean_reward"),
                "reached_target_after_s": result.get("reached_target_after_s"),
                "reached_target_at_step": result.get("reached_target_at_step"),
                "energy_j": result.get("energy_j"),
                "trained": baselines.get("trained"),
                "random": baselines.get("random"),
                "default": baselines.get("default"),
            }
        )
    return rows
