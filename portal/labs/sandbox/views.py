"""The Agent Sandbox's pages: its reward functions; its runs compare on the labs compare page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from portal.labs.sandbox.lab import LAB_ID
from portal.labs.sandbox.queries import succeeded_runs
from portal.labs.sandbox.rewards import all_rewards

# the compare page overlays this many runs at most when none were picked
DEFAULT_COMPARED = 10


@require_GET
@login_required
def compare(request: HttpRequest) -> HttpResponseRedirect:
    """The old sandbox comparison: the labs compare page with the picked runs (or the newest
    succeeded ones), which shows the same figures from the typed results."""
    ids = [int(i) for i in request.GET.getlist("run") if i.isdigit()]
    runs = succeeded_runs(request.user, ids or None)[: len(ids) or DEFAULT_COMPARED]
    query = [("lab", LAB_ID), *(("run", run.pk) for run in runs)]
    return HttpResponseRedirect(reverse("labs:compare") + "?" + urlencode(query))


@require_GET
@login_required
def rewards(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/rewards.html", {"rewards": all_rewards()})
