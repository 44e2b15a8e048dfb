"""End to end: one serving run launched through the API and executed by the real Celery worker."""

from __future__ import annotations

import inspect

import pytest

from portal.labs.apps import LabsConfig
from portal.labs.models import Run, RunArtifact, RunEvent, RunStatus
from tests.labs.conftest import launch, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The worker registers labs through LabsConfig.ready(); until it imports the LLM labs
# (one line, added when the branch is merged) the worker cannot know them.
requires_registration = pytest.mark.skipif(
    "portal.labs.llm" not in inspect.getsource(LabsConfig.ready),
    reason="LabsConfig.ready() does not import portal.labs.llm.labs yet",
)


@requires_registration
def test_a_serving_run_through_the_pipeline_load_tests_the_baseline_server(
    api, celery_worker_process
):
    run_id = launch(
        api,
        "llm-serving",
        {
            "model": "tiny-random",
            "servers": ["transformers"],
            "levels": [2],
            "num_requests": 4,
            "max_tokens": 4,
            "prompt_lengths": ["short"],
        },
    )
    run = wait_for_status(run_id, {"succeeded", "failed", "cancelled", "lost"}, timeout=180)
    assert run.status == RunStatus.SUCCEEDED, run.error
    [point] = run.result["points"]
    assert (point["server"], point["completed"], point["failed"]) == ("transformers", 4, 0)
    assert point["total_output_tokens"] == 16
    names = set(
        RunEvent.objects.filter(run=run, kind="metric").values_list("data__name", flat=True)
    )
    assert {"ttft_ms/transformers/2", "output_tok_s/transformers"} <= names
    assert set(RunArtifact.objects.filter(run=run).values_list("name", flat=True)) == {
        "llm-serving-report.md",
        "llm-serving-report.json",
    }
    body = api.get(f"/api/runs/{run_id}").json()
    assert body["result"]["points"][0]["output_throughput"] > 0
    assert Run.objects.get(pk=run_id).progress == 1.0
