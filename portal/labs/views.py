from __future__ import annotations

import functools
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.htmx import HtmxHttpRequest
from portal.core.pagecache import cached_page, fresh_part
from portal.labs.api_runs import get_run_for_user
from portal.labs.compare import compare_rows
from portal.labs.forms import LabParamsForm, params_form
from portal.labs.models import EventKind, Run, RunArtifact, RunEvent, RunStatus
from portal.labs.querysets import downsampled_metrics
from portal.labs.registry import Lab, all_labs, catalogue_version, get_lab
from portal.labs.services import InvalidParams, TooManyActiveRuns, cancel_run, launch_run
from portal.labs.workers import served_queues, workers_with_devices

LOG_TAIL = 500
# The run and compare pages read at most this many points per metric series (min/max kept)
# and this many tables, whatever a run stored.
MAX_POINTS = 2000
MAX_TABLES = 50


def _get_lab(lab_id: str) -> Lab:
    lab = get_lab(lab_id)
    if lab is None:
        raise Http404("No such lab")
    return lab


def _workers_html(request: HttpRequest) -> str:
    return render_to_string(
        "labs/index.html#workers", {"workers": workers_with_devices()}, request=request
    )


@require_GET
@login_required
@cached_page(holes={"workers": _workers_html}, unless=lambda request: bool(request.htmx))
def index(request: HtmxHttpRequest) -> HttpResponse:
    """The labs, the user's latest runs and the workers with their devices' live telemetry
    (htmx polls the workers partial; a cached page renders it afresh)."""
    if request.htmx:
        return HttpResponse(_workers_html(request))
    with fresh_part():
        workers = workers_with_devices()
    runs = Run.objects.filter(owner=request.user)[:10]
    return render(
        request,
        "labs/index.html",
        {
            # The launch forms are the same for everyone: the template caches their fields
            # per language and catalogue version and builds a form only on a cache miss.
            "labs": [(lab, functools.partial(params_form, lab)) for lab in all_labs()],
            "catalogue": catalogue_version(),
            "workers": workers,
            "runs": runs,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def lab_detail(request: HttpRequest, lab_id: str) -> HttpResponse:
    """The lab's launch form (GET) and launching (POST → the new run's page)."""
    lab = _get_lab(lab_id)
    form: LabParamsForm = params_form(lab, request.POST if request.method == "POST" else None)
    status = HTTPStatus.OK
    if request.method == "POST":
        if form.is_valid():
            try:
                run = launch_run(user=request.user, lab=lab, params=form.params())
            except InvalidParams as exc:
                form.add_param_errors(exc.errors)
            except TooManyActiveRuns as exc:
                form.add_error(None, exc.detail)
                status = HTTPStatus.TOO_MANY_REQUESTS
            else:
                return redirect("labs:run", run.pk)
        if status == HTTPStatus.OK:
            status = HTTPStatus.BAD_REQUEST
    runs = Run.objects.filter(owner=request.user).for_lab(lab.id)[:20]
    return render(
        request,
        "labs/lab.html",
        {"lab": lab, "form": form, "runs": runs, "schema": lab.parameter_schema()},
        status=status,
    )


@require_GET
@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    runs = Run.objects.visible_to(request.user).select_related("owner")
    lab_id = request.GET.get("lab") or ""
    status = request.GET.get("status") or ""
    if lab_id:
        runs = runs.for_lab(lab_id)
    if status in RunStatus.values:
        runs = runs.filter(status=status)
    return render(
        request,
        "labs/runs.html",
        {
            "runs": runs[:200],
            "labs": all_labs(),
            "statuses": RunStatus.choices,
            "lab_id": lab_id,
            "status": status,
        },
    )


def _metric_series(run: Run) -> dict[str, list[list[float]]]:
    return downsampled_metrics(run.pk, max_points=MAX_POINTS)


def _log_page(run: Run, before: int | None) -> tuple[list[str], int | None]:
    """Up to LOG_TAIL log lines before seq `before` (None: the latest), and the cursor of
    the page before them (None at the start of the log)."""
    events = RunEvent.objects.filter(run=run, kind=EventKind.LOG)
    if before is not None:
        events = events.filter(seq__lt=before)
    page = list(events.order_by("-seq").values_list("seq", "data")[: LOG_TAIL + 1])
    older = page[LOG_TAIL - 1][0] if len(page) > LOG_TAIL else None
    lines = [str(data.get("text", "")) for _seq, data in reversed(page[:LOG_TAIL])]
    return lines, older


def _queues_served(request: HttpRequest) -> list[str]:
    return sorted(served_queues())  # a queued run's page says whether a worker will take it


@require_GET
@login_required
@cached_page(vary=_queues_served)
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Everything stored so far; the page's script then follows the socket from `last_seq`."""
    run = get_run_for_user(request, pk)
    # read the sequence first: whatever is stored after it arrives over the socket
    last_seq = Run.objects.filter(pk=run.pk).values_list("last_seq", flat=True).get()
    waiting = run.status == RunStatus.QUEUED and run.queue not in served_queues()
    context = {
        "run": run,
        "lab": run.lab,
        "waiting": waiting,
        "is_gpu": run.lab is not None and run.lab.device == "gpu",
        "can_cancel": not run.is_finished,
        "report_url": (
            reverse(run.lab.report_url_name, args=[run.pk])
            if run.lab is not None and run.lab.report_url_name and run.result
            else None
        ),
    }
    if request.htmx:
        return render(request, "labs/run.html#run-status", context)
    stream = {
        "run": run.pk,
        "last_seq": last_seq,
        "status": run.status,
        "socket": f"/ws/runs/{run.pk}/",
        "metrics": _metric_series(run),
        "statuses": {value: str(label) for value, label in RunStatus.choices},
        "badges": {status.value: status.badge for status in RunStatus},
        "artifact_url": reverse("labs:run_artifact", args=[run.pk, "NAME"]),
    }
    log_before = request.GET.get("log_before", "")
    log, older = _log_page(run, int(log_before) if log_before.isdigit() else None)
    context.update(
        {
            "log": log,
            "log_older": older,
            "log_paged": log_before.isdigit(),
            "tables": RunEvent.objects.filter(run=run)
            .latest_tables(limit=MAX_TABLES)
            .get(run.pk, {}),
            "artifacts": RunArtifact.objects.filter(run=run),
            "stream": stream,
        }
    )
    return render(request, "labs/run.html", context)


@require_POST
@login_required
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run_for_user(request, pk)
    if run.is_finished:
        messages.info(request, _("The run already ended."))
    else:
        cancel_run(run=run)
        messages.success(request, _("Cancel requested; the run stops within seconds."))
    return redirect("labs:run", run.pk)


@require_GET
@login_required
def run_artifact(request: HttpRequest, pk: int, name: str) -> FileResponse:
    run = get_run_for_user(request, pk)
    artifact = RunArtifact.objects.filter(run=run, name=name).first()
    if artifact is None or not artifact.file_path().is_file():
        raise Http404("No such artifact")
    return FileResponse(artifact.file_path().open("rb"), as_attachment=True, filename=artifact.name)


@require_GET
@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Runs of one lab side by side: parameters, the figures of their typed results,
    metrics overlaid (every lab; the Agent Sandbox's old comparison redirects here)."""
    ids = [int(i) for i in request.GET.getlist("run") if i.isdigit()]
    runs = list(Run.objects.visible_to(request.user).filter(pk__in=ids).order_by("pk"))
    lab_ids = {run.lab_id for run in runs}
    if len(lab_ids) > 1:
        messages.error(request, _("Pick runs of the same lab to compare them."))
        runs = []
    lab_id = next(iter(lab_ids)) if len(lab_ids) == 1 else request.GET.get("lab", "")
    candidates = (
        Run.objects.visible_to(request.user).for_lab(lab_id)[:50] if lab_id else Run.objects.none()
    )
    param_rows, result_rows = compare_rows(runs)
    return render(
        request,
        "labs/compare.html",
        {
            "runs": runs,
            "lab": get_lab(lab_id) if lab_id else None,
            "labs": all_labs(),
            "candidates": candidates,
            "selected": {run.pk for run in runs},
            "param_rows": param_rows,
            "result_rows": result_rows,
            "compare_data": {
                "runs": [
                    {"id": run.pk, "label": f"#{run.pk}", "metrics": _metric_series(run)}
                    for run in runs
                ]
            },
        },
    )
