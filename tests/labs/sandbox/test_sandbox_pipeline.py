"""End to end: the Agent Sandbox launched through the API, trained on the real Celery worker,
its metrics, telemetry and artifacts stored; the Labs page and the chip comparison read it."""

from __future__ import annotations

import io
import time
import zipfile
from http import HTTPStatus

import pytest
from django.core.cache import cache

from portal.labs.hal.models import WorkerHost
from portal.labs.models import EventKind, RunArtifact, RunEvent, RunStatus
from portal.labs.workers import _CACHE_KEY as WORKERS_CACHE_KEY
from tests.labs.conftest import launch, wait_for, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHORT_CHIP_TUNING = {
    "env_id": "ChipTuning-v0",
    "total_timesteps": 3000,
    "eval_episodes": 2,
    "telemetry_interval_s": 0.1,
    "device": "sim:0",  # named: "auto" would pick a real GPU where there is one
}


def worker_device_key() -> str:
    """The HAL key of the device a worker on this host runs torch on (cpu:0, or nvidia:0)."""
    from portal.labs.hal import device_for_torch
    from portal.labs.registry import get_lab
    from portal.labs.runner import resolve_device

    device = device_for_torch(resolve_device(get_lab("agent-sandbox")))
    assert device is not None
    return device.key


def test_the_agent_sandbox_trains_on_a_real_worker_and_streams_metrics_and_artifacts(
    api, owner_client, celery_worker_process
):
    started = time.monotonic()
    run_id = launch(api, "agent-sandbox", SHORT_CHIP_TUNING)

    run = wait_for_status(run_id, {"succeeded", "failed", "cancelled", "lost"}, timeout=150)
    assert run.status == RunStatus.SUCCEEDED, run.error + run.traceback
    assert time.monotonic() - started < 150

    # the worker and the device, from the HAL: torch's device there (cpu:0 on a CPU worker)
    assert run.worker.startswith("test-")
    assert run.device["device_key"] == worker_device_key() and run.device["identity"]["vendor"]
    assert "sim:0" in [a["key"] for a in run.device["accelerators"]]

    metrics = RunEvent.objects.filter(run=run, kind=EventKind.METRIC)
    names = set(metrics.values_list("data__name", flat=True))
    assert {"episode/reward", "episode/length", "time/fps"} <= names
    assert {"hw/sim:0/power_w", "hw/sim:0/utilization_pct", "hw/cpu:0/utilization_pct"} <= names
    rewards = [e.data["value"] for e in metrics if e.data["name"] == "episode/reward"]
    assert len(rewards) >= 3
    power = [e.data["value"] for e in metrics if e.data["name"] == "hw/sim:0/power_w"]
    assert power and min(power) > 0
    seqs = list(RunEvent.objects.filter(run=run).values_list("seq", flat=True))
    assert seqs == list(range(1, run.last_seq + 1))

    result = run.result
    assert result["device"] == "sim:0" and result["total_timesteps"] >= 3000
    assert result["energy_j"] > 0
    assert result["baselines"]["trained"] is not None

    artifacts = {a.name: a for a in RunArtifact.objects.filter(run=run)}
    assert {"policy.zip", "tensorboard.zip"} <= set(artifacts)
    assert artifacts["policy.zip"].size > 1000
    download = owner_client.get(f"/labs/runs/{run_id}/artifacts/tensorboard.zip")
    assert download.status_code == HTTPStatus.OK
    names_in_zip = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
    assert any("events.out.tfevents" in name for name in names_in_zip)

    # the chip comparison lists the run with the worker's device
    rows = api.get("/api/hal/compare").json()
    assert [r["id"] for r in rows] == [run_id]
    assert rows[0]["worker"] == run.worker and rows[0]["worker_device"] == worker_device_key()

    # the Labs page shows the worker with the devices it reported and their live telemetry
    wait_for(
        lambda: WorkerHost.objects.filter(hostname=run.worker).exists(),
        timeout=10,
        what="the worker to report its devices",
    )
    cache.delete(WORKERS_CACHE_KEY)
    try:
        body = owner_client.get("/labs/").content.decode()
    finally:
        cache.delete(WORKERS_CACHE_KEY)
    section = body[body.index(f'data-worker="{run.worker}"') :]
    assert 'data-device="sim:0"' in section and 'data-device="cpu:0"' in section
    assert "no-telemetry" not in section.split("</table>")[0]
