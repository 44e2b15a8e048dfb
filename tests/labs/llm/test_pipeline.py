"""End to end: one serving run launched through the API and executed by the real Celery worker."""

from __future__ import annotations

import inspect
from pathlib import Path

import httpx
import pytest

from portal.labs.apps import LabsConfig
from portal.labs.models import Run, RunArtifact, RunEvent, RunStatus
from tests.labs.conftest import launch, wait_for, wait_for_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The worker registers labs through LabsConfig.ready(); until it imports the LLM labs
# (one line, added when the branch is merged) the worker cannot know them.
requires_registration = pytest.mark.skipif(
    "portal.labs.llm" not in inspect.getsource(LabsConfig.ready),
    reason="LabsConfig.ready() does not import portal.labs.llm.lab yet",
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
            "dtypes": ["fp32"],
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
    # what the server produced: at most 4 tokens each, fewer where it ended at EOS
    assert 0 < point["total_output_tokens"] <= 16
    names = set(
        RunEvent.objects.filter(run=run, kind="metric").values_list("data__name", flat=True)
    )
    assert {"ttft_ms/transformers/fp32/2", "output_tok_s/transformers/fp32"} <= names
    assert set(RunArtifact.objects.filter(run=run).values_list("name", flat=True)) == {
        "llm-serving-report.md",
        "llm-serving-report.json",
    }
    body = api.get(f"/api/runs/{run_id}").json()
    assert body["result"]["points"][0]["output_throughput"] > 0
    assert Run.objects.get(pk=run_id).progress == 1.0


@requires_registration
def test_a_deployment_run_stays_up_for_the_answerer_until_cancelled(
    api, owner_client, celery_worker_process
):
    from portal.labs.llm.deploy import DEPLOYMENT_TABLE, active_deployment, active_deployment_url

    run_id = launch(api, "llm-deploy", {"model": "tiny-random", "check_interval_s": 1})

    def serving_row():
        event = (
            RunEvent.objects.filter(run_id=run_id, kind="table", data__name=DEPLOYMENT_TABLE)
            .order_by("-seq")
            .first()
        )
        return event.data["rows"][0] if event else None

    row = wait_for(serving_row, timeout=120, what="the deployment's URL")
    assert Run.objects.get(pk=run_id).status == RunStatus.RUNNING
    owner = Run.objects.get(pk=run_id).owner
    deployment = active_deployment(user=owner, check=True)
    assert deployment is not None and deployment.run_id == run_id
    assert deployment.base_url == row["url"] == active_deployment_url(user=owner)
    reply = httpx.post(
        f"{deployment.base_url}/chat/completions",
        json={
            "model": deployment.model,
            "messages": [{"role": "user", "content": "What is a systolic array?"}],
            "max_tokens": 4,
        },
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["usage"]["completion_tokens"] >= 1
    # the run page shows where it serves
    assert row["url"] in owner_client.get(f"/labs/runs/{run_id}/").content.decode()

    assert api.post(f"/api/runs/{run_id}/cancel").status_code == 200
    run = wait_for_status(run_id, {"succeeded", "failed", "cancelled", "lost"}, timeout=60)
    assert run.status == RunStatus.CANCELLED, run.error
    assert run.result["ended"] == "cancelled" and run.result["url"] == row["url"]
    assert active_deployment(user=owner) is None
    status = Path(f"/proc/{row['pid']}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{row['url']}/models", timeout=2)
