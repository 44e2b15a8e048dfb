from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from portal.core.htmx import HtmxHttpRequest
from portal.labs.hal.peaks import KNOWN_CHIPS
from portal.labs.hal.queries import (
    local_devices,
    local_unavailable,
    sandbox_runs,
    workers_with_telemetry,
)
from portal.labs.hal.sandbox.rewards import all_rewards


@require_GET
@login_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "devices": local_devices(),
        "unavailable": local_unavailable(),
        "workers": workers_with_telemetry(),
    }
    template = "hal/index.html#telemetry" if request.htmx else "hal/index.html"
    return render(request, template, context)


@require_GET
@login_required
def chips(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "hal/chips.html", {"chips": KNOWN_CHIPS, "rewards": all_rewards()})


@require_GET
@login_required
def compare(request: HtmxHttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.GET.getlist("run") if i.isdigit()]
    rows = sandbox_runs(request.user, ids or None)
    chart = [
        {
            "label": f"#{r['id']} {r['env_id']} · {r['device']}",
            "steps_per_s": r["steps_per_s"],
            "eval": r["eval_mean_reward"],
        }
        for r in rows
    ]
    # the same runs on the labs compare page: reward and telemetry curves overlaid
    curves = (
        reverse("labs:compare") + "?" + urlencode([("run", r["id"]) for r in rows[:10]])
        if len(rows) > 1
        else None
    )
    return render(request, "hal/compare.html", {"rows": rows, "chart": chart, "curves": curves})
