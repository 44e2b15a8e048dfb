from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.core.htmx import HtmxHttpRequest
from portal.labs.kernels import querysets
from portal.labs.kernels.engine.catalog import IMPL_INFO, KERNEL_INFO, SAFEGUARDS
from portal.labs.kernels.models import Sweep


def _selected_sweep(request: HtmxHttpRequest, sweeps: list[Sweep]) -> Sweep | None:
    raw = request.GET.get("sweep")
    if not raw:
        return sweeps[0] if sweeps else None
    if not raw.isdigit():
        raise Http404("no such sweep")
    try:
        return Sweep.objects.visible_to(request.user).get(pk=int(raw))
    except Sweep.DoesNotExist as exc:
        raise Http404("no such sweep") from exc


@require_GET
@login_required
def index(request: HtmxHttpRequest) -> HttpResponse:
    """The suite, its safeguards, and the latest sweep's table and roofline."""
    sweeps = querysets.latest_sweeps(request.user)
    sweep = _selected_sweep(request, sweeps)
    context = {
        "sweeps": sweeps,
        "sweep": sweep,
        "measurements": querysets.measurements(sweep) if sweep else [],
        "chart": querysets.chart_payload(sweep) if sweep else None,
        "safeguards": [(key, _(title), _(text)) for key, title, text in SAFEGUARDS],
        "kernels": [(n, _(t), _(s), b, f) for n, t, s, b, f in KERNEL_INFO],
        "impls": [(n, _(t), _(s)) for n, t, s in IMPL_INFO],
    }
    template = "kernels/index.html#results" if request.htmx else "kernels/index.html"
    return render(request, template, context)
