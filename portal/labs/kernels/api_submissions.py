"""Kernel submissions: problems, submit, my submissions, leaderboard (/api/kernels/...)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from portal.core.schemas import ErrorOut
from portal.labs.kernels import querysets, submission_services
from portal.labs.kernels.models import Submission
from portal.labs.kernels.schemas import (
    LeaderboardOut,
    ProblemOut,
    ReviewIn,
    ReviewOut,
    SubmissionDetailOut,
    SubmissionIn,
    SubmissionOut,
)
from portal.labs.services import TooManyActiveRuns

router = Router()


def problem_catalog() -> list[dict[str, Any]]:
    # the torch-free catalog: a web process never imports torch
    from portal.labs.kernels.grading.catalog import LANGUAGES, SPECS

    return [
        {
            "name": p.name,
            "title": p.title,
            "signature": p.signature,
            "shape_names": list(p.shape_names),
            "test_shapes": [list(s) for s in p.test_shapes],
            "bench_shapes": {
                "cpu": [list(s) for s in p.bench_shapes_cpu],
                "gpu": [list(s) for s in p.bench_shapes_gpu],
            },
            "dtypes": list(p.dtypes),
            "tolerances": {
                d: dict(zip(("atol", "rtol"), p.tolerance(d), strict=True)) for d in p.dtypes
            },
            "languages": list(LANGUAGES),
            "templates": {lang: p.template(lang) for lang in LANGUAGES},
            "week": p.week,
        }
        for p in SPECS.values()
    ]


@router.get("/problems", response=list[ProblemOut])
def problems(request: HttpRequest):
    """The graded problems: signatures, starter templates, shapes and tolerances."""
    return problem_catalog()


@router.post(
    "/submissions",
    response={201: SubmissionOut, 413: ErrorOut, 429: ErrorOut},
)
def submit(request: HttpRequest, payload: SubmissionIn):
    """Submit a kernel: 201 with its id and the run_id of its grading run (the run's result
    carries `verdict`); 413 over 1 MB of source; 429 past your active-run limit."""
    try:
        submission = submission_services.submit_kernel(
            user=request.user,
            problem=payload.problem,
            dtype=payload.dtype,
            language=payload.language,
            source=payload.source,
        )
    except submission_services.SourceTooLarge as exc:
        return Status(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": str(exc)})
    except TooManyActiveRuns as exc:
        return Status(HTTPStatus.TOO_MANY_REQUESTS, {"detail": exc.detail})
    return Status(HTTPStatus.CREATED, submission)


@router.get("/submissions", response=list[SubmissionOut])
def my_submissions(request: HttpRequest, problem: str = "", limit: int = 50):
    """My submissions, newest first."""
    qs = Submission.objects.owned_by(request.user)
    if problem:
        qs = qs.filter(problem=problem)
    return list(qs[: max(1, min(limit, 200))])


@router.get("/submissions/{submission_id}", response={200: SubmissionDetailOut, 404: ErrorOut})
def my_submission(request: HttpRequest, submission_id: int):
    """One of my submissions with its source and grading result."""
    submission = Submission.objects.owned_by(request.user).filter(pk=submission_id).first()
    if submission is None:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"no submission {submission_id}"})
    return submission


@router.get("/leaderboard", response={200: LeaderboardOut, 404: ErrorOut})
def leaderboard(request: HttpRequest, problem: str, device: str = "", dtype: str = "float32"):
    """Each user's best passing submission for problem x device x dtype, fastest first, with
    the PyTorch baselines as reference rows. device defaults to the first with entries."""
    if problem not in Submission.Problem.values:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"no problem {problem!r}"})
    devices = querysets.leaderboard_devices(problem)
    device = device or (devices[0] if devices else "cpu")
    rows = querysets.leaderboard(problem=problem, device=device, dtype=dtype)
    return {"problem": problem, "device": device, "dtype": dtype, "devices": devices, "rows": rows}


@router.get("/review", response={200: list[ReviewOut], 404: ErrorOut})
def review_queue(request: HttpRequest, pending: bool = True):
    """Staff only (404 for anyone else): submissions the grader flagged (more than 10x faster
    than the best reference), with their code; `pending=false` adds those already decided."""
    if not request.user.is_staff:
        return Status(HTTPStatus.NOT_FOUND, {"detail": "Not Found"})
    qs = Submission.objects.for_review(request.user).select_related("owner")
    if pending:
        qs = qs.filter(review="")
    return list(qs[:200])


@router.post(
    "/submissions/{submission_id}/review",
    response={200: ReviewOut, 404: ErrorOut, 409: ErrorOut},
)
def review(request: HttpRequest, submission_id: int, payload: ReviewIn):
    """Staff only: accept a flagged submission (it is ranked) or reject it (it stays off the
    leaderboard), with an optional note the learner sees. 409 when it was never flagged."""
    try:
        submission = submission_services.review_submission(
            submission_id=submission_id,
            reviewer=request.user,
            decision=payload.decision,
            note=payload.note,
        )
    except Submission.DoesNotExist:
        return Status(HTTPStatus.NOT_FOUND, {"detail": f"no submission {submission_id}"})
    except submission_services.NotUnderReview as exc:
        return Status(HTTPStatus.CONFLICT, {"detail": str(exc)})
    return submission
