from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.core.htmx import HtmxHttpRequest
from portal.labs.hal.peaks import KNOWN_CHIPS
from portal.labs.hal.queries import local_devices, local_unavailable, workers_with_telemetry


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
    return render(request, "hal/chips.html", {"chips": KNOWN_CHIPS})
