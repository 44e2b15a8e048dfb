"""The performance report pages of finished `llm-quant` and `llm-serving` runs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.labs.api_runs import get_run_for_user
from portal.labs.llm.pages import report_for
from portal.labs.models import RunArtifact

REPORT_LABS = {
    "llm-quant": ("llm/report_quant.html", "llm-quant-report"),
    "llm-serving": ("llm/report_serving.html", "llm-serving-report"),
}


@require_GET
@login_required
def report(request: HttpRequest, pk: int) -> HttpResponse:
    """Tables (no JavaScript needed), charts and the Markdown/JSON downloads of one run.

    Owner or staff only (others get 404, as for the run page).
    """
    run = get_run_for_user(request, pk)
    if run.lab_id not in REPORT_LABS:
        raise Http404("No report for this lab")
    template, stem = REPORT_LABS[run.lab_id]
    result = run.typed_result
    names = {f"{stem}.md": "markdown", f"{stem}.json": "json"}
    downloads = {
        names[a.name]: a.name for a in RunArtifact.objects.filter(run=run, name__in=list(names))
    }
    context = {
        "run": run,
        "lab": run.lab,
        "result": result,
        "report": report_for(result) if result else None,
        "downloads": downloads,
    }
    return render(request, template, context)
