"""The kernel lab through the real labs pipeline: API launch, a real Celery worker, stored events."""

from __future__ import annotations

import pytest
import torch

from portal.labs.kernels.models import Sweep
from portal.labs.models import Run, RunEvent, RunStatus
from tests.labs.conftest import launch, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PARAMS = {
    "kernels": ["softmax", "matmul"],
    "dtypes": ["float32"],
    "sizes": [32],
    "impls": ["eager", "cpp", "triton"],
    "trials": 2,
    "target_ms": 5,
    "max_reps": 3,
}


def test_a_launched_kernel_lab_runs_on_the_worker_and_stores_its_sweep(api, celery_worker_process):
    run_id = launch(api, "kernels", PARAMS)
    # The first run on a fresh data dir builds the C++ operator (tens of seconds).
    run = wait_for_status(run_id, {"succeeded", "failed", "lost", "cancelled"}, timeout=300)
    assert run.status == RunStatus.SUCCEEDED, run.error

    kinds = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("kind", flat=True))
    assert "metric" in kinds and "table" in kinds
    assert kinds.index("metric") < kinds.index("table")
    # softmax: eager + cpp + triton; matmul: eager + triton (Triton interpreted on a CPU worker)
    assert run.result["points"] == 5 and run.result["incorrect"] == 0

    sweep = Sweep.objects.get(pk=run.result["sweep_id"])
    assert sweep.run_id == run.pk and sweep.status == Sweep.Status.FINISHED
    assert sweep.measurements.filter(impl="cpp", median_ms__gt=0).exists()
    triton = sweep.measurements.filter(impl="triton")
    if torch.cuda.is_available():  # the worker shares this host: Triton compiled and timed there
        assert triton.filter(median_ms__gt=0).count() == 2
    else:
        assert triton.filter(data__interpreted=True).count() == 2

    body = api.get(f"/api/runs/{run_id}").json()
    assert body["status"] == "succeeded" and body["result"]["sweep_id"] == sweep.pk
    assert Run.objects.get(pk=run_id).progress == 1.0
