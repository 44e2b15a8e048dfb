"""Writes for kernel submissions: submit (a Submission and its grading run), record a grade,
review a flagged one."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from portal.labs.kernels.models import Submission
from portal.labs.services import launch_run

if TYPE_CHECKING:
    from portal.labs.kernels.submission_lab import SubmissionResult

# Sources above this are refused with 413 before anything is stored.
MAX_SOURCE_BYTES = 1_000_000


class SourceTooLarge(Exception):
    pass


def submit_kernel(
    *, user: AbstractBaseUser, problem: str, dtype: str, language: str, source: str
) -> Submission:
    """Store the submission and launch its grading run (enqueued after commit).

    Preconditions: problem, dtype and language were validated by the schema. Raises
    SourceTooLarge, or the labs platform's TooManyActiveRuns (nothing is stored then).
    """
    from portal.labs.kernels.submission_lab import SUBMISSION_LAB

    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise SourceTooLarge(f"the source is over {MAX_SOURCE_BYTES:,} bytes")
    with transaction.atomic():
        submission = Submission.objects.create(
            owner=user, problem=problem, dtype=dtype, language=language, source=source
        )
        run = launch_run(user=user, lab=SUBMISSION_LAB, params={"submission_id": submission.pk})
        submission.run = run
        submission.save(update_fields=["run"])
    return submission


def submission_for_run(*, submission_id: int, run_id: int | None) -> Submission:
    """The submission a grading run was launched for; a run launched by hand for someone
    else's submission finds nothing."""
    submission = Submission.objects.select_related("run").get(pk=submission_id, run_id=run_id)
    if submission.run is None or submission.run.owner_id != submission.owner_id:
        raise Submission.DoesNotExist(
            f"run {run_id} was not launched for submission {submission_id}"
        )
    return submission


def record_grade(*, submission: Submission, result: SubmissionResult) -> Submission:
    submission.verdict = result.verdict[:80]
    submission.score_ms = result.score_ms if result.verdict == Submission.PASSED else None
    submission.flagged = result.flagged
    submission.device = result.device[:120]
    submission.result = result.model_dump(mode="json")
    submission.graded_at = timezone.now()
    submission.save(
        update_fields=["verdict", "score_ms", "flagged", "device", "result", "graded_at"]
    )
    return submission


def previous_submission(submission: Submission) -> Submission | None:
    """The same owner's submission for the same problem just before this one."""
    return (
        Submission.objects.filter(
            owner_id=submission.owner_id,
            problem=submission.problem,
            created_at__lte=submission.created_at,
        )
        .exclude(pk=submission.pk)
        .filter(id__lt=submission.pk)
        .order_by("-created_at", "-id")
        .first()
    )


def diff_against_previous(submission: Submission) -> str:
    previous = previous_submission(submission)
    if previous is None:
        return ""
    return "".join(
        difflib.unified_diff(
            previous.source.splitlines(keepends=True),
            submission.source.splitlines(keepends=True),
            fromfile=f"submission {previous.pk}",
            tofile=f"submission {submission.pk}",
        )
    )


class NotUnderReview(Exception):
    """The submission was never flagged: there is nothing to review."""


def review_submission(
    *, submission_id: int, reviewer: Any, decision: str, note: str = ""
) -> Submission:
    """Staff decide on a flagged submission: `accept` ranks it (the speed is genuine),
    `reject` keeps it off the leaderboard. A decision can be changed later.

    Raises Submission.DoesNotExist for anything the reviewer may not review, NotUnderReview
    for a submission the grader did not flag."""
    if decision not in {"accept", "reject"}:
        raise ValueError(f"decision must be accept or reject, not {decision!r}")
    if not getattr(reviewer, "is_staff", False):
        raise Submission.DoesNotExist
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if not Submission.objects.for_review(reviewer).filter(pk=submission.pk).exists():
            raise NotUnderReview(f"submission {submission_id} was not flagged for review")
        accepted = decision == "accept"
        submission.flagged = not accepted
        submission.review = Submission.Review.ACCEPTED if accepted else Submission.Review.REJECTED
        submission.review_note = note.strip()[:500]
        submission.reviewed_by = reviewer
        submission.reviewed_at = timezone.now()
        submission.save(
            update_fields=["flagged", "review", "review_note", "reviewed_by", "reviewed_at"]
        )
    return submission
