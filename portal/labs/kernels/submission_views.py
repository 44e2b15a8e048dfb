"""Pages for kernel submissions: the form, my submissions, one submission, the leaderboard,
and the staff review of flagged submissions."""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from portal.labs.kernels import querysets, submission_services
from portal.labs.kernels.forms import SubmissionForm
from portal.labs.kernels.grading.checks import CHECKS
from portal.labs.kernels.models import Submission
from portal.labs.services import TooManyActiveRuns


def _get_submission_for_user(request: HttpRequest, pk: int) -> Submission:
    submission = (
        Submission.objects.owned_by(request.user).select_related("run").filter(pk=pk).first()
    )
    if submission is None:
        raise Http404("no such submission")
    return submission


def _starter(problem: str, language: str) -> tuple[str, str]:
    """(signature, template) of a problem, from the torch-free catalog."""
    from portal.labs.kernels.grading.catalog import SPECS

    p = SPECS.get(problem) or SPECS["softmax"]
    return p.signature, p.template(
        language if language in Submission.Language.values else "pytorch"
    )


@require_http_methods(["GET", "POST"])
@login_required
def submit(request: HttpRequest) -> HttpResponse:
    """Choose a problem, dtype and language; start from the template; paste or upload; submit."""
    status = HTTPStatus.OK
    if request.method == "POST":
        form = SubmissionForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                submission = submission_services.submit_kernel(
                    user=request.user, problem=data["problem"], dtype=data["dtype"],
                    language=data["language"], source=data["source"],
                )  # fmt: skip
            except TooManyActiveRuns as exc:
                form.add_error(None, exc.detail)
                status = HTTPStatus.TOO_MANY_REQUESTS
            else:
                return redirect("kernels:submission", submission.pk)
        else:
            status = HTTPStatus.BAD_REQUEST
        problem, language = (
            form.data.get("problem", "softmax"),
            form.data.get("language", "pytorch"),
        )
    else:
        problem = request.GET.get("problem", "softmax")
        language = request.GET.get("language", "pytorch")
        if problem not in Submission.Problem.values:
            problem = "softmax"
        signature, template = _starter(problem, language)
        form = SubmissionForm(
            initial={
                "problem": problem,
                "language": language,
                "dtype": "float32",
                "source": template,
            }
        )
    signature, _template = _starter(problem, language)
    context = {"form": form, "signature": signature, "problem": problem, "language": language,
               "checks": [(c.title, c.explanation) for c in CHECKS.values()]}  # fmt: skip
    return render(request, "kernels/submit.html", context, status=status)


@require_GET
@login_required
def submissions(request: HttpRequest) -> HttpResponse:
    """My submissions, newest first."""
    mine = Submission.objects.owned_by(request.user).select_related("run")[:200]
    return render(request, "kernels/submissions.html", {"submissions": mine})


@require_GET
@login_required
def submission(request: HttpRequest, pk: int) -> HttpResponse:
    """One of my submissions: verdict, stages, code, and the diff against my previous one."""
    sub = _get_submission_for_user(request, pk)
    result = sub.result or {}
    reason = CHECKS.get(result.get("reason", ""))
    context = {
        "submission": sub,
        "result": result,
        "check": (_(reason.title), _(reason.explanation)) if reason else None,
        "diff": submission_services.diff_against_previous(sub),
        "previous": submission_services.previous_submission(sub),
    }
    return render(request, "kernels/submission.html", context)


@require_GET
@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    """Per problem x device x dtype: each user's best passing submission, and the baselines."""
    problem = request.GET.get("problem", "softmax")
    if problem not in Submission.Problem.values:
        raise Http404("no such problem")
    dtype = request.GET.get("dtype", "float32")
    if dtype not in Submission.Dtype.values:
        raise Http404("no such dtype")
    devices = querysets.leaderboard_devices(problem)
    device = request.GET.get("device") or (devices[0] if devices else "cpu")
    context = {
        "problem": problem, "dtype": dtype, "device": device, "devices": devices,
        "problems": Submission.Problem.choices, "dtypes": Submission.Dtype.values,
        "rows": querysets.leaderboard(problem=problem, device=device, dtype=dtype),
    }  # fmt: skip
    template = (
        "kernels/leaderboard.html#board"
        if getattr(request, "htmx", False)
        else "kernels/leaderboard.html"
    )
    return render(request, template, context)


def _staff_only(request: HttpRequest) -> None:
    # Closed unless staff: the page does not exist for anyone else.
    if not request.user.is_staff:
        raise Http404("no such page")


@require_GET
@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Staff: the submissions the grader flagged, waiting first, then those decided."""
    _staff_only(request)
    rows = Submission.objects.for_review(request.user).select_related("owner", "reviewed_by")
    pending = [s for s in rows if not s.review]
    decided = [s for s in rows if s.review][:100]
    return render(request, "kernels/review.html", {"pending": pending, "decided": decided})


@require_http_methods(["GET", "POST"])
@login_required
def review_submission(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: a flagged submission's timings, checks and code, and the decision form."""
    _staff_only(request)
    sub = (
        Submission.objects.for_review(request.user)
        .select_related("owner", "run", "reviewed_by")
        .filter(pk=pk)
        .first()
    )
    if sub is None:
        raise Http404("no flagged submission")
    error = ""
    if request.method == "POST":
        try:
            submission_services.review_submission(
                submission_id=sub.pk,
                reviewer=request.user,
                decision=request.POST.get("decision", ""),
                note=request.POST.get("note", ""),
            )
        except ValueError:  # the service names the decisions it takes
            error = _("Choose accept or reject.")
        else:
            return redirect("kernels:review")
    result = sub.result or {}
    context = {"submission": sub, "result": result, "error": error}
    return render(
        request,
        "kernels/review_submission.html",
        context,
        status=HTTPStatus.BAD_REQUEST if error else HTTPStatus.OK,
    )
