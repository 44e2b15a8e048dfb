"""Reads shared by the pages and the API: devices here, workers' devices, sandbox runs."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser

from portal.labs.hal.discovery import discovery_report
from portal.labs.hal.models import WorkerHost
from portal.labs.hal.services import worker_telemetry

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


def sandbox_runs(
    user: AbstractBaseUser, ids: list[int] | None = None
) -> list[dict[str, Any]] | None:
    """The user's finished Agent Sandbox runs as comparison rows; None when the labs
    platform (the Run model) is not installed."""
    try:
        run_model = apps.get_model("labs", "Run")
    except LookupError:
        return None
    runs = run_model.objects.filter(owner=user, lab_id=SANDBOX_LAB_ID, result__isnull=False)
    if ids:
        runs = runs.filter(pk__in=ids)
    rows = []
    for run in runs.order_by("-created_at", "-id")[:50]:
        result = run.result or {}
        baselines = result.get("baselines") or {}
        rows.append(
            {
                "id": run.pk,
                "created_at": run.created_at,
                "env_id": result.get("env_id"),
                "algo": result.get("algo"),
                "device": result.get("device"),
                "device_model": result.get("device_model"),
                "policy_device": result.get("policy_device"),
                "n_envs": result.get("n_envs"),
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
