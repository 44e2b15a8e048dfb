"""Kernel submissions through the real pipeline: API, a real Celery worker, the sandbox, events."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from portal.labs.kernels.grading import sandbox
from portal.labs.kernels.models import Submission
from portal.labs.models import RunEvent, RunStatus
from tests.conftest import child_env, start_worker, stop_process
from tests.labs.conftest import wait_for_status

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sandbox.probe()[0], reason="bubblewrap cannot run here"),
]

GOOD = "def custom_kernel(data):\n    a, b = data\n    return a + b\n"
SYNTAX = "import torch\n\ndef custom_kernel(data)\n    return data[0]\n"


@pytest.fixture
def grading_worker(tmp_path) -> Iterator[None]:
    """A worker whose grader times only the eager baseline (torch.compile's CPU build is slow)."""
    env = {**child_env(), "KERNELS_GRADING_BASELINES": "eager", "KERNELS_GRADING_WALL_S": "120"}
    proc = start_worker(
        queues="cpu,gpu", name=f"grade-{os.getpid()}@{socket.gethostname()}",
        log_path=tmp_path / "worker.log", env=env,
    )  # fmt: skip
    yield
    stop_process(proc)


def submit(api, source: str) -> dict:
    body = {"problem": "vector_add", "dtype": "float32", "language": "pytorch", "source": source}
    response = api.post("/api/kernels/submissions", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_submissions_are_graded_streamed_and_ranked(api, owner, grading_worker):
    good = submit(api, GOOD)
    bad = submit(api, SYNTAX)

    run = wait_for_status(good["run_id"], {"succeeded", "failed", "lost"}, timeout=300)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["verdict"] == "passed", run.result["message"]
    logs = [
        e.data.get("text", "") for e in RunEvent.objects.filter(run=run, kind="log").order_by("seq")
    ]
    stages = [line.split("]")[0].strip("[") for line in logs if line.startswith("[")]
    for stage in ("sandbox", "compile", "correctness", "baselines", "timing", "verdict"):
        assert stage in stages, stages
    assert stages.index("sandbox") < stages.index("compile") < stages.index("correctness")
    assert RunEvent.objects.filter(run=run, kind="table").exists()

    submission = Submission.objects.get(pk=good["id"])
    assert submission.verdict == "passed" and submission.score_ms > 0
    assert submission.device == "cpu" and submission.result["baselines"]["eager"] > 0

    failed = wait_for_status(bad["run_id"], {"succeeded", "failed", "lost"}, timeout=300)
    assert failed.result["verdict"] == "failed: compile"
    assert failed.result["line"] == 3
    assert Submission.objects.get(pk=bad["id"]).verdict == "failed: compile"

    board = api.get("/api/kernels/leaderboard?problem=vector_add&device=cpu").json()
    mine = [r for r in board["rows"] if not r["reference"]]
    assert [(r["username"], r["run_id"]) for r in mine] == [(owner.username, good["run_id"])]
    assert any(r["reference"] and r["username"] == "PyTorch eager" for r in board["rows"])
