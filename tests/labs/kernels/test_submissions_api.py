"""The kernel submissions API: problems, submit, my submissions, leaderboard."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from portal.core.services import issue_api_token
from portal.labs.kernels.models import Submission
from portal.labs.models import Run

GOOD = "def custom_kernel(data):\n    a, b = data\n    return a + b\n"
ENDPOINTS = [
    ("get", "/api/kernels/problems"),
    ("get", "/api/kernels/submissions"),
    ("post", "/api/kernels/submissions"),
    ("get", "/api/kernels/leaderboard?problem=softmax"),
]


@pytest.fixture
def other_api(other_user) -> Client:
    return Client(
        headers={"Authorization": f"Bearer {issue_api_token(user=other_user, name='t')[1]}"}
    )


def submit(client: Client, **overrides):
    body = {"problem": "vector_add", "dtype": "float32", "language": "pytorch", "source": GOOD}
    body.update(overrides)
    return client.post("/api/kernels/submissions", body, content_type="application/json")


def graded(owner, *, score, verdict="passed", device="cpu", dtype="float32", flagged=False,
           problem="softmax", baselines=None):  # fmt: skip
    return Submission.objects.create(
        owner=owner, problem=problem, dtype=dtype, language="pytorch", source=GOOD,
        verdict=verdict, score_ms=score if verdict == "passed" else None, device=device,
        flagged=flagged, result={"baselines": baselines or {}},
    )  # fmt: skip


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_requests_are_refused(db, method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_problems_carry_signatures_templates_shapes_and_tolerances(api):
    body = api.get("/api/kernels/problems").json()
    assert [p["name"] for p in body] == [
        "vector_add", "softmax", "layer_norm", "matmul", "attention",
    ]  # fmt: skip
    softmax = body[1]
    assert "custom_kernel" in softmax["signature"]
    assert set(softmax["templates"]) == {"pytorch", "triton", "cpp"}
    assert "def custom_kernel(data)" in softmax["templates"]["pytorch"]
    assert "load_inline" in softmax["templates"]["cpp"]
    assert softmax["tolerances"]["bfloat16"]["rtol"] > softmax["tolerances"]["float32"]["rtol"]
    assert softmax["test_shapes"] and softmax["bench_shapes"]["gpu"]


def test_a_submission_is_stored_with_its_grading_run(api, owner):
    response = submit(api)
    assert response.status_code == HTTPStatus.CREATED, response.content
    body = response.json()
    submission = Submission.objects.get(pk=body["id"])
    assert submission.owner == owner and submission.source == GOOD
    assert body["run_id"] == submission.run_id
    run = Run.objects.get(pk=body["run_id"])
    assert run.owner == owner and run.lab_id == "kernel-submission"
    assert run.params == {"submission_id": submission.pk}
    assert body["verdict"] == ""


def test_a_source_over_1_mb_is_413_and_nothing_is_stored(api):
    response = submit(api, source="# pad\n" * 200_000)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "1,000,000" in response.json()["detail"]
    assert not Submission.objects.exists() and not Run.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [{"problem": "fft"}, {"dtype": "int8"}, {"language": "rust"}, {"source": ""}],
)
def test_bad_fields_are_422_and_nothing_is_stored(api, overrides):
    assert submit(api, **overrides).status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert not Submission.objects.exists()


def test_my_submissions_list_only_mine(api, other_api):
    mine = submit(api).json()["id"]
    submit(other_api)
    listed = api.get("/api/kernels/submissions").json()
    assert [s["id"] for s in listed] == [mine]


def test_another_users_submission_is_404(api, other_api):
    theirs = submit(other_api).json()["id"]
    assert api.get(f"/api/kernels/submissions/{theirs}").status_code == HTTPStatus.NOT_FOUND
    mine = submit(api).json()["id"]
    assert api.get(f"/api/kernels/submissions/{mine}").json()["source"] == GOOD


def test_the_leaderboard_ranks_each_users_best_passing_submission(api, owner, other_user, staff):
    graded(owner, score=3.0)
    graded(owner, score=2.0, baselines={"eager": 4.0, "compiled": 3.5})
    graded(owner, score=0.1, verdict="failed: correctness")
    graded(other_user, score=2.5)
    graded(staff, score=0.5, flagged=True)  # waits for review: not ranked
    graded(staff, score=1.0, device="NVIDIA H200")  # another device
    graded(staff, score=1.0, dtype="bfloat16")  # another dtype
    body = api.get("/api/kernels/leaderboard?problem=softmax&device=cpu&dtype=float32").json()
    users = [r for r in body["rows"] if not r["reference"]]
    assert [(r["rank"], r["username"], r["score_ms"]) for r in users] == [
        (1, owner.username, 2.0),
        (2, other_user.username, 2.5),
    ]
    refs = [(r["username"], r["score_ms"]) for r in body["rows"] if r["reference"]]
    assert refs == [("torch.compile", 3.5), ("PyTorch eager", 4.0)]
    assert set(body["devices"]) == {"cpu", "NVIDIA H200"}
    assert all("run_id" in r for r in body["rows"])


def test_an_unknown_problem_on_the_leaderboard_is_404(api):
    response = api.get("/api/kernels/leaderboard?problem=fft")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_wrong_methods_are_refused(api):
    assert api.delete("/api/kernels/submissions").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert api.post("/api/kernels/problems").status_code == HTTPStatus.METHOD_NOT_ALLOWED
